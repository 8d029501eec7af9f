package httpapi_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// passThroughs are the places that set a generation's failure code from a
// value that is not a constant: each carries a code born elsewhere (and
// found there by the scan). A new one fails the test until it is looked
// at and added here.
var passThroughs = []string{
	"internal/imagegen/upstream.go: code",     // failure(code, …): its callers pass the constants
	"internal/postgres/generations.go: *code", // read back from the database
	"internal/wallpaper/painter.go: ie.Code",  // an ImageError's code, born in imagegen or the painter
}

// TestGenerationFailureCodesAreDocumented: the codes a generation can
// fail with (GenerationError.code) are exactly the enum docs/swagger.json
// gives them, so that a code the server starts using cannot reach a client
// without the client's tests knowing it (miniprogram/test/messages.test.js
// reads the enum). The codes are found in the Go sources, where they are
// born: the Code of every wallpaper.Failure and wallpaper.ImageError
// literal, and the code imagegen's failure(code, …) is called with; a
// constant is followed to its value.
func TestGenerationFailureCodesAreDocumented(t *testing.T) {
	t.Parallel()
	found, through := bornCodes(t)
	if len(found) < 10 {
		t.Fatalf("the scan found only %d failure codes: %v", len(found), slices.Sorted(maps.Keys(found)))
	}
	slices.Sort(through)
	if want := slices.Sorted(slices.Values(passThroughs)); !slices.Equal(through, want) {
		t.Errorf("failure codes set from a non-constant value:\n  %s\nwant (passThroughs):\n  %s\n"+
			"a new one must carry codes that are set as constants somewhere the scan sees",
			strings.Join(through, "\n  "), strings.Join(want, "\n  "))
	}
	documented := generationErrorEnum(t)
	for _, code := range slices.Sorted(maps.Keys(found)) {
		if !slices.Contains(documented, code) {
			t.Errorf("failure code %q (%s) is not in GenerationError.code's enum: add it to the enums tag of "+
				"httpapi.GenerationError, run make generate, and give it Chinese text in miniprogram/utils/request.js",
				code, strings.Join(found[code], ", "))
		}
	}
	for _, code := range documented {
		if _, ok := found[code]; !ok {
			t.Errorf("GenerationError.code's enum documents %q, which no Go code sets", code)
		}
	}
}

// generationErrorEnum is the enum of GenerationError.code in
// docs/swagger.json.
func generationErrorEnum(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(testenv.Path(t, "docs", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Definitions map[string]struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	def, ok := doc.Definitions["httpapi.GenerationError"]
	if !ok {
		t.Fatal("docs/swagger.json has no httpapi.GenerationError")
	}
	return def.Properties["code"].Enum
}

// bornCodes scans the non-test Go files of cmd/ and internal/: the failure
// codes set as constants (code → where), and the places that set one from
// another value ("file: expression").
func bornCodes(t *testing.T) (map[string][]string, []string) {
	t.Helper()
	root := testenv.Path(t)
	fset := token.NewFileSet()
	type file struct {
		rel string // slash-separated, from the module root
		pkg string // its package's name
		ast *ast.File
	}
	var files []file
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			files = append(files, file{rel: filepath.ToSlash(rel), pkg: f.Name.Name, ast: f})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// consts: package name → constant name → its expression.
	consts := map[string]map[string]ast.Expr{}
	for _, f := range files {
		for _, decl := range f.ast.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if consts[f.pkg] == nil {
							consts[f.pkg] = map[string]ast.Expr{}
						}
						consts[f.pkg][name.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	// value is the string constant e stands for in package pkg.
	var value func(pkg string, e ast.Expr, depth int) (string, bool)
	value = func(pkg string, e ast.Expr, depth int) (string, bool) {
		if depth > 8 {
			return "", false
		}
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.Ident:
			if c, ok := consts[pkg][e.Name]; ok {
				return value(pkg, c, depth+1)
			}
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok {
				if c, ok := consts[x.Name][e.Sel.Name]; ok {
					return value(x.Name, c, depth+1)
				}
			}
		case *ast.ParenExpr:
			return value(pkg, e.X, depth)
		}
		return "", false
	}

	found := map[string][]string{}
	var through []string
	for _, f := range files {
		add := func(e ast.Expr) {
			if code, ok := value(f.pkg, e, 0); ok {
				found[code] = append(found[code], f.rel+":"+strconv.Itoa(fset.Position(e.Pos()).Line))
				return
			}
			through = append(through, f.rel+": "+exprString(e))
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if !isFailureType(f.pkg, n.Type) {
					return true
				}
				for _, elt := range n.Elts {
					if kv, ok := elt.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
							add(kv.Value)
						}
					}
				}
			case *ast.CallExpr:
				// imagegen's failure(code, cause) builds its providers'
				// ImageErrors.
				if fn, ok := n.Fun.(*ast.Ident); ok && f.pkg == "imagegen" && fn.Name == "failure" && len(n.Args) > 0 {
					add(n.Args[0])
				}
			}
			return true
		})
	}
	return found, through
}

// isFailureType tells whether a composite literal's type, in package pkg,
// is wallpaper.Failure or wallpaper.ImageError.
func isFailureType(pkg string, e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return pkg == "wallpaper" && (e.Name == "Failure" || e.Name == "ImageError")
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && x.Name == "wallpaper" && (e.Sel.Name == "Failure" || e.Sel.Name == "ImageError")
	}
	return false
}

// exprString prints a pass-through expression the way passThroughs names it.
func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return "?"
}
