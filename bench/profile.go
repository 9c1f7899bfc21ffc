package main

import (
	"fmt"
	"time"
)

// profile is how big each section's run is. Durations are the simulator's defaults
// (a 3-minute song is about 46 s at the service), time-scaled by TimeScale.
type profile struct {
	name      string
	timeScale float64 // simulated → real time
	rate      int     // UPSTREAM_RATE and the simulator's limit, req/s

	// Modes: songs, trainings of epochs epochs and songs on their models, run by
	// modeProcs processes.
	songs, trainings, songsOnModels int
	epochs                          int
	modeProcs                       int
	naivePoll                       time.Duration // the naive way's fixed interval, simulated

	// Quota: a backlog of quotaSongs songs at rate with each of quotaProcs, and
	// fastSongs at fastRate with fastProcs.
	quotaSongs int
	quotaProcs []int
	fastRate   int
	fastSongs  int
	fastProcs  int

	enqueueLines  int // manifest lines of the enqueue section
	overheadJobs  int // instant jobs of the overhead section
	sectionTimout time.Duration

	only     string // run only the sections whose names contain it
	onlyMode string // run only the modes whose names contain it (no report)
}

func profileNamed(name string) (profile, error) {
	switch name {
	case "full":
		// At time scale 0.25 and 20 requests/s, the account can make 230 calls while a
		// 3-minute song is made, as it can at the service's 5/s in real time.
		return profile{name: name, timeScale: 0.25, rate: 20,
			songs: 700, trainings: 10, epochs: 1, songsOnModels: 90, modeProcs: 4, naivePoll: 5 * time.Second,
			quotaSongs: 600, quotaProcs: []int{1, 4, 8}, fastRate: 200, fastSongs: 3000, fastProcs: 8,
			enqueueLines: 1_000_000, overheadJobs: 10000, sectionTimout: 10 * time.Minute}, nil
	case "short":
		return profile{name: name, timeScale: 0.02, rate: 20,
			songs: 20, trainings: 1, epochs: 1, songsOnModels: 4, modeProcs: 2, naivePoll: 5 * time.Second,
			quotaSongs: 40, quotaProcs: []int{1, 2}, fastRate: 100, fastSongs: 120, fastProcs: 2,
			enqueueLines: 1000, overheadJobs: 200, sectionTimout: 3 * time.Minute}, nil
	}
	return profile{}, fmt.Errorf("-profile %q: want full or short", name)
}
