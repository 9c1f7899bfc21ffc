package main

import "testing"

// TestChaosShort runs CI's profile: 150 items through every fault at once (three
// worker processes, kills, a SIGTERM, a Redis restart, throttling bursts, lost and
// hung replies, dropped, duplicated, late and forged callbacks). Everything must end
// final, as the service has it, with nothing paid twice and no forged result kept.
// It asserts outcomes, not times.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run: skipped with -short")
	}
	p := shortProfile()
	p.Log = testWriter{t}
	res, err := execute(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	report := markdown(p, res, []string{"-short"})
	t.Log("\n" + report)
	if !res.clean() {
		t.Errorf("the chaos run missed a target:\n%s", report)
	}
	if res.Kills != p.Kills || res.RedisRestarts != 1 || res.SIGTERMs != 1 || res.ThrottleBursts != 2 || res.ForgedSent != p.Forged {
		t.Errorf("not every process fault was applied: %+v", res)
	}
	for name, n := range map[string]int{"lost CreateJob answers": res.LostCreates, "hung replies": res.Hung,
		"500s": res.InternalErrors, "callbacks dropped": res.CallbacksDropped, "callbacks duplicated": res.CallbacksDuplicated,
		"callbacks late": res.CallbacksDelayed, "callbacks delivered": res.CallbacksDelivered} {
		if n == 0 {
			t.Errorf("the run met no %s", name)
		}
	}
}

// testWriter sends progress lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
