package sim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotAudio is returned by ProbeAudio for data that is not a recognised audio file.
var ErrNotAudio = errors.New("not a recognised audio file (the simulator reads WAV, MP3 and FLAC)")

// Audio formats ProbeAudio names.
const (
	FormatWAV  = "wav"
	FormatMP3  = "mp3"
	FormatFLAC = "flac"
)

// mp3SearchWindow is how far into the data (after an ID3v2 tag) the first MP3 frame is
// looked for.
const mp3SearchWindow = 64 << 10

// ProbeAudio reads an audio file and returns its playing time and format: WAV (duration
// from the data size and byte rate), MP3 (MPEG-1/2/2.5 Layer III: the Xing/Info frame
// count when present, else every frame is walked, so VBR is exact too) or FLAC (from
// STREAMINFO). Anything else is ErrNotAudio; read errors are returned wrapped.
func ProbeAudio(r io.Reader) (time.Duration, string, error) {
	br := bufio.NewReaderSize(r, mp3SearchWindow+8<<10)
	head, err := br.Peek(12)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, "", fmt.Errorf("probe audio: %w", err)
	}
	switch {
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		d, err := probeWAV(br)
		return d, FormatWAV, err
	case len(head) >= 4 && string(head[0:4]) == "fLaC":
		d, err := probeFLAC(br)
		return d, FormatFLAC, err
	}
	d, err := probeMP3(br)
	if err != nil {
		return 0, "", err
	}
	return d, FormatMP3, nil
}

func readFull(br *bufio.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func probeWAV(br *bufio.Reader) (time.Duration, error) {
	if _, err := br.Discard(12); err != nil {
		return 0, fmt.Errorf("probe wav: %w", err)
	}
	var byteRate uint32
	for {
		ch, err := readFull(br, 8)
		if err != nil {
			return 0, fmt.Errorf("probe wav: no data chunk: %w", err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 {
				return 0, fmt.Errorf("probe wav: fmt chunk of %d bytes: %w", size, ErrNotAudio)
			}
			f, err := readFull(br, 16)
			if err != nil {
				return 0, fmt.Errorf("probe wav: fmt chunk: %w", err)
			}
			byteRate = binary.LittleEndian.Uint32(f[8:12])
			if _, err := br.Discard(int(size-16) + int(size&1)); err != nil {
				return 0, fmt.Errorf("probe wav: fmt chunk: %w", err)
			}
		case "data":
			if byteRate == 0 {
				return 0, fmt.Errorf("probe wav: data before a usable fmt chunk: %w", ErrNotAudio)
			}
			n := int64(size)
			if size == 0 || size == 0xFFFFFFFF { // written while streaming: count what is there
				n, err = io.Copy(io.Discard, br)
				if err != nil {
					return 0, fmt.Errorf("probe wav: data: %w", err)
				}
			}
			return time.Duration(float64(n) / float64(byteRate) * float64(time.Second)), nil
		default:
			if _, err := br.Discard(int(size) + int(size&1)); err != nil {
				return 0, fmt.Errorf("probe wav: chunk %q: %w", id, err)
			}
		}
	}
}

func probeFLAC(br *bufio.Reader) (time.Duration, error) {
	b, err := readFull(br, 4+4+34)
	if err != nil {
		return 0, fmt.Errorf("probe flac: %w", err)
	}
	if b[4]&0x7F != 0 { // the first metadata block must be STREAMINFO
		return 0, fmt.Errorf("probe flac: no STREAMINFO: %w", ErrNotAudio)
	}
	si := b[8:]
	rate := uint32(si[10])<<12 | uint32(si[11])<<4 | uint32(si[12])>>4
	total := uint64(si[13]&0x0F)<<32 | uint64(binary.BigEndian.Uint32(si[14:18]))
	if rate == 0 || total == 0 {
		return 0, fmt.Errorf("probe flac: length not recorded: %w", ErrNotAudio)
	}
	return time.Duration(float64(total) / float64(rate) * float64(time.Second)), nil
}

// mp3Header is a decoded MPEG audio Layer III frame header.
type mp3Header struct {
	version    int // 1, 2, or 25 (MPEG-2.5)
	sampleRate int
	samples    int // per frame
	length     int // bytes, header included
	mono       bool
}

var (
	mp3BitratesV1  = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, -1}
	mp3BitratesV2  = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, -1}
	mp3SampleRates = map[int][3]int{1: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 25: {11025, 12000, 8000}}
)

