package wallpaper

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// ErrBadCursor is a cursor that was not made by us for this list.
var ErrBadCursor = failure.New(failure.Invalid, "invalid_request", "cursor is malformed or was not issued for this list")

// List says which listing a cursor belongs to, so a cursor from one list is
// refused by another.
type List byte

// The paginated lists.
const (
	ListFeed List = iota + 1
	ListMyWallpapers
	ListMyGenerations
)

// Cursor is a position in a newest-first keyset listing: the last item seen.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

const (
	cursorVersion = 1
	cursorMACLen  = 12
	cursorLen     = 2 + 8 + 16 // version, list, microseconds, id
)

// CursorCodec makes opaque, tamper-evident cursors: the position, signed
// with HMAC-SHA256 so a client can neither forge nor alter one.
type CursorCodec struct {
	key []byte
}

// NewCursorCodec returns a codec signing with key (derive it from a secret).
func NewCursorCodec(key []byte) CursorCodec { return CursorCodec{key: key} }

// Encode returns the opaque form of c for list.
func (cc CursorCodec) Encode(list List, c Cursor) string {
	buf := make([]byte, cursorLen, cursorLen+cursorMACLen)
	buf[0], buf[1] = cursorVersion, byte(list)
	binary.BigEndian.PutUint64(buf[2:10], uint64(c.CreatedAt.UnixMicro()))
	copy(buf[10:26], c.ID[:])
	return base64.RawURLEncoding.EncodeToString(append(buf, cc.mac(buf)...))
}

// Decode checks and parses a cursor for list; "" means the first page.
func (cc CursorCodec) Decode(list List, s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	// The exact length, because the decoder skips \r and \n, and Strict
	// because it would otherwise ignore the last character's spare bits:
	// either way several strings would decode to one cursor.
	if len(s) != base64.RawURLEncoding.EncodedLen(cursorLen+cursorMACLen) {
		return nil, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != cursorLen+cursorMACLen {
		return nil, ErrBadCursor
	}
	body, sig := raw[:cursorLen], raw[cursorLen:]
	if !hmac.Equal(sig, cc.mac(body)) || body[0] != cursorVersion || List(body[1]) != list {
		return nil, ErrBadCursor
	}
	id, err := uuid.FromBytes(body[10:26])
	if err != nil {
		return nil, ErrBadCursor
	}
	micros := int64(binary.BigEndian.Uint64(body[2:10]))
	return &Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: id}, nil
}

func (cc CursorCodec) mac(b []byte) []byte {
	h := hmac.New(sha256.New, cc.key)
	h.Write(b)
	return h.Sum(nil)[:cursorMACLen]
}

// Page is one page of a newest-first listing; Next is "" on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// Page limits.
const (
	DefaultLimit = 20
	MaxLimit     = 50
)

// ErrBadLimit is a page size outside 1..MaxLimit.
var ErrBadLimit = failure.New(failure.Invalid, "invalid_request", "limit must be between 1 and 50")

// CheckLimit checks a requested page size.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return ErrBadLimit
	}
	return nil
}
