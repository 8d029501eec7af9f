package wallpaper

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

func TestNormalizePrompt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		kind failure.Kind
		code string
	}{
		{"trimmed", "  a lake \n", "a lake", 0, ""},
		{"newlines and tabs kept inside", "line one\n\tline two", "line one\n\tline two", 0, ""},
		{"1000 runes of CJK", strings.Repeat("山", 1000), strings.Repeat("山", 1000), 0, ""},
		{"empty", "", "", failure.Invalid, "invalid_request"},
		{"only spaces", " \n\t ", "", failure.Invalid, "invalid_request"},
		{"1001 runes", strings.Repeat("山", 1001), "", failure.Invalid, "invalid_request"},
		{"bell character", "a\x07b", "", failure.Invalid, "invalid_request"},
		{"NUL", "a\x00b", "", failure.Invalid, "invalid_request"},
		{"invalid UTF-8", "a\xffb", "", failure.Invalid, "invalid_request"},
		{"blocked term, any case", "A Terrorist Attack", "", failure.Rejected, "prompt_rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePrompt(tt.in)
			if tt.code == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizePrompt = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			fe := failure.From(err)
			if fe == nil || fe.Kind != tt.kind || fe.Code != tt.code {
				t.Fatalf("NormalizePrompt error = %v, want kind %d code %s", err, tt.kind, tt.code)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{}
	if err := o.Validate(); err != nil || o != (Options{SizePortrait, StyleVivid, QualityStandard}) {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	for _, bad := range []Options{
		{Size: "1024x1536"}, {Size: "1024X1792"}, {Style: "Vivid"}, {Style: "anime"}, {Quality: "high"},
	} {
		if err := bad.Validate(); failure.From(err) == nil || failure.From(err).Kind != failure.Invalid {
			t.Errorf("%+v accepted (err %v)", bad, err)
		}
	}
	for _, good := range []Options{{SizeLandscape, StyleNatural, QualityHD}, {SizeSquare, StyleVivid, QualityStandard}} {
		if err := good.Validate(); err != nil {
			t.Errorf("%+v refused: %v", good, err)
		}
	}
}

func TestQuotaPolicyDays(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	p := QuotaPolicy{DailyLimit: 10, Location: shanghai}
	tests := []struct {
		name    string
		now     time.Time
		day     string
		resetAt time.Time
	}{
		// 15:59 UTC is 23:59 in Shanghai: still the 23rd there.
		{"just before Shanghai midnight", time.Date(2026, 11, 23, 15, 59, 0, 0, time.UTC), "2026-11-23", time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)},
		// 16:00 UTC is midnight in Shanghai: a new day.
		{"at Shanghai midnight", time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC), "2026-11-24", time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC)},
		{"new year", time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), "2027-01-01", time.Date(2027, 1, 1, 16, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Day(tt.now).Format(time.DateOnly); got != tt.day {
				t.Errorf("Day = %s, want %s", got, tt.day)
			}
			if got := p.ResetsAt(tt.now); !got.Equal(tt.resetAt) {
				t.Errorf("ResetsAt = %s, want %s", got.UTC(), tt.resetAt)
			}
		})
	}
}

func TestIdempotencyKeyAndRequestHash(t *testing.T) {
	for _, k := range []string{"", "abc-123", strings.Repeat("k", 255)} {
		if err := checkIdempotencyKey(k); err != nil {
			t.Errorf("key %q refused: %v", k, err)
		}
	}
	for _, k := range []string{"has space", "tab\t", "é", strings.Repeat("k", 256)} {
		if err := checkIdempotencyKey(k); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	a := requestHash("p", Options{SizePortrait, StyleVivid, QualityStandard}, requestExtras{public: true})
	if string(a) != string(requestHash("p", Options{SizePortrait, StyleVivid, QualityStandard}, requestExtras{public: true})) {
		t.Error("the same request hashes differently")
	}
	// A request from before the public option hashed without it: with the
	// default it must still replay.
	before := sha256.Sum256([]byte("p\x00" + SizePortrait + "\x00" + StyleVivid + "\x00" + QualityStandard))
	if string(a) != string(before[:]) {
		t.Error("the default public option changes the hash of an older request")
	}
	for _, other := range [][]byte{
		requestHash("q", Options{SizePortrait, StyleVivid, QualityStandard}, requestExtras{public: true}),
		requestHash("p", Options{SizeSquare, StyleVivid, QualityStandard}, requestExtras{public: true}),
		requestHash("p", Options{SizePortrait, StyleNatural, QualityStandard}, requestExtras{public: true}),
		requestHash("p", Options{SizePortrait, StyleVivid, QualityHD}, requestExtras{public: true}),
		requestHash("p", Options{SizePortrait, StyleVivid, QualityStandard}, requestExtras{public: false}),
		requestHash("p", Options{SizePortrait, StyleVivid, QualityStandard}, requestExtras{public: true, preset: "oil"}),
		requestHash("p", Options{SizePortrait, StyleVivid, QualityStandard}, requestExtras{public: true, notify: true}),
	} {
		if string(a) == string(other) {
			t.Error("different requests hash alike")
		}
	}
	if !errors.Is(ErrIdempotencyConflict.With("x", nil), ErrIdempotencyConflict) {
		t.Error("a sentinel with details no longer matches errors.Is")
	}
}
