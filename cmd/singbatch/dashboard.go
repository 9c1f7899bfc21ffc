package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/cmd/singbatch/internal/dashboard"
	"github.com/singbatch/singbatch/upstream"
)

// dashboardShutdownTimeout bounds how long open requests may finish once the context
// ends; the pages are short reads, so a few seconds is plenty.
const dashboardShutdownTimeout = 10 * time.Second

// dashboardCommand serves the web dashboard until the context ends.
func dashboardCommand() command {
	return command{name: "dashboard", summary: "serve the web dashboard: batches, Asynq queues, metrics", run: runDashboard}
}

// dashboardFlags are the command line of `singbatch dashboard`.
type dashboardFlags struct {
	addr        string
	allowWrites bool
}

func parseDashboardFlags(e env, args []string) (dashboardFlags, error) {
	var f dashboardFlags
	fs := newFlagSet(e, "dashboard", "[--addr HOST:PORT] [--allow-writes]\n\n"+
		"Beyond loopback it needs DASHBOARD_USER and DASHBOARD_PASSWORD (HTTP basic authentication;\n"+
		"/healthz stays open for probes).")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address `HOST:PORT` (port 0 picks a free one)")
	fs.BoolVar(&f.allowWrites, "allow-writes", false, "offer pause, resume and cancel on batch pages, and let the Asynq UI change tasks and queues (pause, delete, run, archive); only from the dashboard's own pages")
	var readOnly bool
	fs.BoolVar(&readOnly, "readonly", false, "no effect: the dashboard is read-only unless --allow-writes")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usageError{fmt.Sprintf("dashboard: unexpected argument %q", fs.Arg(0))}
	}
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return f, usageError{fmt.Sprintf("dashboard: --addr %q: %v", f.addr, err)}
	}
	return f, nil
}

func runDashboard(ctx context.Context, e env, args []string) error {
	f, err := parseDashboardFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	auth := dashboard.Auth{User: cfg.DashboardUser, Password: cfg.DashboardPassword}
	if (auth.User == "") != auth.Password.IsZero() {
		return errors.New("configuration: DASHBOARD_USER and DASHBOARD_PASSWORD: set both or neither")
	}
	if _, err := cfg.keys(); err != nil {
		return err
	}
	connOpt, err := a.redisConn()
	if err != nil {
		return err
	}
	rdb, err := a.redis()
	if err != nil {
		return err
	}
	store, err := a.store()
	if err != nil {
		return err
	}
	var controls dashboard.Controls
	if f.allowWrites {
		c, err := a.controls()
		if err != nil {
			return err
		}
		controls = c
	}
	d, err := dashboard.New(dashboard.Options{
		Store:        store,
		Redis:        rdb,
		RedisConnOpt: connOpt,
		AllowWrites:  f.allowWrites,
		Controls:     controls,
		UpstreamRate: cfg.UpstreamRate,
		Auth:         auth,
		// The dashboard never needs the credentials; it only knows them to scrub them
		// from anything it shows, in case one slipped into an error message.
		Secrets: []upstream.Secret{cfg.SecretID, cfg.SecretKey, cfg.GatewayKeySecret, cfg.DashboardPassword},
		Log:     log.Named("dashboard"),
	})
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen on %s: %w", f.addr, err)
	}
	if !auth.Enabled() && !isLoopback(ln.Addr()) {
		_ = ln.Close() // not served yet
		return fmt.Errorf("dashboard: --addr %s listens beyond loopback: set DASHBOARD_USER and DASHBOARD_PASSWORD "+
			"(HTTP basic authentication), or listen on 127.0.0.1", f.addr)
	}
	hs := &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	url := "http://" + ln.Addr().String()
	log.Info("dashboard serving", zap.String("url", url), zap.Bool("allowWrites", f.allowWrites),
		zap.Bool("authentication", auth.Enabled()))
	// The URL on stdout lets scripts (and tests) use --addr with port 0.
	fmt.Fprintf(e.stdout, "singbatch dashboard: serving %s/\n", url)

	err = serveUntilDone(ctx, hs, ln, dashboardShutdownTimeout, nil)
	log.Info("dashboard stopped")
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// isLoopback reports whether a listener only accepts local connections.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
