package sim

import "time"

// rateLimiter allows at most rate accepted requests per secretId in any window
// (now-1s, now]; rejected requests do not count. Guarded by Server.mu.
type rateLimiter struct {
	hits map[string][]time.Time // accepted arrivals in the last second, oldest first
}

// allow records an accepted request or returns how long until one would be accepted.
func (l *rateLimiter) allow(key string, rate int, now time.Time) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	h := l.hits[key]
	cut := now.Add(-time.Second)
	i := 0
	for i < len(h) && !h[i].After(cut) {
		i++
	}
	h = h[i:]
	if len(h) < rate {
		l.hits[key] = append(h, now)
		return true, 0
	}
	l.hits[key] = h
	return false, h[len(h)-rate].Add(time.Second).Sub(now)
}
