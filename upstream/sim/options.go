package sim

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/upstream"
)

// Options configures a Server. Only Credentials is required; zero values take the
// defaults named on each field.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0" (a free loopback port).
	Addr string
	// NoListener: New starts no HTTP server; serve Handler() yourself. URL() is then "".
	NoListener bool

	// Credentials every request body must carry (secretId and secretKey). Required.
	Credentials upstream.Credentials
	// Gateway, when set, also requires the API gateway's HMAC signature headers.
	Gateway *GatewayAuth

	// Seed seeds every random choice: durations, fault dice, job and request ids.
	Seed uint64
	// Clock; default the real clock.
	Clock Clock
	// TimeScale multiplies every simulated duration (queue delay, processing, the
	// request's timeout). 0.001 turns a 3-minute job into 180 ms. Default 1.
	TimeScale float64
	// Timing models how long jobs take (before TimeScale).
	Timing Timing

	// OutputDir holds the content repositories: inputs given as source{contentId,
	// path} are read from OutputDir/<contentId>/<path>, generated songs are written to
	// OutputDir/<contentId>/<destination>/. Default: a temporary directory removed by
	// Close.
	OutputDir string
	// OutputFormat of generated songs: "wav" (a tone, the default) or "mp3" (silence).
	OutputFormat string
	// OutputAudio is the length of a generated song file; default 2 s, to keep files
	// small (the real service returns a song as long as the input).
	OutputAudio time.Duration

	// SkipFetch: url and source inputs are not read; each counts as AssumedAudio long.
	// For load tests.
	SkipFetch bool
	// AssumedAudio is the length assumed for inputs under SkipFetch; default 180 s.
	AssumedAudio time.Duration
	// TextAudio is the length of the song a sourceData (text) input stands for in a
	// generation job; default 30 s. Text cannot train a model: such a job ends in ERROR.
	TextAudio time.Duration
	// MinTrainAudio is the least total audio a training job accepts; default 60 s.
	MinTrainAudio time.Duration

	// HTTPClient fetches url inputs and posts callbacks; default a plain client.
	HTTPClient *http.Client
	// FetchTimeout bounds fetching one url input; default 30 s.
	FetchTimeout time.Duration
	// MaxFetchBytes bounds the size of one url input; default 256 MiB.
	MaxFetchBytes int64
	// FetchConcurrency bounds parallel fetches; default 8.
	FetchConcurrency int
	// CallbackTimeout bounds one callback POST; default 10 s. A failed callback is
	// counted in Stats and not retried.
	CallbackTimeout time.Duration
	// MaxBodyBytes bounds a request body; default 1 MiB.
	MaxBodyBytes int64

	// ModelPageCap, when positive, caps a ListModels page below the limit asked for, as
	// some services do: a client must walk the pages by total, not stop at a short one.
	ModelPageCap int
	// JobsListCap, when positive, caps the jobs a ListJobs answer holds (total still
	// counts them all), as some services do: a client must not take a short list for
	// the whole.
	JobsListCap int

	// KeepArrivals keeps every API request's arrival time for Arrivals (benchmarks plot
	// requests per second); off, memory stays flat however long the server runs.
	KeepArrivals bool
	// Rate is the per-secretId limit in requests per second (a sliding 1 s window over
	// accepted requests); 0 = no limit. Every action counts.
	Rate int

	// Faults injected from the start; change them later with SetFaults.
	Faults Faults

	// Logger receives debug logs of requests and job transitions (never secrets or
	// callback URLs); default none.
	Logger *zap.Logger
}

// GatewayAuth is the API gateway's key pair (contract README §9).
type GatewayAuth struct {
	KeyID  string
	Secret upstream.Secret
	// Skew is how far the Date header may be from the clock; default 15 min.
	Skew time.Duration
}

// Timing models job durations in simulated time (TimeScale applies on top). Every
// drawn duration is multiplied by a factor uniform in [1-Jitter, 1+Jitter].
type Timing struct {
	// QueueDelay: mean time SUBMITTED before PROCESSING; default 5 s.
	QueueDelay time.Duration
	// GenerateBase + GeneratePerAudioSecond × seconds of input: a generation's
	// processing time; defaults 5 s and 200 ms (a 3-minute song takes 41 s).
	GenerateBase           time.Duration
	GeneratePerAudioSecond time.Duration
	// SeparateFactor multiplies a generation's time when useSeparate is 2; default 1.5.
	SeparateFactor float64
	// TrainBase + TrainPerEpochMinute × totalEpoch × minutes of input: a training's
	// processing time; defaults 60 s and 20 s (30 epochs of 5 minutes take 51 min).
	TrainBase           time.Duration
	TrainPerEpochMinute time.Duration
	// Jitter in [0, 1); default 0.2. Set a negative value for none.
	Jitter float64
}

