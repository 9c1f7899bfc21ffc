package tasks

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/upstream"
)

// PollsPerItem is the expected number of GetJob calls per item, for plans. The worker
// polls a job first at the 90th percentile of the recent durations of its class
// (PollTiming), which finds most jobs done and the rest at a second poll (≈ 1.1 GetJob
// per job once durations are known); 1.3 adds a margin for the scouts of a class not
// learned yet (about 40 calls for the class, once) and for reconciliation calls.
const PollsPerItem = 1.3

// planListed is how many model names a plan prints per list.
const planListed = 10

// Plan is what enqueueing manifests would do, counted without writing anything.
type Plan struct {
	Batch     string
	Rate      float64 // requests per second for the account (UPSTREAM_RATE)
	Songs     int
	Trainings int
	Rejected  int            // invalid lines
	Trained   []string       // models the trainings create, sorted
	Used      map[string]int // songs per model sung with
	Classes   map[string]int // items per class of work (ClassOf)
	// Learned is what the worker knows of the classes' durations (LearnedDurations);
	// the caller sets it when it can read it.
	Learned []ClassDuration
	trained map[string]bool // Trained, as a set
}

// NewPlan starts an empty plan.
func NewPlan(batchName string, rate float64) *Plan {
	return &Plan{Batch: batchName, Rate: rate, Used: map[string]int{}, Classes: map[string]int{}, trained: map[string]bool{}}
}

// Add counts one valid item.
func (p *Plan) Add(it batch.Item) {
	p.Classes[ClassOf(it.Kind, it.Spec)]++
	switch it.Kind {
	case batch.KindTrain:
		p.Trainings++
		if !p.trained[it.Model] {
			p.trained[it.Model] = true
			p.Trained = append(p.Trained, it.Model)
		}
	case batch.KindSong:
		p.Songs++
		p.Used[it.Model]++
	}
}

// PlanManifests reads manifests as Enqueue would and returns the plan. Each problem of
// an invalid line goes to onLineError (may be nil); a training of the built-in model,
// or of a name in service (the service's models, when known), is one. It reads nothing
// but the manifests.
func PlanManifests(batchName string, rate float64, names []string, stdin io.Reader, format manifest.Format,
	service ServiceModels, onLineError func(*batch.LineError)) (*Plan, error) {
	if err := batch.ValidBatchName(batchName); err != nil {
		return nil, err
	}
	p := NewPlan(batchName, rate)
	lastBad := ""
	for it, err := range withoutTaken(manifest.Read(names, stdin, format), service, true) {
		var le *batch.LineError
		switch {
		case errors.As(err, &le):
			if at := fmt.Sprintf("%s:%d", le.File, le.Line); at != lastBad {
				lastBad = at
				p.Rejected++
			}
			if onLineError != nil {
				onLineError(le)
			}
		case err != nil:
			return p, err
		default:
			p.Add(it)
		}
	}
	sort.Strings(p.Trained)
	return p, nil
}

// Items is the number of valid items.
func (p *Plan) Items() int { return p.Songs + p.Trainings }

// CreateJobCalls is one CreateJob per item.
func (p *Plan) CreateJobCalls() int { return p.Items() }

// PollCalls estimates the GetJob calls: PollsPerItem per item, rounded up.
func (p *Plan) PollCalls() int { return int(math.Ceil(float64(p.Items()) * PollsPerItem)) }

// Calls is the expected number of upstream calls.
func (p *Plan) Calls() int { return p.CreateJobCalls() + p.PollCalls() }

// CallTime is how long the calls take at the account's rate: the least time the batch
// needs, before the jobs' own run time.
func (p *Plan) CallTime() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(p.Calls()) / p.Rate * float64(time.Second)).Round(time.Second)
}

