package imagegen

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sizeRules are the size rules each family's documentation gives, as
// quoted in docs/providers.md.
var sizeRules = map[string]func(w, h int) error{
	"openai/dall-e-3":    oneOf("1024x1024", "1792x1024", "1024x1792"),
	"openai/gpt-image-1": oneOf("1024x1024", "1536x1024", "1024x1536"),
	"openai/gpt-image-2": func(w, h int) error {
		return all(multipleOf(w, h, 16), sideAtMost(w, h, 3840), ratioAtMost(w, h, 3), pixelsWithin(w, h, 655_360, 8_294_400))
	},
	// Seedream 4.0's range starts at 1280x720, 4.5's and 5.0's at 2560x1440.
	"ark/seedream": func(w, h int) error {
		return all(pixelsWithin(w, h, 2560*1440, 4096*4096), ratioAtMost(w, h, 16))
	},
	"zhipu/cogview": func(w, h int) error {
		// CogView-4's custom rule, and glm-image's.
		return all(sideWithin(w, h, 512, 2048), multipleOf(w, h, 16), pixelsWithin(w, h, 0, 1<<21),
			sideWithin(w, h, 1024, 2048), multipleOf(w, h, 32), pixelsWithin(w, h, 0, 1<<22))
	},
	"siliconflow/qwen-image": oneOf("1328x1328", "1664x928", "928x1664", "1472x1140", "1140x1472", "1584x1056", "1056x1584"),
}

// TestSizeTablesMatchTheDoc: docs/providers.md shows every size table the
// code uses, exactly, and each size satisfies its family's documented
// rule and keeps the product size's orientation.
func TestSizeTablesMatchTheDoc(t *testing.T) {
	doc := docTables(t)
	if got, want := slices.Sorted(maps.Keys(doc)), slices.Sorted(maps.Keys(sizeTables)); !slices.Equal(got, want) {
		t.Fatalf("docs/providers.md has size tables %v, the code %v", got, want)
	}
	for family, table := range sizeTables {
		if !maps.Equal(doc[family], map[string]string(table)) {
			t.Errorf("%s: docs/providers.md says %v, the code %v", family, doc[family], table)
		}
		rule := sizeRules[family]
		if rule == nil {
			t.Errorf("%s: no documented size rule in sizeRules", family)
			continue
		}
		for product, sent := range table {
			pw, ph := mustSize(t, product)
			w, h := mustSize(t, sent)
			if err := rule(w, h); err != nil {
				t.Errorf("%s: %s breaks the provider's rule: %v", family, sent, err)
			}
			if (w > h) != (pw > ph) || (w < h) != (pw < ph) {
				t.Errorf("%s: %s goes out as %s, another orientation", family, product, sent)
			}
		}
	}
}

// docTables reads the tables under `<!-- sizes: family -->` markers:
// product size → sent size.
func docTables(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open("../../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	var family string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "<!-- sizes:"); ok {
			family = strings.TrimSpace(strings.TrimSuffix(rest, "-->"))
			out[family] = map[string]string{}
			continue
		}
		if family == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(out[family]) > 0 || line != "" {
				family = "" // the table ended
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		product, sent := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])
		if _, _, err := parseSize(product); err != nil || !strings.Contains(product, "x") {
			continue // the header and its rule
		}
		out[family][product] = sent
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustSize(t *testing.T, s string) (int, int) {
	t.Helper()
	ws, hs, _ := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil {
		t.Fatalf("%q is not WxH", s)
	}
	return w, h
}

func all(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func oneOf(sizes ...string) func(w, h int) error {
	return func(w, h int) error {
		if !slices.Contains(sizes, fmt.Sprintf("%dx%d", w, h)) {
			return fmt.Errorf("%dx%d is not one of %v", w, h, sizes)
		}
		return nil
	}
}

func multipleOf(w, h, n int) error {
	if w%n != 0 || h%n != 0 {
		return fmt.Errorf("%dx%d: sides not multiples of %d", w, h, n)
	}
	return nil
}

func sideAtMost(w, h, n int) error {
	if max(w, h) > n {
		return fmt.Errorf("%dx%d: a side over %d", w, h, n)
	}
	return nil
}

func sideWithin(w, h, lo, hi int) error {
	if min(w, h) < lo || max(w, h) > hi {
		return fmt.Errorf("%dx%d: a side outside %d–%d", w, h, lo, hi)
	}
	return nil
}

func ratioAtMost(w, h, r int) error {
	if max(w, h) > r*min(w, h) {
		return fmt.Errorf("%dx%d: more than %d:1", w, h, r)
	}
	return nil
}

func pixelsWithin(w, h, lo, hi int) error {
	if w*h < lo || w*h > hi {
		return fmt.Errorf("%dx%d: %d pixels outside %d–%d", w, h, w*h, lo, hi)
	}
	return nil
}
