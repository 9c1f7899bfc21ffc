package limiter

import (
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/redistest"
)

// BenchmarkLimiterQuotaUse keeps three limiters (three processes) at UPSTREAM_RATE 20
// busy for 5 s and reports how much of the account's quota they used. Target: ≥ 95 %
// with one share idle and with both busy, while max_per_1s stays ≤ 20. Each iteration
// takes 5 s, so at the default -benchtime b.N is 1.
func BenchmarkLimiterQuotaUse(b *testing.B) {
	const rate, d = 20, 5 * time.Second
	for _, bc := range []struct {
		name    string
		actions []string
	}{
		{"submit-only", limSubmitActions},
		{"poll-only", limPollActions},
		{"both", limAllActions},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := redistest.Start(b, redistest.Options{})
			var use float64
			worst := 0
			for range b.N {
				ls := newLimiters(b, srv, 3, Options{Rate: rate})
				gs := runBacklog(b, ls, bc.actions, 4, d)
				use += limiterQuotaUse(gs, rate)
				worst = max(worst, maxGrantsInWindow(gs, time.Second))
			}
			b.ReportMetric(use/float64(b.N), "quota_use_%")
			b.ReportMetric(float64(worst), "max_per_1s")
		})
	}
}
