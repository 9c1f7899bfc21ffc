package dashboard

import (
	"net/http"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/cmd/singbatch/internal/dashboard/dashboardtest"
	"github.com/singbatch/singbatch/upstream"
)

// Everything but the health probe asks for the credentials; with writes allowed, a
// change from another site is refused and one from the dashboard's own page goes through.
func TestDashboardAuthAndCrossSite(t *testing.T) {
	t.Parallel()
	b := dashboardtest.Seed(t)
	base := handler(t, b, true, Auth{User: dashboardtest.User, Password: upstream.NewSecret(dashboardtest.Password)}).URL
	for _, c := range []struct {
		name   string
		method string
		path   string
		creds  bool
		header map[string]string
		want   int
	}{
		{"no credentials", "GET", "/", false, nil, http.StatusUnauthorized},
		{"no credentials, Asynq UI", "GET", "/monitoring/api/queues", false, nil, http.StatusUnauthorized},
		{"no credentials, metrics", "GET", "/metrics", false, nil, http.StatusUnauthorized},
		{"probe needs none", "GET", "/healthz", false, nil, http.StatusOK},
		{"credentials", "GET", "/", true, nil, http.StatusOK},
		{"cross-site change", "POST", "/monitoring/api/queues/songs:pause", true, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site change", "POST", "/monitoring/api/queues/songs:pause", true, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign origin", "POST", "/monitoring/api/queues/songs:pause", true, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"change without credentials", "POST", "/monitoring/api/queues/songs:pause", false, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusUnauthorized},
	} {
		if got := dashboardtest.Request(t, c.method, base+c.path, c.creds, c.header); got != c.want {
			t.Errorf("%s: %s %s: HTTP %d, want %d", c.name, c.method, c.path, got, c.want)
		}
	}
	in := asynq.NewInspectorFromRedisClient(b.Redis.Client(t))
	if q, err := in.GetQueueInfo("songs"); err != nil || q.Paused {
		t.Fatalf("songs paused by a refused request (%v)", err)
	}
	// The dashboard's own page may.
	if got := dashboardtest.Request(t, "POST", base+"/monitoring/api/queues/songs:pause", true, map[string]string{"Sec-Fetch-Site": "same-origin"}); got/100 != 2 {
		t.Errorf("same-origin pause: HTTP %d", got)
	}
	if q, err := in.GetQueueInfo("songs"); err != nil || !q.Paused {
		t.Errorf("songs not paused by the dashboard's own request (%v)", err)
	}
	// Wrong password, wrong user.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/", nil)
	req.SetBasicAuth(dashboardtest.User, dashboardtest.Password+"x")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