// parseMP3Header decodes a Layer III header; ok is false for anything else (including
// free-format frames, whose length cannot be known from the header).
func parseMP3Header(b []byte) (mp3Header, bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return mp3Header{}, false
	}
	var h mp3Header
	switch (b[1] >> 3) & 3 {
	case 0:
		h.version = 25
	case 2:
		h.version = 2
	case 3:
		h.version = 1
	default:
		return mp3Header{}, false
	}
	if (b[1]>>1)&3 != 1 { // Layer III only
		return mp3Header{}, false
	}
	bi, si := b[2]>>4, (b[2]>>2)&3
	if si == 3 {
		return mp3Header{}, false
	}
	h.sampleRate = mp3SampleRates[h.version][si]
	pad := int(b[2]>>1) & 1
	h.mono = b[3]>>6 == 3
	var kbps int
	if h.version == 1 {
		kbps, h.samples = mp3BitratesV1[bi], 1152
		h.length = 144*kbps*1000/h.sampleRate + pad
	} else {
		kbps, h.samples = mp3BitratesV2[bi], 576
		h.length = 72*kbps*1000/h.sampleRate + pad
	}
	if kbps <= 0 || h.length < 4 {
		return mp3Header{}, false
	}
	return h, true
}

func (h mp3Header) sameStream(o mp3Header) bool {
	return h.version == o.version && h.sampleRate == o.sampleRate
}

// xingFrames returns the frame count of a Xing/Info frame starting at f, if it is one.
func (h mp3Header) xingFrames(f []byte) (int, bool) {
	side := 32
	switch {
	case h.version == 1 && h.mono:
		side = 17
	case h.version != 1 && h.mono:
		side = 9
	case h.version != 1:
		side = 17
	}
	off := 4 + side
	if len(f) < off+12 {
		return 0, false
	}
	tag := string(f[off : off+4])
	if tag != "Xing" && tag != "Info" {
		return 0, false
	}
	if binary.BigEndian.Uint32(f[off+4:off+8])&1 == 0 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(f[off+8 : off+12])), true
}

func probeMP3(br *bufio.Reader) (time.Duration, error) {
	if err := skipID3v2(br); err != nil {
		return 0, err
	}
	win, err := br.Peek(mp3SearchWindow)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, fmt.Errorf("probe audio: %w", err)
	}
	start, first := -1, mp3Header{}
	for i := bytes.IndexByte(win, 0xFF); i >= 0 && i+4 <= len(win); {
		if h, ok := parseMP3Header(win[i:]); ok {
			next := i + h.length
			// Two consecutive consistent frames (or one that ends the data exactly)
			// make a false sync in arbitrary bytes unlikely.
			if next == len(win) && len(win) < mp3SearchWindow {
				start, first = i, h
				break
			}
			if next+4 <= len(win) {
				if h2, ok := parseMP3Header(win[next:]); ok && h.sameStream(h2) {
					start, first = i, h
					break
				}
			}
		}
		j := bytes.IndexByte(win[i+1:], 0xFF)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if start < 0 {
		return 0, ErrNotAudio
	}
	if _, err := br.Discard(start); err != nil {
		return 0, fmt.Errorf("probe mp3: %w", err)
	}
	if f, _ := br.Peek(first.length); len(f) > 0 {
		if n, ok := first.xingFrames(f); ok && n > 0 {
			return samplesDuration(int64(n)*int64(first.samples), first.sampleRate), nil
		}
	}
	var samples int64
	for {
		b, err := br.Peek(4)
		if len(b) < 4 {
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("probe mp3: %w", err)
			}
			break
		}
		h, ok := parseMP3Header(b)
		if !ok || !h.sameStream(first) {
			break // a trailing tag (ID3v1, APE) or junk ends the audio
		}
		samples += int64(h.samples)
		if _, err := br.Discard(h.length); err != nil {
			if errors.Is(err, io.EOF) {
				break // a truncated last frame still counts
			}
			return 0, fmt.Errorf("probe mp3: %w", err)
		}
	}
	return samplesDuration(samples, first.sampleRate), nil
}

func samplesDuration(samples int64, rate int) time.Duration {
	return time.Duration(float64(samples) / float64(rate) * float64(time.Second))
}

// skipID3v2 discards a leading ID3v2 tag.
func skipID3v2(br *bufio.Reader) error {
	b, err := br.Peek(10)
	if len(b) < 10 || string(b[0:3]) != "ID3" {
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("probe audio: %w", err)
		}
		return nil
	}
	size := int(b[6]&0x7F)<<21 | int(b[7]&0x7F)<<14 | int(b[8]&0x7F)<<7 | int(b[9]&0x7F)
	size += 10
	if b[5]&0x10 != 0 { // footer present
		size += 10
	}
	if _, err := br.Discard(size); err != nil {
		return fmt.Errorf("probe mp3: ID3v2 tag: %w", err)
	}
	return nil
}
