// Command singbatch drives the singing-cloning job API from manifests through Asynq.
// It is the only place that reads the environment and flags and wires the parts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// exitUsage is the exit code for a command line that could not be understood.
const exitUsage = 2

func main() {
	// go-redis logs some failures itself, in plain text, before returning them; every
	// one of them is returned too and handled (logged in the configured format, or
	// reported) where it surfaces. Process-wide, so set here and not by a command.
	redis.SetLogger(silentRedisLog{})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "singbatch:", err)
		os.Exit(exitUsage)
	default:
		fmt.Fprintln(os.Stderr, "singbatch:", err)
		os.Exit(1)
	}
}

// silentRedisLog drops go-redis's own log lines (see main).
type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}

// env is what a command may touch: its streams and the process environment, passed in
// so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

// usageError marks a command line that could not be understood.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func commands() []command {
	cmds := []command{
		versionCommand(),
		simCommand(),
		dashboardCommand(),
		enqueueCommand(),
		statusCommand(),
		reportCommand(),
		modelsCommand(),
		runCommand(),
		workerCommand(),
		retryCommand(),
		pauseCommand(),
		resumeCommand(),
		cancelCommand(),
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, environ: os.Environ}
	return dispatch(ctx, e, args)
}

func dispatch(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stdout)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	printUsage(e.stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: singbatch COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'singbatch COMMAND --help' for a command's flags.")
}

// newFlagSet builds a flag set whose -h prints the command's usage to stdout.
func newFlagSet(e env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "usage: singbatch %s %s\n\nflags:\n", name, usage)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	return fs
}

// parseFlags parses args; a bad flag is a usage error, -h is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseInterspersed parses args whose flags may come before, between or after the
// positional arguments (file names), and returns the positional ones in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
