package upstream_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/singbatch/singbatch/upstream"
)

// Many calls at once keep their connections: the next round of as many calls opens
// none (Go's default transport keeps 2, and would dial, and with TLS handshake, again).
func TestClientKeepsConnectionsOfConcurrentCalls(t *testing.T) {
	t.Parallel()
	const calls = 40
	var arrived sync.WaitGroup
	var dialed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait() // every call of a round is open at once
		reply(http.StatusOK, jobReply("job-1"))(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	b := setupClient(t, reply(http.StatusOK, ""), func(o *upstream.Options) { o.BaseURL = srv.URL })
	round := func() {
		arrived.Add(calls)
		var done sync.WaitGroup
		for range calls {
			done.Go(func() {
				if _, err := b.client.GetJob(t.Context(), "job-1"); err != nil {
					t.Error(err)
				}
			})
		}
		done.Wait()
	}
	round()
	first := dialed.Load()
	round()
	if again := dialed.Load() - first; first != calls || again != 0 {
		t.Errorf("connections opened: %d in the first round of %d calls, %d in the second; want %d and 0", first, calls, again, calls)
	}
}
