package auth

import (
	"errors"
	"regexp"
)

// DevCodePrefix starts a dev login code: dev-NAME logs in as openid
// dev:NAME, in dev mode without WeChat credentials only.
const DevCodePrefix = "dev-"

// devNames are short and plain so that a dev openid can never collide with
// a real one (WeChat openids have no colon).
var devNames = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// DevOpenID returns the openid of the dev user NAME.
func DevOpenID(name string) (string, error) {
	if !devNames.MatchString(name) {
		return "", ErrInvalidCode.With("a dev login code is dev-NAME, NAME being 1-32 letters, digits, '_', '.' or '-'", errors.New("bad dev name"))
	}
	return "dev:" + name, nil
}
