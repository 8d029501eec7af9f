package wallpaper_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// FuzzNormalizePrompt: whatever comes in, NormalizePrompt never panics, a
// refusal is a 400 or a 422 (never an internal error), and an accepted
// prompt is valid UTF-8, 1..1000 runes, trimmed, free of control
// characters but newline and tab, and stable when normalized again.
func FuzzNormalizePrompt(f *testing.F) {
	for _, s := range []string{
		"a lighthouse at dusk, watercolor",
		"  padded  ",
		"",
		"   ",
		"line one\nline two\ttabbed",
		"bell\a",
		"nul\x00byte",
		"\xff\xfeinvalid",
		"\u202eright-to-left override",
		"中文提示词：山水画",
		"emoji 🌄🌅",
		strings.Repeat("é", 1000),
		strings.Repeat("é", 1001),
		"'; DROP TABLE generations; --",
		"CSAM",
		"\u0085next line",
		"\u00a0no-break spaces\u00a0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := wallpaper.NormalizePrompt(in)
		if err != nil {
			fe := failure.From(err)
			if fe == nil || (fe.Kind != failure.Invalid && fe.Kind != failure.Rejected) {
				t.Fatalf("NormalizePrompt(%q) refused with %v, not a 400/422", in, err)
			}
			if out != "" {
				t.Fatalf("NormalizePrompt(%q) returned %q with an error", in, out)
			}
			return
		}
		if !utf8.ValidString(out) {
			t.Fatalf("accepted %q: not UTF-8", out)
		}
		if n := utf8.RuneCountInString(out); n < wallpaper.MinPromptRunes || n > wallpaper.MaxPromptRunes {
			t.Fatalf("accepted %q: %d runes", out, n)
		}
		for _, r := range out {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				t.Fatalf("accepted %q: control character %U", out, r)
			}
		}
		if strings.TrimSpace(out) != out {
			t.Fatalf("accepted %q: not trimmed", out)
		}
		again, err := wallpaper.NormalizePrompt(out)
		if err != nil || again != out {
			t.Fatalf("normalizing %q again gave %q, %v", out, again, err)
		}
		if errors.Is(err, wallpaper.ErrPromptRejected) {
			t.Fatal("unreachable")
		}
	})
}
