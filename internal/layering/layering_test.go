package layering

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/singbatch/singbatch/"

// layers, lowest first: a package may import its own layer and the ones below, never one
// above. The longest matching prefix decides; bench and examples are tools on top.
var layers = []struct {
	prefix string
	rank   int
}{
	{"internal/", 0},
	{"internal/testkit", 3}, // tests' world: the store, the simulator, the limiter
	{"upstream", 1},
	{"batch", 2},
	{"tasks", 3},
	{"cmd/", 4},
	{"bench", 5},
	{"examples/", 5},
}

func rankOf(pkg string) (int, bool) {
	best, rank := -1, 0
	for _, l := range layers {
		if strings.HasPrefix(pkg, l.prefix) && len(l.prefix) > best {
			best, rank = len(l.prefix), l.rank
		}
	}
	return rank, best >= 0
}

func TestImportsPointDown(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-test", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		from := strings.TrimPrefix(fields[0], module)
		if i := strings.IndexAny(from, " ["); i >= 0 || strings.HasSuffix(from, ".test") {
			continue // the test binaries' synthetic packages
		}
		from = strings.TrimSuffix(from, "_test")
		fromRank, ok := rankOf(from)
		if !ok {
			t.Errorf("package %s is in no layer: add it to layers", from)
			continue
		}
		for _, imp := range fields[1:] {
			to, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			checked++
			if toRank, _ := rankOf(to); toRank > fromRank {
				t.Errorf("%s imports %s, which is above it", from, to)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no import of the module's own packages was checked")
	}
}
