package wallpaper_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

var testCodec = wallpaper.NewCursorCodec([]byte("cursor-test-key-cursor-test-key!"))

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		list wallpaper.List
		c    wallpaper.Cursor
	}{
		{name: "feed", list: wallpaper.ListFeed, c: wallpaper.Cursor{CreatedAt: time.Date(2026, 11, 23, 8, 0, 0, 123456000, time.UTC), ID: uuid.New()}},
		{name: "my wallpapers", list: wallpaper.ListMyWallpapers, c: wallpaper.Cursor{CreatedAt: time.Now().UTC().Truncate(time.Microsecond), ID: uuid.New()}},
		{name: "my generations", list: wallpaper.ListMyGenerations, c: wallpaper.Cursor{CreatedAt: time.Unix(0, 0).UTC(), ID: uuid.Nil}},
		{name: "before 1970", list: wallpaper.ListFeed, c: wallpaper.Cursor{CreatedAt: time.Date(1960, 1, 1, 0, 0, 0, 1000, time.UTC), ID: uuid.New()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testCodec.Encode(tt.list, tt.c)
			if len(s) > 64 || strings.ContainsAny(s, "+/=") {
				t.Fatalf("cursor %q is not short URL-safe base64", s)
			}
			got, err := testCodec.Decode(tt.list, s)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !got.CreatedAt.Equal(tt.c.CreatedAt) || got.ID != tt.c.ID {
				t.Fatalf("Decode = %+v; want %+v", got, tt.c)
			}
		})
	}
}

func TestCursorEmptyIsFirstPage(t *testing.T) {
	t.Parallel()
	c, err := testCodec.Decode(wallpaper.ListFeed, "")
	if c != nil || err != nil {
		t.Fatalf("Decode(\"\") = %v, %v; want nil, nil", c, err)
	}
}

func TestCursorNanosecondsAreDropped(t *testing.T) {
	t.Parallel()
	// Postgres keeps microseconds; a cursor carries exactly what it keeps.
	at := time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)
	got, err := testCodec.Decode(wallpaper.ListFeed, testCodec.Encode(wallpaper.ListFeed, wallpaper.Cursor{CreatedAt: at, ID: uuid.New()}))
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Microsecond); !got.CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v; want %v", got.CreatedAt, want)
	}
}

func TestCursorEveryByteFlippedIsRejected(t *testing.T) {
	t.Parallel()
	s := testCodec.Encode(wallpaper.ListFeed, wallpaper.Cursor{CreatedAt: time.Now(), ID: uuid.New()})
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for bit := range 8 {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if c, err := testCodec.Decode(wallpaper.ListFeed, base64.RawURLEncoding.EncodeToString(b)); !errors.Is(err, wallpaper.ErrBadCursor) {
				t.Fatalf("byte %d bit %d flipped: Decode = %v, %v; want ErrBadCursor", i, bit, c, err)
			}
		}
	}
	// The text too: every other character in every position, including
	// the ones differing only in the padding bits of the last character.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. "
	for i := range s {
		for _, r := range alphabet {
			if byte(r) == s[i] {
				continue
			}
			alt := s[:i] + string(r) + s[i+1:]
			if c, err := testCodec.Decode(wallpaper.ListFeed, alt); !errors.Is(err, wallpaper.ErrBadCursor) {
				t.Fatalf("character %d changed to %q: Decode(%q) = %v, %v; want ErrBadCursor", i, r, alt, c, err)
			}
		}
	}
}

func TestCursorRejected(t *testing.T) {
	t.Parallel()
	pos := wallpaper.Cursor{CreatedAt: time.Now(), ID: uuid.New()}
	feed := testCodec.Encode(wallpaper.ListFeed, pos)
	other := wallpaper.NewCursorCodec([]byte("another-key-another-key-another!"))
	tests := []struct {
		name   string
		list   wallpaper.List
		cursor string
	}{
		{name: "a cursor of another list", list: wallpaper.ListMyWallpapers, cursor: feed},
		{name: "the feed's cursor for generations", list: wallpaper.ListMyGenerations, cursor: feed},
		{name: "signed with another key", list: wallpaper.ListFeed, cursor: other.Encode(wallpaper.ListFeed, pos)},
		{name: "truncated", list: wallpaper.ListFeed, cursor: feed[:len(feed)-1]},
		{name: "extended", list: wallpaper.ListFeed, cursor: feed + "A"},
		{name: "padded", list: wallpaper.ListFeed, cursor: feed + "="},
		{name: "a newline inside", list: wallpaper.ListFeed, cursor: feed[:10] + "\n" + feed[10:]},
		{name: "a newline instead of a character", list: wallpaper.ListFeed, cursor: feed[:10] + "\n" + feed[11:]},
		{name: "standard base64", list: wallpaper.ListFeed, cursor: base64.StdEncoding.EncodeToString(mustRaw(t, feed))},
		{name: "not base64", list: wallpaper.ListFeed, cursor: "!!!!"},
		{name: "too long", list: wallpaper.ListFeed, cursor: strings.Repeat("A", 65)},
		{name: "very long", list: wallpaper.ListFeed, cursor: strings.Repeat(feed, 1000)},
		{name: "a plain offset", list: wallpaper.ListFeed, cursor: "20"},
		{name: "only the signature", list: wallpaper.ListFeed, cursor: feed[len(feed)-16:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := testCodec.Decode(tt.list, tt.cursor); !errors.Is(err, wallpaper.ErrBadCursor) {
				t.Fatalf("Decode(%q) = %v, %v; want ErrBadCursor", tt.cursor, c, err)
			}
		})
	}
}

func mustRaw(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		limit int
		ok    bool
	}{{-1, false}, {0, false}, {1, true}, {20, true}, {50, true}, {51, false}, {1 << 30, false}} {
		if err := wallpaper.CheckLimit(tt.limit); (err == nil) != tt.ok || (err != nil && !errors.Is(err, wallpaper.ErrBadLimit)) {
			t.Errorf("CheckLimit(%d) = %v; want ok %v", tt.limit, err, tt.ok)
		}
	}
}

// FuzzCursorDecode: Decode never panics, and whatever it accepts is a
// cursor this codec made: encoding it again gives the same string.
func FuzzCursorDecode(f *testing.F) {
	for _, s := range []string{
		"",
		testCodec.Encode(wallpaper.ListFeed, wallpaper.Cursor{CreatedAt: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), ID: uuid.MustParse("7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d")}),
		testCodec.Encode(wallpaper.ListMyWallpapers, wallpaper.Cursor{CreatedAt: time.Unix(0, 0), ID: uuid.Nil}),
		"AQFnXzQ2AAAAAH08Gy",
		"!!!!",
	} {
		f.Add(byte(wallpaper.ListFeed), s)
	}
	f.Fuzz(func(t *testing.T, list byte, s string) {
		c, err := testCodec.Decode(wallpaper.List(list), s)
		if err != nil {
			if !errors.Is(err, wallpaper.ErrBadCursor) || c != nil {
				t.Fatalf("Decode(%q) = %v, %v; want nil, ErrBadCursor", s, c, err)
			}
			return
		}
		if s == "" {
			if c != nil {
				t.Fatalf("Decode(\"\") = %v; want nil", c)
			}
			return
		}
		if again := testCodec.Encode(wallpaper.List(list), *c); again != s {
			t.Fatalf("Decode(%q) accepted a cursor that encodes to %q", s, again)
		}
	})
}
