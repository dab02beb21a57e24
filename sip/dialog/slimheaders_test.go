package dialog

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every header the tracker asks a message for by name is one the slim
// copy keeps (readHeader): a header read here and dropped there would be
// silently missing. The package's code is read for calls of GetHeader and
// GetHeaders; a name that is not a string literal must come from ranging
// over a list of literals in the same function.
func TestTrackerReadsOnlyKeptHeaders(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			// The strings each range variable of this function takes.
			ranged := map[string][]ast.Expr{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if r, ok := n.(*ast.RangeStmt); ok {
					if v, ok := r.Value.(*ast.Ident); ok {
						if lit, ok := r.X.(*ast.CompositeLit); ok {
							ranged[v.Name] = lit.Elts
						}
					}
				}
				return true
			})
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "GetHeader" && sel.Sel.Name != "GetHeaders") {
					return true
				}
				calls++
				names := []ast.Expr{call.Args[0]}
				if id, ok := call.Args[0].(*ast.Ident); ok {
					if names = ranged[id.Name]; names == nil {
						t.Errorf("%s: %s(%s): cannot tell which header it reads", fset.Position(call.Pos()), sel.Sel.Name, id.Name)
						return true
					}
				}
				for _, e := range names {
					lit, ok := e.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s: %s of a name that is not a string literal", fset.Position(e.Pos()), sel.Sel.Name)
						continue
					}
					h, _ := strconv.Unquote(lit.Value)
					if !readHeader(strings.ToLower(h)) {
						t.Errorf("%s: the tracker reads %s, which the slim copy drops: add it to readHeader", fset.Position(e.Pos()), h)
					}
				}
				return true
			})
		}
	}
	if calls == 0 {
		t.Error("no GetHeader or GetHeaders call found: the test reads the wrong files")
	}
}
