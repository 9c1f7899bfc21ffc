package sim_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/singbatch/singbatch/upstream/sim"
)

func TestProbeWAV(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, time.Second, 1500 * time.Millisecond, 61 * time.Second} {
		var buf bytes.Buffer
		if err := sim.WriteWAV(&buf, d, 440); err != nil {
			t.Fatal(err)
		}
		if want := 44 + int(d.Seconds()*8000) + int(d.Seconds()*8000)%2; buf.Len() != want {
			t.Errorf("WriteWAV(%v) wrote %d bytes, want %d", d, buf.Len(), want)
		}
		got, format, err := sim.ProbeAudio(&buf)
		if err != nil || format != sim.FormatWAV || got != d {
			t.Errorf("ProbeAudio(wav %v) = %v, %q, %v", d, got, format, err)
		}
	}
}

func TestProbeWAVSkipsChunksAndCountsStreamedData(t *testing.T) {
	t.Parallel()
	var pcm bytes.Buffer
	if err := sim.WriteWAV(&pcm, 2*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	b := pcm.Bytes()
	// Insert a LIST chunk (odd size, padded) between fmt and data, and mark the data
	// size unknown (0xFFFFFFFF) as streaming writers do.
	list := append([]byte("LIST\x03\x00\x00\x00abc"), 0)
	out := append(append(append([]byte{}, b[:36]...), list...), b[36:]...)
	binary.LittleEndian.PutUint32(out[36+len(list)+4:], 0xFFFFFFFF)
	got, _, err := sim.ProbeAudio(bytes.NewReader(out))
	if err != nil || got != 2*time.Second {
		t.Fatalf("ProbeAudio = %v, %v; want 2s", got, err)
	}
}

func TestProbeMP3Written(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{36 * time.Millisecond, time.Second, 90 * time.Second} {
		var buf bytes.Buffer
		if err := sim.WriteMP3(&buf, d); err != nil {
			t.Fatal(err)
		}
		frames := (d + 36*time.Millisecond - 1) / (36 * time.Millisecond)
		if buf.Len() != int(frames)*144 {
			t.Errorf("WriteMP3(%v) wrote %d bytes, want %d frames of 144", d, buf.Len(), frames)
		}
		got, format, err := sim.ProbeAudio(iotest.HalfReader(&buf))
		if err != nil || format != sim.FormatMP3 || got != time.Duration(frames)*36*time.Millisecond {
			t.Errorf("ProbeAudio(mp3 %v) = %v, %q, %v", d, got, format, err)
		}
	}
}

func TestProbeMP3WithTagsAndJunk(t *testing.T) {
	t.Parallel()
	var frames bytes.Buffer
	if err := sim.WriteMP3(&frames, 3600*time.Millisecond); err != nil { // 100 frames
		t.Fatal(err)
	}
	id3 := []byte("ID3\x04\x00\x00\x00\x00\x01\x00") // 128-byte tag body (syncsafe 0x0100)
	id3 = append(id3, make([]byte, 128)...)
	id3v1 := append([]byte("TAG"), make([]byte, 125)...)
	data := append(append(append([]byte{}, id3...), frames.Bytes()...), id3v1...)
	got, _, err := sim.ProbeAudio(bytes.NewReader(data))
	if err != nil || got != 3600*time.Millisecond {
		t.Fatalf("ProbeAudio = %v, %v; want 3.6s", got, err)
	}
	// Leading garbage before the first frame is skipped too.
	data = append([]byte("garbage\xff\x00"), frames.Bytes()...)
	if got, _, err := sim.ProbeAudio(bytes.NewReader(data)); err != nil || got != 3600*time.Millisecond {
		t.Fatalf("ProbeAudio(garbage+frames) = %v, %v; want 3.6s", got, err)
	}
}

// mpeg2Frame is an MPEG-2 Layer III frame: 16 kHz, 8 kbit/s, mono, 36 bytes, 576 samples.
func mpeg2Frame() []byte {
	f := make([]byte, 36)
	copy(f, []byte{0xFF, 0xF3, 0x18, 0xC0})
	return f
}

func TestProbeMP3MPEG2(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat(mpeg2Frame(), 250) // 250 × 36 ms
	got, format, err := sim.ProbeAudio(bytes.NewReader(data))
	if err != nil || format != sim.FormatMP3 || got != 9*time.Second {
		t.Fatalf("ProbeAudio = %v, %q, %v; want 9s mp3", got, format, err)
	}
}

func TestProbeMP3XingFrameCount(t *testing.T) {
	t.Parallel()
	var frames bytes.Buffer
	if err := sim.WriteMP3(&frames, 360*time.Millisecond); err != nil { // 10 frames
		t.Fatal(err)
	}
	xing := make([]byte, 144)
	copy(xing, []byte{0xFF, 0xFB, 0x18, 0xC0})
	copy(xing[4+17:], "Info")
	binary.BigEndian.PutUint32(xing[4+17+4:], 1)      // frames field present
	binary.BigEndian.PutUint32(xing[4+17+8:], 10_000) // claims 10000 frames
	got, _, err := sim.ProbeAudio(bytes.NewReader(append(xing, frames.Bytes()...)))
	if err != nil || got != 360*time.Second {
		t.Fatalf("ProbeAudio = %v, %v; want the Info header's 360s", got, err)
	}
}

func TestProbeFLAC(t *testing.T) {
	t.Parallel()
	b := []byte("fLaC")
	b = append(b, 0x80, 0, 0, 34) // last metadata block, STREAMINFO, 34 bytes
	si := make([]byte, 34)
	rate, total := uint64(44100), uint64(44100*75)
	// sample rate (20 bits) | channels-1 (3) | bps-1 (5) | total samples (36)
	packed := rate<<44 | 1<<41 | 15<<36 | total
	binary.BigEndian.PutUint64(si[10:], packed)
	b = append(b, si...)
	got, format, err := sim.ProbeAudio(bytes.NewReader(b))
	if err != nil || format != sim.FormatFLAC || got != 75*time.Second {
		t.Fatalf("ProbeAudio = %v, %q, %v; want 75s flac", got, format, err)
	}
}

func TestProbeRejectsNonAudio(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"empty":      nil,
		"text":       []byte("<html><body>not found</body></html>"),
		"one sync":   {0xFF, 0xFB, 0x18, 0xC0, 1, 2, 3},
		"bad sync":   bytes.Repeat([]byte{0xFF, 0xFF, 0xFF, 0xFF}, 100),
		"json":       []byte(`{"error":"nope"}`),
		"wav no fmt": []byte("RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd"),
	}
	for name, data := range cases {
		if d, f, err := sim.ProbeAudio(bytes.NewReader(data)); !errors.Is(err, sim.ErrNotAudio) {
			t.Errorf("%s: ProbeAudio = %v, %q, %v; want ErrNotAudio", name, d, f, err)
		}
	}
}

func TestProbeTruncatedWAV(t *testing.T) {
	t.Parallel()
	_, _, err := sim.ProbeAudio(bytes.NewReader([]byte("RIFF\x10\x00\x00\x00WAVEfmt ")))
	if err == nil || errors.Is(err, sim.ErrNotAudio) {
		t.Fatalf("ProbeAudio(truncated) = %v; want a read error", err)
	}
}

func TestProbeReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var buf bytes.Buffer
	if err := sim.WriteMP3(&buf, time.Second); err != nil {
		t.Fatal(err)
	}
	r := io.MultiReader(bytes.NewReader(buf.Bytes()[:1000]), iotest.ErrReader(boom))
	if _, _, err := sim.ProbeAudio(r); !errors.Is(err, boom) {
		t.Fatalf("ProbeAudio = %v; want the read error", err)
	}
}
