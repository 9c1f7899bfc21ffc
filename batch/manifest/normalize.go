package manifest

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// normalizer turns one decoded line into an batch.Item, checking every manifest and contract
// rule and naming each problem after the manifest field the user wrote.
type normalizer struct {
	format  Format
	e       *entry
	ps      *problems
	sets    *batchSets
	origins []inputOrigin // where each request input came from
}

// inputOrigin is the manifest field a request input was built from.
type inputOrigin struct {
	from  field // fURL, fText, fSource (song) or fURLs, fInputs (train)
	index int   // element of urls or inputs
}

func (n *normalizer) name(f field) string { return n.format.name(f) }

// item returns the line's item, or false when it has problems (recorded in n.ps).
func (n *normalizer) item() (batch.Item, bool) {
	e := n.e
	kind := batch.Kind(e.kind)
	switch {
	case kind == batch.KindSong || kind == batch.KindTrain:
	case e.kind == "":
		n.ps.add(n.name(fKind), "required")
	default:
		n.ps.add(n.name(fKind), `must be "song" or "train", not %s`, quote(e.kind))
	}
	idOK := true
	if e.set.has(fID) {
		if reason := checkID(e.id); reason != "" {
			n.ps.add(n.name(fID), "%s", reason)
			idOK = false
		}
	}
	if kind != batch.KindSong && kind != batch.KindTrain {
		// Without a kind nothing else can be judged; the id still counts as used.
		n.checkDuplicateID(idOK)
		return batch.Item{}, false
	}
	for f := range numFields {
		if e.set.has(f) && f.onlyFor() != "" && f.onlyFor() != kind {
			n.ps.add(n.name(f), "only for kind %q", f.onlyFor())
		}
	}

	var spec batch.JobSpec
	model := e.model
	if kind == batch.KindSong {
		if model == "" {
			model = upstream.DefaultModel
		}
		spec = n.songSpec()
	} else {
		if e.set.has(fEpochs) && e.epochs == 0 {
			// upstream reads 0 as "default"; someone who wrote 0 meant something else.
			n.ps.add(n.name(fEpochs), "must be between 1 and %d, not 0", upstream.MaxTotalEpoch)
		}
		spec = n.trainSpec()
	}
	spec.Timeout = time.Duration(e.timeout) * time.Second
	req := spec.Request(kind, model)
	for _, p := range req.Problems() {
		n.ps.add(n.manifestField(p.Field), "%s", p.Reason)
	}
	n.checkDuplicateID(idOK)
	if kind == batch.KindTrain && model != "" && !n.sets.models.add(model) {
		n.ps.add(n.name(fModel), "training model %s already trained by an earlier line of this batch", quote(model))
	}
	if len(*n.ps) > 0 {
		return batch.Item{}, false
	}

	id := e.id
	if id == "" {
		// Derived before the default destination, which depends on the id.
		id = batch.DeriveID(kind, model, spec)
		if !n.sets.addID(id) {
			n.ps.add("line", "same item as an earlier line (derived id %q)", id)
			return batch.Item{}, false
		}
	}
	if kind == batch.KindSong && spec.Destination == "" {
		spec.Destination = batch.DefaultDestination(id)
	}
	return batch.Item{ID: id, Kind: kind, Model: model, Spec: spec, DerivedID: e.id == ""}, true
}

func (n *normalizer) checkDuplicateID(idOK bool) {
	if n.e.set.has(fID) && idOK && !n.sets.addID(n.e.id) {
		n.ps.add(n.name(fID), "duplicate id %s in this batch", quote(n.e.id))
	}
}

// songSpec builds a generation: one input, one output.
func (n *normalizer) songSpec() batch.JobSpec {
	e := n.e
	var in batch.Input
	given := 0
	for _, c := range []struct {
		f   field
		set bool
	}{{fURL, e.url != ""}, {fText, e.text != ""}, {fSource, e.source != nil}} {
		if !c.set {
			continue
		}
		given++
		if given > 1 {
			n.ps.add(n.songInputName(c.f), "only one of %s may be given", n.songInputChoices())
			continue
		}
		n.origins = append(n.origins, inputOrigin{from: c.f})
		switch c.f {
		case fURL:
			in.URL = e.url
			n.checkURL(n.name(fURL), e.url)
		case fText:
			in.Text = e.text
		case fSource:
			in.Source = e.source
		}
	}
	spec := batch.JobSpec{ContentID: e.contentID, Destination: e.destination, OutputPrefix: e.outputPrefix, Separate: e.separate}
	if given == 0 {
		n.ps.add(n.name(fURL), "a song needs one input: %s", n.songInputChoices())
	} else {
		spec.Inputs = []batch.Input{in}
	}
	return spec
}

