package failure

import "time"

// ErrUnavailable is a dependency that cannot serve right now (the database
// lost its connection, a transaction must be retried): the request may
// succeed if tried again shortly. Adapters return it; it is a 503.
var ErrUnavailable = &Error{Kind: Unavailable, Code: "unavailable",
	Message: "the service is briefly unavailable, try again", RetryAfter: time.Second}
