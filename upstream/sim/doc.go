// Package sim is a local simulator of the singing-cloning job API, for tests, load
// tests and development (in the manner of fake-gcs-server's fakestorage):
//
//	srv, err := sim.New(sim.Options{Credentials: creds, TimeScale: 0.001, OutputDir: dir})
//	defer srv.Close()
//	client, err := upstream.New(upstream.Options{BaseURL: srv.URL(), Credentials: creds})
//
// It serves all four actions at their documented paths, checks credentials and every
// contract rule, and runs jobs SUBMITTED → PROCESSING → COMPLETED or ERROR on a seeded,
// scaled timeline: url inputs are downloaded and probed (WAV, MP3, FLAC), generation
// writes a real (short) audio file into OutputDir/<contentId>/<destination>/, training
// registers a model. Timeouts, callbacks, a per-secretId rate limit and injectable
// faults (5xx, hangs, lost CreateJob responses, not-found windows, callback loss,
// duplication and delay, failing jobs) are there to exercise a client's recovery.
//
// Job states are computed from timestamps whenever they are read, so a reader never
// sees a state the timeline has not reached, and never misses one it has; a scheduler
// goroutine performs the side effects (files, models, callbacks) on time regardless.
//
// Errors are answered as {"requestId": "...", "error": {"code", "message"}} with HTTP
// 400 InvalidParameter, 401 AuthFailure, 404 ResourceNotFound, 429
// RequestLimitExceeded (with Retry-After) or 500 InternalError; that shape is the
// simulator's choice (contract README §2). Messages never contain the credentials.
//
// Choices where the contract is silent: a request's timeout is simulated seconds, so
// TimeScale applies to it; the built-in model "default" is usable but not listed by
// ListModels; a sourceData (text) input stands for Options.TextAudio of song and cannot
// train; unknown JSON fields in a request are rejected (to catch client typos).
package sim
