package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

func cliConfigEnv(vars ...string) env {
	return env{environ: func() []string { return vars }}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vars []string
		want string
	}{
		{[]string{"UPSTREAM_RATE=abc"}, `configuration: UPSTREAM_RATE: strconv.ParseFloat: parsing "abc": invalid syntax`},
		{[]string{"UPSTREAM_RATE=0"}, "configuration: UPSTREAM_RATE: must be a positive number of requests per second, not 0"},
		{[]string{"UPSTREAM_TIMEOUT=soon"}, `configuration: UPSTREAM_TIMEOUT: unable to parse duration: time: invalid duration "soon"`},
		{[]string{"UPSTREAM_RATE=x", "WORKER_CONCURRENCY=many"}, `configuration: UPSTREAM_RATE: strconv.ParseFloat: parsing "x": invalid syntax; WORKER_CONCURRENCY: strconv.ParseInt: parsing "many": invalid syntax`},
		{[]string{"POLL_PROBE_GROWTH=fast"}, `configuration: POLL_PROBE_GROWTH: strconv.ParseFloat: parsing "fast": invalid syntax`},
		{[]string{"POLL_DEFAULT_SONG=60s"}, "configuration: POLL_DEFAULT_SONG: no longer used: the worker learns job durations from the service " +
			"(docs/worker.md, Polling); POLL_HINT_SONG and POLL_HINT_TRAIN are optional hints"},
		{[]string{"REDIS_URL=ftp://localhost"}, `configuration: REDIS_URL: asynq: unsupported uri scheme: "ftp"`},
		{[]string{"LOG_FORMAT=xml"}, `configuration: LOG_FORMAT: must be json or console, not "xml"`},
		{[]string{"WORKER_DELAYED_CHECK_INTERVAL=0s"}, "configuration: WORKER_DELAYED_CHECK_INTERVAL: must be positive, not 0s"},
	} {
		_, err := loadConfig(cliConfigEnv(tc.vars...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v\nwant %s", tc.vars, err, tc.want)
		}
	}
	// Through a command: the error comes before any connection is tried.
	for _, args := range [][]string{{"enqueue", "--batch", "b1", "x.jsonl"}, {"status", "--batch", "b1"}, {"report", "--batch", "b1"}, {"models"}} {
		var out, errOut syncBuffer
		e := env{stdout: &out, stderr: &errOut, environ: func() []string { return []string{"UPSTREAM_RATE=abc"} }}
		err := dispatch(t.Context(), e, args)
		if err == nil || !strings.HasPrefix(err.Error(), "configuration: UPSTREAM_RATE: ") {
			t.Errorf("%v: error %v", args, err)
		}
	}
}

func TestConfigRedisURLForms(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"redis://:secret@redis.internal:6380/2",
		"rediss://redis.example.com:6380/0",
		"redis-socket:///var/run/redis.sock?db=1",
		"redis-sentinel://:pw@sentinel1:26379,sentinel2:26379?master=mymaster",
		"redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000",
		"redis-cluster://:pw@10.0.0.1:7000",
	} {
		if _, err := loadConfig(cliConfigEnv("REDIS_URL=" + u)); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"redis-cluster://10.0.0.1", "redis-cluster://", "redis-cluster://a:1,b"} {
		if _, err := loadConfig(cliConfigEnv("REDIS_URL=" + u)); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
			t.Errorf("%s: %v, want an error naming REDIS_URL", u, err)
		}
	}
}

// configDefaults lists every variable of config (nested structs included) with the
// value it takes when the environment does not set it, as written in the docs, in
// declaration order.
func configDefaults(v reflect.Value, out *[][2]string) {
	for i := range v.NumField() {
		f, val := v.Type().Field(i), v.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		switch {
		case name != "":
			*out = append(*out, [2]string{name, docValue(val.Interface())})
		case f.Type.Kind() == reflect.Struct:
			configDefaults(val, out)
		}
	}
}

// docValue writes a default as the docs do: "6h" for 6h0m0s, "" for none.
func docValue(v any) string {
	switch x := v.(type) {
	case time.Duration:
		if x == 0 {
			return ""
		}
		s := x.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case upstream.Secret:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// The config struct, .env.example and docs/configuration.md name the same variables with
// the defaults they really take.
func TestConfigDocumented(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(testEnv("", nil, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	var vars [][2]string
	configDefaults(reflect.ValueOf(cfg), &vars)
	want := map[string]string{}
	var names []string
	for _, v := range vars {
		want[v[0]] = v[1]
		names = append(names, v[0])
	}
	slices.Sort(names)

	example := map[string]string{}
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example: %q is not NAME=VALUE", line)
			continue
		}
		example[k] = v
	}
	assertList(t, ".env.example variables", cliSortedKeys(example), names)
	for k, v := range example {
		if d, ok := want[k]; ok && v != d {
			t.Errorf(".env.example: %s=%s, but its default is %q", k, v, d)
		}
	}

	for _, file := range []string{"docs/configuration.md"} {
		doc, err := os.ReadFile("../../" + file)
		if err != nil {
			t.Fatal(err)
		}
		row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| ([^|]*) \\|")
		documented := map[string]string{}
		for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
			documented[m[1]] = strings.TrimSpace(m[2])
		}
		assertList(t, file+" variables", cliSortedKeys(documented), names)
		for k, cell := range documented {
			d, ok := want[k]
			switch {
			case !ok:
			case d != "" && cell != "`"+d+"`":
				t.Errorf("%s: %s default %s, want `%s`", file, k, cell, d)
			case d == "" && !strings.HasPrefix(cell, "("):
				t.Errorf("%s: %s default %s, but it has none", file, k, cell)
			}
		}
	}
}

func cliSortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Every command's --help works whatever the environment holds: flags are parsed before
// the configuration is loaded.
func TestHelpWithMalformedEnvironment(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		var out, errOut syncBuffer
		e := testEnv("", &out, &errOut, []string{"UPSTREAM_RATE=abc", "WORKER_CONCURRENCY=many", "POLL_DEFAULT_SONG=60s"})
		err := dispatch(t.Context(), e, []string{c.name, "--help"})
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v", c.name, err)
		}
		if !strings.Contains(out.String(), "usage: singbatch "+c.name) {
			t.Errorf("%s --help printed %q", c.name, out.String())
		}
	}
}

// Every command reports a bad flag as a usage error whatever the environment holds:
// flags are parsed before the configuration is loaded.
func TestBadFlagWithMalformedEnvironment(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		var out, errOut syncBuffer
		e := testEnv("", &out, &errOut, []string{"UPSTREAM_RATE=abc", "WORKER_CONCURRENCY=many", "POLL_DEFAULT_SONG=60s"})
		err := dispatch(t.Context(), e, []string{c.name, "--no-such-flag"})
		if ue := new(usageError); !errors.As(err, ue) || !strings.Contains(ue.Error(), "no-such-flag") {
			t.Errorf("%s --no-such-flag: %v, want a usage error naming the flag", c.name, err)
		}
	}
}