// WriteText prints the plan for people.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "batch %s: dry run, nothing written\n", p.Batch)
	fmt.Fprintf(&b, "  items           %d: %s, %s\n", p.Items(), countOf(p.Songs, "song"), countOf(p.Trainings, "training"))
	fmt.Fprintf(&b, "  rejected lines  %d\n", p.Rejected)
	fmt.Fprintf(&b, "  models trained  %d%s\n", len(p.Trained), listed(p.Trained))
	fmt.Fprintf(&b, "  models used     %d%s\n", len(p.Used), listed(p.usedNames()))
	fmt.Fprintf(&b, "  upstream calls  ≈ %d: %d CreateJob (1 per item) + ≈ %d GetJob (%.1f per item)\n",
		p.Calls(), p.CreateJobCalls(), p.PollCalls(), PollsPerItem)
	fmt.Fprintf(&b, "  request time    ≈ %s at UPSTREAM_RATE %g/s (%d calls ÷ %g/s); the jobs' own run time comes on top\n",
		p.CallTime(), p.Rate, p.Calls(), p.Rate)
	fmt.Fprintf(&b, "  polls estimate  the worker polls a job first at the 90th percentile of the durations it learned for\n"+
		"                  its class, which finds most done; the rest need a second poll (≈ 1.1 per job). %.1f adds a\n"+
		"                  margin for the scouts of a class not learned yet, and for reconciliation.\n", PollsPerItem)
	p.writeDurations(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDurations prints what is known of each class's durations, and the batch time
// they give.
func (p *Plan) writeDurations(b *strings.Builder) {
	learned := map[string]ClassDuration{}
	for _, c := range p.Learned {
		learned[c.Class] = c
	}
	names := make([]string, 0, len(p.Classes))
	for c := range p.Classes {
		names = append(names, c)
	}
	sort.Strings(names)
	var longest, longestTrain, longestSong time.Duration
	unknown := 0
	for i, c := range names {
		label := "  job durations   "
		if i > 0 {
			label = strings.Repeat(" ", len(label))
		}
		l, ok := learned[c]
		if !ok {
			unknown++
			fmt.Fprintf(b, "%s%s: %s, not learned yet (its first jobs find out)\n", label, c, countOf(p.Classes[c], "item"))
			continue
		}
		fmt.Fprintf(b, "%s%s: %s, ≈ %s each (median of %d recent jobs; 90%% within %s)\n", label, c,
			countOf(p.Classes[c], "item"), l.Median.Round(time.Second), l.Jobs, l.P90.Round(time.Second))
		longest = max(longest, l.P90)
		if strings.HasPrefix(c, "train-") {
			longestTrain = max(longestTrain, l.P90)
		} else {
			longestSong = max(longestSong, l.P90)
		}
	}
	if len(names) == 0 || unknown > 0 {
		return
	}
	// Songs on a model trained here wait for that training first.
	run, what := longest, "the longest job"
	if p.dependentSongs() && longestTrain+longestSong > run {
		run, what = longestTrain+longestSong, "a training and then the songs that wait for it"
	}
	fmt.Fprintf(b, "  batch time      ≈ %s from the learned durations: request time + %s\n", (p.CallTime() + run).Round(time.Second), what)
}

// dependentSongs reports whether some song sings with a model this plan trains.
func (p *Plan) dependentSongs() bool {
	for m := range p.Used {
		if p.trained[m] {
			return true
		}
	}
	return false
}

// usedNames describes the models songs use, most used first.
func (p *Plan) usedNames() []string {
	names := make([]string, 0, len(p.Used))
	for n := range p.Used {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if p.Used[names[i]] != p.Used[names[j]] {
			return p.Used[names[i]] > p.Used[names[j]]
		}
		return names[i] < names[j]
	})
	out := make([]string, len(names))
	for i, n := range names {
		note := ""
		switch {
		case n == upstream.DefaultModel:
			note = ", built in"
		case p.trained[n]:
			note = ", trained here"
		default:
			note = ", not trained here: must exist"
		}
		out[i] = fmt.Sprintf("%s (%s%s)", n, countOf(p.Used[n], "song"), note)
	}
	return out
}

// listed is ": a, b, c" with at most planListed names, then "and N more".
func listed(names []string) string {
	if len(names) == 0 {
		return ""
	}
	if len(names) <= planListed {
		return ": " + strings.Join(names, ", ")
	}
	return fmt.Sprintf(": %s and %d more", strings.Join(names[:planListed], ", "), len(names)-planListed)
}

// countOf is "1 song", "2 songs".
func countOf(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
