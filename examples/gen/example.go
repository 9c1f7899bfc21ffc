package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Placeholder is how the manifests refer to their own folder: `singbatch run --sim`
// serves the manifest's folder over HTTP and replaces it with that server's URL.
const Placeholder = "{{dir}}"

// ComposeFilesURL is where deploy/compose.yaml's demo serves this folder (a static file
// server named "files"): demo-compose.jsonl is demo.jsonl with the placeholder replaced
// by it, for `singbatch enqueue`, which (unlike `run`) never replaces the placeholder.
const ComposeFilesURL = "http://files:8000"

// alice is the voice of the training set.
var alice = voice{harmonics: [3]float64{0.7, 0.2, 0.1}, vibratoHz: 5.5, vibratoCents: 30}

// singer is the voice of the songs to re-sing: another timbre, so the two differ.
var singer = voice{harmonics: [3]float64{0.55, 0.35, 0.1}, vibratoHz: 4.5, vibratoCents: 15, transpose: -5}

// Public-domain melodies (MIDI note numbers; 60 is middle C).
var (
	twinkle = []note{
		{60, 1}, {60, 1}, {67, 1}, {67, 1}, {69, 1}, {69, 1}, {67, 2},
		{65, 1}, {65, 1}, {64, 1}, {64, 1}, {62, 1}, {62, 1}, {60, 2},
	}
	ode = []note{
		{64, 1}, {64, 1}, {65, 1}, {67, 1}, {67, 1}, {65, 1}, {64, 1}, {62, 1},
		{60, 1}, {60, 1}, {62, 1}, {64, 1}, {64, 1.5}, {62, 0.5}, {62, 2},
	}
	frere = []note{
		{60, 1}, {62, 1}, {64, 1}, {60, 1}, {60, 1}, {62, 1}, {64, 1}, {60, 1},
		{64, 1}, {65, 1}, {67, 2}, {64, 1}, {65, 1}, {67, 2},
	}
	scale = []note{
		{60, 0.5}, {62, 0.5}, {64, 0.5}, {65, 0.5}, {67, 0.5}, {69, 0.5}, {71, 0.5}, {72, 1.5},
		{71, 0.5}, {69, 0.5}, {67, 0.5}, {65, 0.5}, {64, 0.5}, {62, 0.5}, {60, 1.5}, {0, 0.5},
	}
	// The training recordings: vocal exercises over the voice's range.
	arpeggios = []note{
		{57, 0.5}, {61, 0.5}, {64, 0.5}, {69, 1}, {64, 0.5}, {61, 0.5}, {57, 1}, {0, 0.5},
		{59, 0.5}, {62, 0.5}, {66, 0.5}, {71, 1}, {66, 0.5}, {62, 0.5}, {59, 1}, {0, 0.5},
	}
	sirens = []note{
		{55, 0.25}, {57, 0.25}, {59, 0.25}, {60, 0.25}, {62, 0.25}, {64, 0.25}, {66, 0.25}, {67, 1},
		{66, 0.25}, {64, 0.25}, {62, 0.25}, {60, 0.25}, {59, 0.25}, {57, 0.25}, {55, 1}, {0, 0.5},
	}
	hums = []note{
		{62, 2}, {64, 1}, {66, 1}, {67, 2}, {69, 2}, {67, 1}, {66, 1}, {64, 2}, {0, 1},
	}
)

// clip is one audio file of the example.
type clip struct {
	name    string
	v       voice
	melody  []note
	bpm     float64
	seconds int
}

// clips: three training recordings of 22 s (66 s in all: the service needs at least
// 60 s of a voice to train on) and four 8-second songs.
var clips = []clip{
	{"alice-1.wav", alice, arpeggios, 110, 22},
	{"alice-2.wav", alice, sirens, 120, 22},
	{"alice-3.wav", alice, hums, 90, 22},
	{"song-twinkle.wav", singer, twinkle, bpmDefault, 8},
	{"song-ode.wav", singer, ode, 120, 8},
	{"song-frere.wav", singer, frere, 120, 8},
	{"song-scale.wav", singer, scale, bpmDefault, 8},
}

// demoJSONL is the demo: a training, three songs waiting for the model it trains, and
// two songs sung by the service's built-in "default" model. Ten epochs keep the
// simulated training short.
const demoJSONL = `{"id":"alice","kind":"train","model":"alice_v1","urls":["{{dir}}/audio/alice-1.wav","{{dir}}/audio/alice-2.wav","{{dir}}/audio/alice-3.wav"],"epochs":10}
{"id":"alice-twinkle","kind":"song","model":"alice_v1","url":"{{dir}}/audio/song-twinkle.wav","contentId":"demo"}
{"id":"alice-ode","kind":"song","model":"alice_v1","url":"{{dir}}/audio/song-ode.wav","contentId":"demo"}
{"id":"alice-frere","kind":"song","model":"alice_v1","url":"{{dir}}/audio/song-frere.wav","contentId":"demo","outputPrefix":"frere_"}
{"id":"default-scale","kind":"song","model":"default","url":"{{dir}}/audio/song-scale.wav","contentId":"demo","separate":true}
{"id":"default-twinkle","kind":"song","url":"{{dir}}/audio/song-twinkle.wav","contentId":"demo"}
`

// demoCSV is the same demo as CSV (use one or the other: they hold the same items).
const demoCSV = `id,kind,model,url,urls,content_id,separate,output_prefix,epochs
alice,train,alice_v1,,{{dir}}/audio/alice-1.wav {{dir}}/audio/alice-2.wav {{dir}}/audio/alice-3.wav,,,,10
alice-twinkle,song,alice_v1,{{dir}}/audio/song-twinkle.wav,,demo,,,
alice-ode,song,alice_v1,{{dir}}/audio/song-ode.wav,,demo,,,
alice-frere,song,alice_v1,{{dir}}/audio/song-frere.wav,,demo,,frere_,
default-scale,song,default,{{dir}}/audio/song-scale.wav,,demo,true,,
default-twinkle,song,,{{dir}}/audio/song-twinkle.wav,,demo,,,
`

// Write writes the example into dir: audio/*.wav, demo.jsonl, demo.csv and
// demo-compose.jsonl.
func Write(dir string) error {
	if !strings.Contains(demoJSONL, Placeholder) || !strings.Contains(demoCSV, Placeholder) {
		return fmt.Errorf("manifests must use %s", Placeholder)
	}
	audio := filepath.Join(dir, "audio")
	if err := os.MkdirAll(audio, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", audio, err)
	}
	for _, c := range clips {
		var buf bytes.Buffer
		if err := writeWAV(&buf, render(c.v, c.melody, c.bpm, c.seconds)); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := writeFile(filepath.Join(audio, c.name), buf.Bytes()); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, "demo.jsonl"), []byte(demoJSONL)); err != nil {
		return err
	}
	compose := strings.ReplaceAll(demoJSONL, Placeholder, ComposeFilesURL)
	if err := writeFile(filepath.Join(dir, "demo-compose.jsonl"), []byte(compose)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "demo.csv"), []byte(demoCSV))
}

func writeFile(name string, b []byte) error {
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
