package fetch

import (
	"crypto/x509"
	"net/http"
)

// TrustForTest makes c trust the certificates in pool (a test server's
// own) instead of the system's.
func TrustForTest(c *Client, pool *x509.CertPool) {
	c.http.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
}
