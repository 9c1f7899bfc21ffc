package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// The example audio is 4 kHz mono unsigned 8-bit PCM WAV: 4000 bytes a second, so the
// whole example (66 s of training voice and four 8-second songs) stays near 400 KB. The
// simulator only reads a file's length; the sound is there so that a person can listen.
const (
	sampleRate = 4000
	bpmDefault = 100
)

// note is one pitch (a MIDI note number, 0 = rest) held for a number of beats.
type note struct {
	midi  int
	beats float64
}

// voice is the timbre of a synthetic singer: a fundamental with two overtones and a
// gentle vibrato, so the training set sounds like one voice and the songs like others.
type voice struct {
	harmonics    [3]float64 // amplitude of the 1st, 2nd and 3rd harmonic
	vibratoHz    float64
	vibratoCents float64
	transpose    int // semitones added to every note
}

// render turns a melody into samples in [-1, 1] at sampleRate, repeated until it lasts
// exactly seconds.
func render(v voice, melody []note, bpm float64, seconds int) []float64 {
	total := seconds * sampleRate
	out := make([]float64, 0, total)
	beat := 60 / bpm
	for len(out) < total {
		for _, n := range melody {
			count := int(math.Round(n.beats * beat * sampleRate))
			for i := range count {
				if len(out) == total {
					break
				}
				out = append(out, v.sample(n, i, count))
			}
		}
	}
	return out
}

// sample is sample i of a note lasting count samples. The phase is computed from the
// note's start so every note begins at zero; an attack and release envelope keeps note
// boundaries free of clicks.
func (v voice) sample(n note, i, count int) float64 {
	if n.midi == 0 {
		return 0
	}
	t := float64(i) / sampleRate
	freq := 440 * math.Pow(2, float64(n.midi+v.transpose-69)/12)
	// Vibrato as a phase modulation: frequency deviates by ±vibratoCents.
	dev := freq * (math.Pow(2, v.vibratoCents/1200) - 1)
	phase := 2*math.Pi*freq*t + dev/v.vibratoHz*math.Sin(2*math.Pi*v.vibratoHz*t)
	s := 0.0
	for h, a := range v.harmonics {
		s += a * math.Sin(float64(h+1)*phase)
	}
	const attack, release = 0.03, 0.08 // seconds
	env := 1.0
	if t < attack {
		env = t / attack
	}
	if rest := float64(count-i) / sampleRate; rest < release {
		env = min(env, rest/release)
	}
	return 0.8 * env * s
}

// writeWAV writes samples in [-1, 1] as an 8-bit mono WAV file at sampleRate.
func writeWAV(w io.Writer, samples []float64) error {
	n := len(samples)
	bw := bufio.NewWriter(w)
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+n+n%2))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)         // fmt chunk size
	binary.LittleEndian.PutUint16(h[20:], 1)          // PCM
	binary.LittleEndian.PutUint16(h[22:], 1)          // mono
	binary.LittleEndian.PutUint32(h[24:], sampleRate) // samples a second
	binary.LittleEndian.PutUint32(h[28:], sampleRate) // bytes a second
	binary.LittleEndian.PutUint16(h[32:], 1)          // block align
	binary.LittleEndian.PutUint16(h[34:], 8)          // bits per sample
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(n))
	if _, err := bw.Write(h[:]); err != nil {
		return fmt.Errorf("write wav: %w", err)
	}
	for _, s := range samples {
		// Unsigned 8-bit: 128 is silence.
		b := byte(math.Round(128 + 127*max(-1, min(1, s))))
		if err := bw.WriteByte(b); err != nil {
			return fmt.Errorf("write wav: %w", err)
		}
	}
	if n%2 == 1 { // RIFF chunks are padded to an even size
		if err := bw.WriteByte(0); err != nil {
			return fmt.Errorf("write wav: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write wav: %w", err)
	}
	return nil
}
