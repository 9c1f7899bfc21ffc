package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// simShutdownTimeout bounds closing idle connections once the simulator has stopped.
const simShutdownTimeout = 5 * time.Second

// simCommand serves upstream/sim until the context ends.
func simCommand() command {
	return command{name: "sim", summary: "serve the local simulator of the singing-cloning API", run: runSim}
}

// secretFlag sets an upstream.Secret; its String is empty so -h never prints a default
// taken from the environment.
type secretFlag struct{ s *upstream.Secret }

func (f secretFlag) String() string { return "" }

func (f secretFlag) Set(v string) error {
	*f.s = upstream.NewSecret(v)
	return nil
}

// simFlags are the command line of `singbatch sim`.
type simFlags struct {
	addr         string
	creds        upstream.Credentials
	timeScale    float64
	rate         int
	seed         uint64
	outputDir    string
	outputFormat string
	skipFetch    bool
	assumedAudio time.Duration
	faults       sim.Faults
}

// parseSimFlags reads the flags; credentials not given take the environment's later
// (withCredentials), so that --help works whatever the environment holds.
func parseSimFlags(e env, args []string) (simFlags, error) {
	var f simFlags
	fs := newFlagSet(e, "sim", "[flags]")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address `HOST:PORT` (port 0 picks a free one)")
	fs.Var(secretFlag{&f.creds.SecretID}, "secret-id", "`ID` clients must send as secretId (default $UPSTREAM_SECRET_ID)")
	fs.Var(secretFlag{&f.creds.SecretKey}, "secret-key", "`KEY` clients must send as secretKey (default $UPSTREAM_SECRET_KEY)")
	fs.Float64Var(&f.timeScale, "time-scale", 1, "multiply every simulated duration by `F` (0.001: a 3-minute job takes 180 ms)")
	fs.IntVar(&f.rate, "rate", 0, "allow `N` requests per second per secretId, 0 = unlimited")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of every random choice (durations, faults, ids)")
	fs.StringVar(&f.outputDir, "output-dir", "", "content repositories folder: generated songs are written to `DIR`/<contentId>/<destination>/ (default: a new temporary folder, kept)")
	fs.StringVar(&f.outputFormat, "output-format", sim.FormatWAV, "generated song format: wav or mp3")
	fs.BoolVar(&f.skipFetch, "skip-fetch", false, "do not download url inputs; assume each is --assumed-audio long (load tests)")
	fs.DurationVar(&f.assumedAudio, "assumed-audio", 180*time.Second, "length assumed for inputs under --skip-fetch")
	fs.Float64Var(&f.faults.InternalError, "fault-5xx", 0, "probability `P` a request is answered 500 InternalError")
	fs.Float64Var(&f.faults.Hang, "fault-hang", 0, "probability `P` a request hangs for --fault-hang-for")
	fs.DurationVar(&f.faults.HangFor, "fault-hang-for", 10*time.Minute, "how long a hung request is held")
	fs.Float64Var(&f.faults.LoseCreate, "fault-lose-create", 0, "probability `P` a CreateJob stores the job and drops the connection")
	fs.Float64Var(&f.faults.NotFound, "fault-not-found", 0, "probability `P` a new job is invisible to GetJob/ListJobs for --fault-not-found-for")
	fs.DurationVar(&f.faults.NotFoundFor, "fault-not-found-for", 2*time.Second, "how long a new job stays invisible")
	fs.Float64Var(&f.faults.JobError, "fault-job-error", 0, "probability `P` a job ends in ERROR")
	fs.Float64Var(&f.faults.CallbackDrop, "fault-callback-drop", 0, "probability `P` a callback is never sent")
	fs.Float64Var(&f.faults.CallbackDuplicate, "fault-callback-dup", 0, "probability `P` a callback is sent twice")
	fs.Float64Var(&f.faults.CallbackDelay, "fault-callback-delay", 0, "probability `P` a callback is sent --fault-callback-delay-for late")
	fs.DurationVar(&f.faults.CallbackDelayFor, "fault-callback-delay-for", 5*time.Second, "how late a delayed callback is")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usageError{fmt.Sprintf("sim: unexpected argument %q", fs.Arg(0))}
	}
	if !(f.timeScale > 0) {
		return f, usageError{fmt.Sprintf("sim: --time-scale must be positive, not %v", f.timeScale)}
	}
	return f, nil
}