// Faults are injected failures. Probabilities are in [0, 1] and drawn from the seeded
// generator.
type Faults struct {
	// InternalError: a request is answered 500 InternalError before anything is done.
	InternalError float64
	// Hang: a request gets no answer for HangFor (default 10 min); it is then handled
	// normally if the client is still there. Client cancellation and Close end it.
	Hang    float64
	HangFor time.Duration
	// LoseCreate: a CreateJob stores its job, then drops the connection unanswered.
	LoseCreate float64
	// NotFound: a new job stays invisible to GetJob and ListJobs for NotFoundFor
	// (default 2 s) after its creation.
	NotFound    float64
	NotFoundFor time.Duration
	// JobError: a job that would complete ends in ERROR halfway through processing.
	JobError float64
	// CallbackDrop: a due callback is never sent.
	CallbackDrop float64
	// CallbackDuplicate: a callback is sent twice.
	CallbackDuplicate float64
	// CallbackDelay: a callback is sent CallbackDelayFor (default 5 s) late.
	CallbackDelay    float64
	CallbackDelayFor time.Duration
}

const (
	defaultHangFor          = 10 * time.Minute
	defaultNotFoundFor      = 2 * time.Second
	defaultCallbackDelayFor = 5 * time.Second
)

func (f Faults) withDefaults() Faults {
	if f.HangFor == 0 {
		f.HangFor = defaultHangFor
	}
	if f.NotFoundFor == 0 {
		f.NotFoundFor = defaultNotFoundFor
	}
	if f.CallbackDelayFor == 0 {
		f.CallbackDelayFor = defaultCallbackDelayFor
	}
	return f
}

func (f Faults) validate() error {
	probs := []struct {
		name string
		p    float64
	}{
		{"InternalError", f.InternalError}, {"Hang", f.Hang}, {"LoseCreate", f.LoseCreate},
		{"NotFound", f.NotFound}, {"JobError", f.JobError}, {"CallbackDrop", f.CallbackDrop},
		{"CallbackDuplicate", f.CallbackDuplicate}, {"CallbackDelay", f.CallbackDelay},
	}
	var errs []error
	for _, p := range probs {
		if !(p.p >= 0 && p.p <= 1) {
			errs = append(errs, fmt.Errorf("faults: %s: probability must be in [0, 1], not %v", p.name, p.p))
		}
	}
	if f.HangFor < 0 || f.NotFoundFor < 0 || f.CallbackDelayFor < 0 {
		errs = append(errs, errors.New("faults: durations must not be negative"))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Credentials.SecretID.IsZero() || o.Credentials.SecretKey.IsZero() {
		return o, errors.New("sim: Credentials (secretId and secretKey) are required")
	}
	if o.Gateway != nil && (o.Gateway.KeyID == "" || o.Gateway.Secret.IsZero()) {
		return o, errors.New("sim: Gateway needs both KeyID and Secret")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.TimeScale == 0 {
		o.TimeScale = 1
	}
	if !(o.TimeScale > 0) {
		return o, fmt.Errorf("sim: TimeScale must be positive, not %v", o.TimeScale)
	}
	t := &o.Timing
	setDur(&t.QueueDelay, 5*time.Second)
	setDur(&t.GenerateBase, 5*time.Second)
	setDur(&t.GeneratePerAudioSecond, 200*time.Millisecond)
	setDur(&t.TrainBase, 60*time.Second)
	setDur(&t.TrainPerEpochMinute, 20*time.Second)
	if t.SeparateFactor == 0 {
		t.SeparateFactor = 1.5
	}
	switch {
	case t.Jitter == 0:
		t.Jitter = 0.2
	case t.Jitter < 0:
		t.Jitter = 0
	case t.Jitter >= 1:
		return o, fmt.Errorf("sim: Timing.Jitter must be below 1, not %v", t.Jitter)
	}
	if t.QueueDelay < 0 || t.GenerateBase < 0 || t.GeneratePerAudioSecond < 0 || t.TrainBase < 0 || t.TrainPerEpochMinute < 0 || t.SeparateFactor < 0 {
		return o, errors.New("sim: Timing values must not be negative")
	}
	switch o.OutputFormat {
	case "":
		o.OutputFormat = FormatWAV
	case FormatWAV, FormatMP3:
	default:
		return o, fmt.Errorf("sim: OutputFormat must be wav or mp3, not %q", o.OutputFormat)
	}
	setDur(&o.OutputAudio, 2*time.Second)
	setDur(&o.AssumedAudio, 180*time.Second)
	setDur(&o.TextAudio, 30*time.Second)
	setDur(&o.MinTrainAudio, 60*time.Second)
	setDur(&o.FetchTimeout, 30*time.Second)
	setDur(&o.CallbackTimeout, 10*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.MaxFetchBytes == 0 {
		o.MaxFetchBytes = 256 << 20
	}
	if o.FetchConcurrency == 0 {
		o.FetchConcurrency = 8
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.OutputAudio < 0 || o.AssumedAudio < 0 || o.TextAudio < 0 || o.MinTrainAudio < 0 ||
		o.FetchTimeout < 0 || o.CallbackTimeout < 0 || o.MaxFetchBytes < 0 || o.FetchConcurrency < 0 ||
		o.MaxBodyBytes < 0 || o.Rate < 0 {
		return o, errors.New("sim: sizes, durations and Rate must not be negative")
	}
	if err := o.Faults.validate(); err != nil {
		return o, fmt.Errorf("sim: %w", err)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o, nil
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
