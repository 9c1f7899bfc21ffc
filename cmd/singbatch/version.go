package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func versionCommand() command {
	return command{name: "version", summary: "print the version", run: func(_ context.Context, e env, args []string) error {
		fs := newFlagSet(e, "version", "")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		rev := "unknown"
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					rev = s.Value
				}
			}
		}
		_, err := fmt.Fprintf(e.stdout, "singbatch %s (revision %s, %s)\n", version, rev, runtime.Version())
		return err
	}}
}