// withCredentials fills the credentials the flags did not give from the environment.
func (f simFlags) withCredentials(cfg config) (simFlags, error) {
	if f.creds.SecretID.IsZero() {
		f.creds.SecretID = cfg.SecretID
	}
	if f.creds.SecretKey.IsZero() {
		f.creds.SecretKey = cfg.SecretKey
	}
	if f.creds.SecretID.IsZero() || f.creds.SecretKey.IsZero() {
		return f, usageError{"sim: the credentials clients must send are required: --secret-id and --secret-key, or UPSTREAM_SECRET_ID and UPSTREAM_SECRET_KEY"}
	}
	return f, nil
}

func runSim(ctx context.Context, e env, args []string) error {
	f, err := parseSimFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if f, err = f.withCredentials(cfg); err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}

	if f.outputDir == "" {
		if f.outputDir, err = os.MkdirTemp("", "singbatch-sim-"); err != nil {
			return fmt.Errorf("sim: output dir: %w", err)
		}
	}
	var gateway *sim.GatewayAuth
	if cfg.GatewayKeyID != "" && !cfg.GatewayKeySecret.IsZero() {
		gateway = &sim.GatewayAuth{KeyID: cfg.GatewayKeyID, Secret: cfg.GatewayKeySecret}
	}
	srv, err := sim.New(sim.Options{
		NoListener:   true,
		Credentials:  f.creds,
		Gateway:      gateway,
		Seed:         f.seed,
		TimeScale:    f.timeScale,
		Rate:         f.rate,
		OutputDir:    f.outputDir,
		OutputFormat: f.outputFormat,
		SkipFetch:    f.skipFetch,
		AssumedAudio: f.assumedAudio,
		Faults:       f.faults,
		Logger:       log.Named("sim"),
	})
	if err != nil {
		return usageError{err.Error()}
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("sim: listen on %s: %w", f.addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(log.Named("http"))}
	url := "http://" + ln.Addr().String()
	log.Info("simulator serving",
		zap.String("url", url), zap.String("outputDir", f.outputDir), zap.Float64("timeScale", f.timeScale),
		zap.Int("rate", f.rate), zap.Uint64("seed", f.seed), zap.Bool("skipFetch", f.skipFetch),
		zap.Bool("gatewaySignature", gateway != nil), zap.Any("faults", faultFields(f.faults)))
	// The URL on stdout lets scripts (and tests) use --addr with port 0.
	fmt.Fprintf(e.stdout, "singbatch sim: serving %s (output dir %s)\n", url, f.outputDir)

	// Close the simulator first: it ends hung requests, waits for in-flight ones and
	// stops callbacks; then the HTTP server has nothing left to wait for.
	err = serveUntilDone(ctx, hs, ln, simShutdownTimeout, srv.Close)
	st := srv.Stats()
	log.Info("simulator stopped", zap.Int("requests", st.Requests), zap.Int("jobs", st.JobsCreated),
		zap.Int("throttled", st.Throttled), zap.Int("maxRequestsPerSecond", st.MaxRequestsPerSecond))
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// faultFields is the faults in force, for the startup log.
func faultFields(f sim.Faults) map[string]any {
	m := map[string]any{}
	add := func(name string, p float64, extra ...any) {
		if p > 0 {
			m[name] = append([]any{p}, extra...)
		}
	}
	add("5xx", f.InternalError)
	add("hang", f.Hang, f.HangFor.String())
	add("loseCreate", f.LoseCreate)
	add("notFound", f.NotFound, f.NotFoundFor.String())
	add("jobError", f.JobError)
	add("callbackDrop", f.CallbackDrop)
	add("callbackDup", f.CallbackDuplicate)
	add("callbackDelay", f.CallbackDelay, f.CallbackDelayFor.String())
	return m
}

var _ flag.Value = secretFlag{}
