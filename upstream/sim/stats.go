package sim

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// Outcome classifies one API call in Stats.
type Outcome string

// Outcomes of a call.
const (
	OutcomeOK        Outcome = "ok"
	OutcomeInvalid   Outcome = "400"
	OutcomeAuth      Outcome = "401"
	OutcomeNotFound  Outcome = "404"
	OutcomeThrottled Outcome = "429"
	OutcomeInternal  Outcome = "500"
	OutcomeHung      Outcome = "hung" // the hang fault held the reply
	OutcomeLost      Outcome = "lost" // the lost-response fault dropped the connection
	actionUnknown            = "unknown"
)

// Stats is a snapshot of what the simulator has seen. It holds no secrets.
type Stats struct {
	// Requests is the number of API requests (not /sim/ ones).
	Requests int `json:"requests"`
	// Calls counts calls per action ("unknown" for unreadable or unknown actions) and
	// outcome.
	Calls map[string]map[Outcome]int `json:"calls"`
	// Throttled is the number of 429 replies.
	Throttled int `json:"throttled"`
	// MaxRequestsPerSecond is the most requests that arrived within any half-open
	// window [t, t+1s).
	MaxRequestsPerSecond int `json:"maxRequestsPerSecond"`
	// JobsCreated counts stored jobs, including those whose response was lost.
	JobsCreated int `json:"jobsCreated"`
	// JobsByState counts jobs by their state now ("SUBMITTED", "COMPLETED", ...).
	JobsByState map[string]int `json:"jobsByState"`
	// JobsByCustomID counts jobs per non-empty customId.
	JobsByCustomID map[string]int `json:"jobsByCustomId"`
	// PaidTwice lists, sorted, the customIds under which one request (the same inputs
	// and outputs) created more than one job: paid for twice. Several jobs of different
	// requests may share a customId on purpose (grouped customIds).
	PaidTwice []string `json:"paidTwice"`
	// Callbacks counts callback deliveries.
	Callbacks CallbackStats `json:"callbacks"`
}

// CallbackStats counts callbacks: Delivered and Failed count POSTs (a duplicated
// callback makes two); Dropped, Duplicated and Delayed count injected faults.
type CallbackStats struct {
	Delivered  int `json:"delivered"`
	Failed     int `json:"failed"`
	Dropped    int `json:"dropped"`
	Duplicated int `json:"duplicated"`
	Delayed    int `json:"delayed"`
}

// Count returns Calls[action][outcome].
func (s Stats) Count(action string, o Outcome) int { return s.Calls[action][o] }

// DuplicateCustomIDs lists, sorted, the customIds that have more than one job.
func (s Stats) DuplicateCustomIDs() []string {
	var ids []string
	for id, n := range s.JobsByCustomID {
		if n > 1 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// statsState is the live counters behind Stats. Guarded by Server.mu.
type statsState struct {
	requests    int
	calls       map[string]map[Outcome]int
	throttled   int
	arrivals    []time.Time // arrivals in the last second, oldest first
	maxInSecond int
	keep        bool        // Options.KeepArrivals
	history     []time.Time // every arrival, when keep
	jobsCreated int
	byCustom    map[string]int
	callbacks   CallbackStats
}

func newStatsState(keepArrivals bool) statsState {
	return statsState{calls: map[string]map[Outcome]int{}, byCustom: map[string]int{}, keep: keepArrivals}
}

// arrive records a request arriving at now. For the window [a, a+1s) starting at an
// earlier arrival a to hold now, a > now-1s; the busiest window starts at an arrival.
func (st *statsState) arrive(now time.Time) {
	st.requests++
	if st.keep {
		st.history = append(st.history, now)
	}
	cut := now.Add(-time.Second)
	i := 0
	for i < len(st.arrivals) && !st.arrivals[i].After(cut) {
		i++
	}
	st.arrivals = append(st.arrivals[i:], now)
	st.maxInSecond = max(st.maxInSecond, len(st.arrivals))
}

func (st *statsState) call(action string, o Outcome) {
	m := st.calls[action]
	if m == nil {
		m = map[Outcome]int{}
		st.calls[action] = m
	}
	m[o]++
	if o == OutcomeThrottled {
		st.throttled++
	}
}

func (st *statsState) jobCreated(customID string) {
	st.jobsCreated++
	if customID != "" {
		st.byCustom[customID]++
	}
}

// Arrivals returns the arrival time of every API request so far, oldest first, when
// Options.KeepArrivals is set (else none).
func (s *Server) Arrivals() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stats.history)
}

// Stats returns a snapshot; jobs are brought up to date first.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceAllLocked(now)
	st := Stats{
		Requests:             s.stats.requests,
		Calls:                map[string]map[Outcome]int{},
		Throttled:            s.stats.throttled,
		MaxRequestsPerSecond: s.stats.maxInSecond,
		JobsCreated:          s.stats.jobsCreated,
		JobsByState:          map[string]int{},
		JobsByCustomID:       maps.Clone(s.stats.byCustom),
		Callbacks:            s.stats.callbacks,
	}
	for a, m := range s.stats.calls {
		st.Calls[a] = maps.Clone(m)
	}
	seen := map[string]int{}
	for _, j := range s.order {
		st.JobsByState[s.stateLocked(j, now).String()]++
		if j.customID != "" {
			req, _ := json.Marshal([]any{j.inputs, j.outputs}) // strings, ints, slices: always encodes
			if seen[j.customID+"\x00"+string(req)]++; seen[j.customID+"\x00"+string(req)] == 2 {
				st.PaidTwice = append(st.PaidTwice, j.customID)
			}
		}
	}
	slices.Sort(st.PaidTwice)
	return st
}

// stateLocked is j's state at now (j already advanced).
func (s *Server) stateLocked(j *job, now time.Time) upstream.JobState {
	switch {
	case j.final:
		return j.state
	case !now.Before(j.startAt):
		return upstream.StateProcessing
	}
	return upstream.StateSubmitted
}
