package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TinyGo builds the filter (make filter), and this machine may not have it.
// This test keeps the filter and every project package it imports inside
// what TinyGo's wasi target and a proxy-wasm host handle: no reflection-based
// encoding, no formatting machinery, no network or OS access, no goroutines
// or channels (the host runs one callback at a time, -scheduler=none).
const modulePath = "github.com/spendgate/spendgate"

var forbiddenImports = map[string]string{
	"encoding/json": "reflection-based; use gjson to read and event.AppendJSON to write",
	"encoding/xml":  "reflection-based",
	"reflect":       "TinyGo's reflection is partial",
	"fmt":           "pulls in reflection; use strconv and string concatenation",
	"log":           "use proxywasm.Log* in the filter; the core does not log",
	"log/slog":      "use proxywasm.Log* in the filter; the core does not log",
	"net":           "no sockets in a proxy-wasm VM: use DispatchHttpCall",
	"net/http":      "no sockets in a proxy-wasm VM: use DispatchHttpCall",
	"os":            "no OS in a proxy-wasm VM",
	"os/exec":       "no OS in a proxy-wasm VM",
	"sync":          "the VM is single-threaded: no locks needed",
	"regexp":        "slow and large under TinyGo",
	"context":       "no goroutines to cancel",
	"database/sql":  "no I/O in the data plane",
}

// Third-party packages the filter may use.
var thirdPartyAllowList = []string{
	"github.com/tidwall/gjson",
	"github.com/tetratelabs/proxy-wasm-go-sdk/",
}

func TestFilterStaysTinyGoSafe(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	visited := map[string]bool{}
	var problems []string
	var walk func(pkg string)
	walk = func(pkg string) {
		if visited[pkg] {
			return
		}
		visited[pkg] = true
		dir := filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(pkg, modulePath), "/"))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			problems = append(problems, pkg+": no Go files found in "+dir)
			return
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			rel, _ := filepath.Rel(root, f)
			for _, imp := range file.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				switch {
				case forbiddenImports[path] != "":
					problems = append(problems, rel+" imports "+path+": "+forbiddenImports[path])
				case strings.HasPrefix(path, modulePath+"/"):
					walk(path)
				case strings.Contains(strings.SplitN(path, "/", 2)[0], "."):
					if !allowedThirdParty(path) {
						problems = append(problems, rel+" imports "+path+", which is not known to build with TinyGo")
					}
				}
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch n.(type) {
				case *ast.GoStmt:
					problems = append(problems, fset.Position(n.Pos()).String()+": go statement (no goroutines with -scheduler=none)")
				case *ast.ChanType, *ast.SelectStmt:
					problems = append(problems, fset.Position(n.Pos()).String()+": channels need goroutines")
				}
				return true
			})
		}
	}
	wd, _ := os.Getwd()
	if filepath.Base(wd) != "filter" {
		t.Fatalf("run from the filter package, not %s", wd)
	}
	walk(modulePath + "/filter")
	var pkgs []string
	for p := range visited {
		pkgs = append(pkgs, strings.TrimPrefix(p, modulePath+"/"))
	}
	sort.Strings(pkgs)
	t.Logf("checked %s", strings.Join(pkgs, ", "))
	// The metering core must be among them, or the walk went wrong.
	for _, want := range []string{"meter", "event", "policy", "usage", "money", "filter/wasmplugin", "dataplane", "dataplane/contract"} {
		if !visited[modulePath+"/"+want] {
			t.Errorf("%s not reached from the filter's imports", want)
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func allowedThirdParty(path string) bool {
	for _, a := range thirdPartyAllowList {
		if path == a || strings.HasSuffix(a, "/") && strings.HasPrefix(path, a) {
			return true
		}
	}
	return false
}

// TestFilterModuleFile: TinyGo 0.33 runs with Go 1.23, which cannot read the
// project's go.mod, so make filter builds with filter/tinygo.mod (go 1.23,
// only the filter's requirements). Building the filter with that module
// file here proves it lists everything the filter imports, at versions
// go.sum vouches for, and that the filter's whole import closure compiles
// at language version go1.23 (the go directive sets -lang for every package
// of the module).
func TestFilterModuleFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the filter")
	}
	mod, err := os.ReadFile("tinygo.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "\ngo 1.23\n") {
		t.Fatalf("filter/tinygo.mod must say go 1.23 (TinyGo 0.33's Go):\n%s", mod)
	}
	// Every requirement at the version the project's go.mod uses.
	main, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.Contains(f[0], ".") || strings.HasPrefix(f[0], "module") {
			continue
		}
		if !strings.Contains(string(main), "\t"+f[0]+" "+f[1]) {
			t.Errorf("filter/tinygo.mod requires %s %s; go.mod has another version (or none)", f[0], f[1])
		}
	}
	cmd := exec.Command("go", "build", "-modfile=filter/tinygo.mod", "-o", os.DevNull, "./filter")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the filter does not build with filter/tinygo.mod: %v\n%s", err, out)
	}
}
