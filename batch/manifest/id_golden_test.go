package manifest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/singbatch/singbatch/batch"
)

// Golden values of encoding v1. Ids and stored specs live in Redis for as long as a
// batch does: a change here re-identifies every id-less item already enqueued (and a
// re-enqueued manifest would pay for its items twice). Change only with a migration.
var goldenIDsV1 = []struct{ line, id string }{
	{`{"kind":"song","url":"https://h/a.mp3","contentId":"r"}`, "k-f8034ca12fcc3c01"},
	{`{"kind":"song","url":"https://h/a.mp3","contentId":"r","model":"m2"}`, "k-68254a543143930e"},
	{`{"kind":"song","url":"https://h/a.mp3","contentId":"r","separate":true}`, "k-5cbb6b20224ccb53"},
	{`{"kind":"song","url":"https://h/a.mp3","contentId":"r","outputPrefix":"p"}`, "k-f88ed1a35e75c6a9"},
	{`{"kind":"song","url":"https://h/a.mp3","contentId":"r","destination":"/d"}`, "k-2de4ac09c1e2488d"},
	{`{"kind":"song","url":"https://h/a.mp3","contentId":"r","timeout":60}`, "k-0f817fe9c7a11dc0"},
	{`{"kind":"song","text":"la la","contentId":"r"}`, "k-ed9aea975b9b49d5"},
	{`{"kind":"song","source":{"contentId":"c","path":"/p.mp3"},"contentId":"r"}`, "k-49f668583ab57182"},
	{`{"kind":"train","urls":["https://h/a.mp3"],"model":"m"}`, "k-d65a54e3ffdcb1a8"},
	{`{"kind":"train","urls":["https://h/a.mp3"],"model":"m","epochs":31,"timeout":600}`, "k-a0f7d1267f6fb646"},
	{`{"kind":"train","urls":["https://h/b.mp3","https://h/a.mp3"],"model":"m"}`, "k-a41094f8be6543c8"},
	{`{"kind":"train","inputs":[{"url":"https://h/a.mp3"},{"text":"t"},{"source":{"contentId":"c","path":"/x"}}],"model":"m"}`, "k-c65abdba6300b05a"},
}

var goldenStoredV1 = []struct{ line, stored string }{
	{`{"kind":"song","source":{"contentId":"c","path":"/p.mp3"},"contentId":"r","separate":true,"outputPrefix":"p","timeout":60}`,
		`{"inputs":[{"source":{"contentId":"c","path":"/p.mp3"}}],"outputs":[{"contentId":"r","destination":"/singbatch/k-cde62a540603dfdd","inputSelectors":[0],"smartContentDescriptor":{"outputPrefix":"p","singingCloning":{"type":1,"modelName":"default","useSeparate":2}}}],"timeout":60}`},
	{`{"kind":"train","inputs":[{"url":"https://h/a.mp3"},{"text":"t"},{"source":{"contentId":"c","path":"/x"}}],"model":"m","epochs":31}`,
		`{"inputs":[{"url":"https://h/a.mp3"},{"sourceData":"t"},{"source":{"contentId":"c","path":"/x"}}],"outputs":[{"inputSelectors":[0,1,2],"smartContentDescriptor":{"singingCloning":{"type":2,"totalEpoch":31,"modelName":"m"}}}]}`},
}

func TestDerivedIDsV1AreFrozen(t *testing.T) {
	t.Parallel()
	for _, g := range goldenIDsV1 {
		if got := deriveFromLine(t, g.line, FormatJSONL); got != g.id {
			t.Errorf("%s: id %s, want %s", g.line, got, g.id)
		}
	}
}

func TestStoredSpecV1IsFrozenAndReadsBack(t *testing.T) {
	t.Parallel()
	for _, g := range goldenStoredV1 {
		it := itemFromLine(t, g.line)
		b, err := batch.EncodeSpec(it.Kind, it.Model, it.Spec)
		if err != nil || string(b) != g.stored {
			t.Errorf("%s:\nstored %s (%v)\nwant   %s", g.line, b, err, g.stored)
		}
		back, err := batch.DecodeSpec([]byte(g.stored))
		if err != nil || !reflect.DeepEqual(back, it.Spec) {
			t.Errorf("%s: read back %+v (%v), want %+v", g.line, back, err, it.Spec)
		}
		// The worker's wire request says what v1 says: same JSON, the attempt's fields aside.
		wire, err := json.Marshal(it.Spec.Request(it.Kind, it.Model))
		if err != nil || string(wire) != g.stored {
			t.Errorf("%s: wire request %s, want %s", g.line, wire, g.stored)
		}
	}
}
