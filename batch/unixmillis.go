package batch

import "time"

// UnixMillis is how records store an instant: Unix milliseconds, 0 for none. It is
// singbatch's own, apart from the wire's upstream.Millis, so that what Redis holds does
// not change when the contract's encoding does.
type UnixMillis int64

// UnixMillisOf converts a time; the zero time is 0.
func UnixMillisOf(t time.Time) UnixMillis {
	if t.IsZero() {
		return 0
	}
	return UnixMillis(t.UnixMilli())
}

// Time returns the instant, or the zero time for 0.
func (m UnixMillis) Time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m))
}