func (n *normalizer) songInputChoices() string {
	if n.format == FormatCSV {
		return "url, text or source_content_id and source_path"
	}
	return "url, text or source"
}

// songInputName names a song's input field; in CSV a source is two columns.
func (n *normalizer) songInputName(f field) string {
	if f == fSource && n.format == FormatCSV && !n.e.set.has(fSourceContentID) {
		return n.name(fSourcePath)
	}
	return n.name(f)
}

// trainSpec builds a training: urls, then inputs, all feeding one output.
func (n *normalizer) trainSpec() batch.JobSpec {
	e := n.e
	var spec batch.JobSpec
	for i, u := range e.urls {
		n.origins = append(n.origins, inputOrigin{from: fURLs, index: i})
		spec.Inputs = append(spec.Inputs, batch.Input{URL: u})
		if u == "" {
			n.ps.add(n.originName(len(n.origins)-1), "must not be empty")
			continue
		}
		n.checkURL(n.originName(len(n.origins)-1), u)
	}
	for i, in := range e.inputs {
		n.origins = append(n.origins, inputOrigin{from: fInputs, index: i})
		spec.Inputs = append(spec.Inputs, batch.Input{URL: in.URL, Text: in.Text, Source: in.Source})
		name := n.originName(len(n.origins) - 1)
		given := 0
		for _, set := range []bool{in.URL != "", in.Text != "", in.Source != nil} {
			if set {
				given++
			}
		}
		if given != 1 {
			n.ps.add(name, "exactly one of url, text or source is required (has %d)", given)
		}
		if in.URL != "" {
			n.checkURL(name+".url", in.URL)
		}
	}
	if len(spec.Inputs) == 0 {
		reason := "a training needs at least one input: urls or inputs"
		if n.format == FormatCSV {
			reason = "a training needs at least one URL"
		}
		n.ps.add(n.name(fURLs), "%s", reason)
	}
	spec.Epochs = upstream.DefaultTotalEpoch
	if e.set.has(fEpochs) {
		spec.Epochs = e.epochs
	}
	return spec
}

// checkURL allows absolute http(s) URLs only: the service fetches them.
func (n *normalizer) checkURL(name, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t") {
		n.ps.add(name, "must be an absolute http(s) URL, not %s", quote(s))
	}
}

// originName names the manifest field request input i came from.
func (n *normalizer) originName(i int) string {
	o := n.origins[i]
	switch o.from {
	case fURLs:
		return n.name(fURLs) + "[" + strconv.Itoa(o.index) + "]"
	case fInputs:
		return n.name(fInputs) + "[" + strconv.Itoa(o.index) + "]"
	}
	return n.songInputName(o.from)
}

// manifestField maps a contract field path from upstream's Problems back to the manifest
// field the value came from.
func (n *normalizer) manifestField(path string) string {
	const sc = "outputs[0].smartContentDescriptor."
	switch path {
	case "timeout":
		return n.name(fTimeout)
	case "inputs":
		if batch.Kind(n.e.kind) == batch.KindSong {
			return n.name(fURL)
		}
		return n.name(fURLs)
	case "outputs[0].contentId":
		return n.name(fContentID)
	case "outputs[0].destination":
		return n.name(fDestination)
	case sc + "outputPrefix":
		return n.name(fOutputPrefix)
	case sc + "singingCloning.modelName":
		return n.name(fModel)
	case sc + "singingCloning.totalEpoch":
		return n.name(fEpochs)
	case sc + "singingCloning.useSeparate":
		return n.name(fSeparate)
	}
	rest, ok := strings.CutPrefix(path, "inputs[")
	if !ok {
		return path // not built from a manifest field; shown as the contract names it
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return path
	}
	i, err := strconv.Atoi(rest[:end])
	if err != nil || i < 0 || i >= len(n.origins) {
		return path
	}
	return n.inputPartName(i, rest[end+1:])
}

// inputPartName names part (e.g. ".sourceData", ".source.path", "") of request input i.
func (n *normalizer) inputPartName(i int, part string) string {
	o := n.origins[i]
	switch o.from {
	case fURLs, fURL:
		return n.originName(i)
	case fText:
		return n.name(fText)
	case fSource:
		switch part {
		case ".source.contentId":
			return n.name(fSourceContentID)
		case ".source.path":
			return n.name(fSourcePath)
		}
		return n.originName(i)
	}
	// A training's inputs element: the manifest calls sourceData "text".
	if p, ok := strings.CutPrefix(part, ".sourceData"); ok {
		part = ".text" + p
	}
	return n.originName(i) + part
}
