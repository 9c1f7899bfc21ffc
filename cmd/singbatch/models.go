package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// modelsRemoteTimeout bounds `models --remote` as a whole: paging through the model
// list is a handful of calls, each limited by UPSTREAM_TIMEOUT and the account's rate.
const modelsRemoteTimeout = 5 * time.Minute

func modelsCommand() command {
	return command{name: "models", summary: "list models trained by batches (--remote: the service's list)", run: runModels}
}

type modelsFlags struct {
	remote bool
	json   bool
}

func parseModelsFlags(e env, args []string) (modelsFlags, error) {
	var f modelsFlags
	fs := newFlagSet(e, "models", "[--remote] [--json]")
	fs.BoolVar(&f.remote, "remote", false, "list the service's models (ListModels, needs the credentials), with what the batches know of each")
	fs.BoolVar(&f.json, "json", false, "print JSON lines, one model per line")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usageError{fmt.Sprintf("models: unexpected argument %q", fs.Arg(0))}
	}
	return f, nil
}

// modelJSON is one model as `models --json` prints it.
type modelJSON struct {
	Name       string `json:"name"`
	State      string `json:"state"` // in the batches: training, ready, failed; "" when unknown there
	Batch      string `json:"batch,omitempty"`
	Item       string `json:"item,omitempty"`
	Error      string `json:"error,omitempty"`
	UpdatedAt  string `json:"updatedAt,omitempty"`
	Remote     *bool  `json:"remote,omitempty"`    // --remote: whether the service lists it
	RemoteTime string `json:"createdAt,omitempty"` // --remote: the service's createdAt
}

func runModels(ctx context.Context, e env, args []string) error {
	f, err := parseModelsFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if f.remote {
		if err := cfg.requireCredentials(); err != nil {
			return err
		}
	}
	store, err := a.store()
	if err != nil {
		return err
	}
	local, err := store.Models(ctx)
	if err != nil {
		return err
	}
	if !f.remote {
		rows := make([]modelJSON, 0, len(local))
		for _, m := range local {
			rows = append(rows, localModelJSON(m))
		}
		return printModels(e.stdout, f.json, false, rows)
	}
	remote, err := remoteModels(ctx, a)
	if err != nil {
		return fmt.Errorf("models --remote: %w", err)
	}
	return printModels(e.stdout, f.json, true, joinModels(local, remote))
}

// joinModels lists every model the service lists, with what the batches know of it,
// then the batches' models the service does not list (still training, failed, or
// lost): Remote tells which.
func joinModels(local []batch.ModelRecord, remote []upstream.Model) []modelJSON {
	byName := make(map[string]batch.ModelRecord, len(local))
	for _, m := range local {
		byName[m.Name] = m
	}
	listed := make(map[string]bool, len(remote))
	rows := make([]modelJSON, 0, len(remote))
	for _, m := range remote {
		listed[m.Name] = true
		row := modelJSON{Name: m.Name}
		if rec, ok := byName[m.Name]; ok {
			row = localModelJSON(rec)
		} else if m.Name == upstream.DefaultModel {
			row.State = string(batch.ModelReady)
		}
		row.Remote = new(true)
		if m.CreatedAt > 0 {
			row.RemoteTime = m.CreatedAt.Time().UTC().Format(time.RFC3339)
		}
		rows = append(rows, row)
	}
	for _, m := range local {
		if !listed[m.Name] {
			row := localModelJSON(m)
			row.Remote = new(false)
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

func localModelJSON(m batch.ModelRecord) modelJSON {
	r := modelJSON{Name: m.Name, State: string(m.State), Batch: m.Batch, Item: m.Item, Error: m.Error}
	if !m.UpdatedAt.IsZero() {
		r.UpdatedAt = m.UpdatedAt.UTC().Format(time.RFC3339)
	}
	return r
}

// remoteModels pages through the service's ListModels, under the account-wide limiter
// that the workers share, so that listing never pushes the account over its rate.
func remoteModels(ctx context.Context, a *app) ([]upstream.Model, error) {
	log, err := a.logger()
	if err != nil {
		return nil, err
	}
	// Named as they always were: the limiter's lines apart, the client's by command.
	a.limiterLog, a.upstreamLog = log.Named("limiter"), log.With(zap.String("command", "models"))
	api, err := a.upstream()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, modelsRemoteTimeout)
	defer cancel()
	ms, err := api.AllModels(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the service's models: %w", err)
	}
	return ms, nil
}

func printModels(w io.Writer, asJSON, remote bool, rows []modelJSON) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 0 {
		if remote {
			_, err := fmt.Fprintln(w, "the service lists no models")
			return err
		}
		_, err := fmt.Fprintln(w, "no models trained by any batch")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if remote {
		fmt.Fprintln(tw, "MODEL\tON SERVICE\tIN BATCHES\tBATCH\tITEM")
	} else {
		fmt.Fprintln(tw, "MODEL\tSTATE\tBATCH\tITEM\tUPDATED\tERROR")
	}
	for _, r := range rows {
		if remote {
			state := r.State
			if state == "" {
				state = "-"
			}
			service := "not listed"
			switch {
			case r.RemoteTime != "":
				service = "since " + r.RemoteTime
			case r.Remote != nil && *r.Remote:
				service = "listed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, service, state, dash(r.Batch), dash(r.Item))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, dash(r.Batch), dash(r.Item), dash(r.UpdatedAt), r.Error)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
