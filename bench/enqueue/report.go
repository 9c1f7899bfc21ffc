package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// markdown renders the results as a Markdown section (-out).
func markdown(r result, o options) string {
	var b strings.Builder
	sizes := make([]string, len(o.sizes))
	for i, n := range o.sizes {
		sizes[i] = fmt.Sprint(n)
	}
	fmt.Fprintf(&b, "# Enqueue benchmark\n\n")
	fmt.Fprintf(&b, "Produced by `go run ./bench/enqueue -n %s` on %s (%d CPUs, %s, %s).\n\n",
		strings.Join(sizes, ","), time.Now().UTC().Format("2006-01-02"), r.cpus, r.goVer, r.redis)
	b.WriteString("Each row is one child process, measured from its start to its exit; peak RSS is the\n" +
		"kernel's `ru_maxrss` of that process. The manifest is JSONL, 99 % songs and 1 % trainings;\n" +
		"Redis is a fresh local `redis-server` (no persistence) per size, emptied before the bare run.\n" +
		"The load average shows how busy the machine was with other work when each run started.\n\n")
	b.WriteString("| lines | run | wall time | items/s | peak RSS | Redis used memory after | load avg at start |\n|---:|---|---:|---:|---:|---:|---:|\n")
	for _, m := range r.measures {
		redisMem := "-"
		if m.redisMem > 0 {
			redisMem = fmt.Sprintf("%.0f MiB", float64(m.redisMem)/(1<<20))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f MiB | %s | %s |\n", thousands(int64(m.lines)), m.name,
			m.wall.Round(100*time.Millisecond), thousands(int64(m.rate())), float64(m.maxRSSKB)/1024, redisMem, m.load)
	}
	b.WriteString("\nPer size:\n\n")
	for _, n := range o.sizes {
		var first, again, bare, read measure
		for _, m := range r.measures {
			switch {
			case m.lines != n:
			case m.name == "singbatch enqueue":
				first = m
			case strings.HasPrefix(m.name, "singbatch enqueue again"):
				again = m
			case strings.HasPrefix(m.name, "bare"):
				bare = m
			case strings.HasPrefix(m.name, "reading"):
				read = m
			}
		}
		if first.wall == 0 || again.wall == 0 || bare.wall == 0 || read.wall == 0 {
			continue
		}
		fmt.Fprintf(&b, "- %s lines: `singbatch enqueue` (records, then tasks) runs at %.0f %% of bare Asynq's rate, "+
			"the repeat at %.0f %%. Its peak RSS is %.1f MiB, of which reading the manifest alone takes %.1f MiB "+
			"(duplicate ids are found in Redis, so the reader keeps nothing per id): "+
			"the enqueuer's own share is %.1f MiB.\n",
			thousands(int64(n)), 100*first.rate()/bare.rate(), 100*again.rate()/bare.rate(), float64(first.maxRSSKB)/1024,
			float64(read.maxRSSKB)/1024, float64(first.maxRSSKB-read.maxRSSKB)/1024)
	}
	b.WriteString("\nWhat `singbatch enqueue` printed:\n\n")
	for _, m := range r.measures {
		if strings.HasPrefix(m.name, "singbatch") {
			fmt.Fprintf(&b, "- %s lines, %s:\n\n  ```\n  %s\n  ```\n\n", thousands(int64(m.lines)), m.name,
				strings.ReplaceAll(m.output, "\n", "\n  "))
		}
	}
	return b.String()
}

// keepMarker starts the hand-written part of the -out file (other runs, comments on
// the figures), which a new run keeps after its own section.
const keepMarker = "<!-- Hand-written from here on; bench/enqueue keeps it when it rewrites this file. -->"

// withNotes appends old's hand-written part, if any, to a new run's section.
func withNotes(md, old string) string {
	if i := strings.Index(old, keepMarker); i >= 0 {
		return md + "\n" + old[i:]
	}
	return md
}

// thousands prints 1234567 as 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Measure is one child's figures as -json writes them.
type Measure struct {
	Name       string  `json:"name"`
	Lines      int     `json:"lines"`
	WallSec    float64 `json:"wallSeconds"`
	MaxRSSKB   int64   `json:"maxRssKB"`
	RedisBytes int64   `json:"redisBytes"` // used_memory after the child, over the empty server's
	Load       string  `json:"load"`
}

func writeJSON(path string, res result) error {
	out := make([]Measure, 0, len(res.measures))
	for _, m := range res.measures {
		rb := int64(0)
		if m.redisMem > 0 {
			rb = m.redisMem - m.emptyMem
		}
		out = append(out, Measure{Name: m.name, Lines: m.lines, WallSec: m.wall.Seconds(), MaxRSSKB: m.maxRSSKB,
			RedisBytes: rb, Load: m.load})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
