package sim

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// WAV written by WriteWAV: 8 kHz mono unsigned 8-bit PCM, 8000 bytes a second, so a
// few seconds stay a few kilobytes.
const (
	wavRate     = 8000
	wavMaxBytes = math.MaxUint32 - 36
)

// WriteWAV writes a RIFF/WAVE file of duration d holding a sine tone of freqHz (0 gives
// silence), 8 kHz mono 8-bit PCM.
func WriteWAV(w io.Writer, d time.Duration, freqHz float64) error {
	if d < 0 {
		return errors.New("write wav: negative duration")
	}
	if freqHz < 0 || math.IsNaN(freqHz) || math.IsInf(freqHz, 0) {
		return fmt.Errorf("write wav: bad frequency %v", freqHz)
	}
	n := int64(math.Round(d.Seconds() * wavRate))
	if n > wavMaxBytes {
		return fmt.Errorf("write wav: %v is too long for a WAV file", d)
	}
	bw := bufio.NewWriter(w)
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)      // fmt chunk size
	binary.LittleEndian.PutUint16(h[20:], 1)       // PCM
	binary.LittleEndian.PutUint16(h[22:], 1)       // mono
	binary.LittleEndian.PutUint32(h[24:], wavRate) // sample rate
	binary.LittleEndian.PutUint32(h[28:], wavRate) // byte rate
	binary.LittleEndian.PutUint16(h[32:], 1)       // block align
	binary.LittleEndian.PutUint16(h[34:], 8)       // bits per sample
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(n))
	if _, err := bw.Write(h[:]); err != nil {
		return fmt.Errorf("write wav: %w", err)
	}
	step := 2 * math.Pi * freqHz / wavRate
	chunk := make([]byte, 4096)
	for i := int64(0); i < n; {
		k := int(min(int64(len(chunk)), n-i))
		for x := range k {
			// Half amplitude around the unsigned midpoint 128.
			chunk[x] = byte(math.Round(128 + 63*math.Sin(step*float64(i+int64(x)))))
		}
		if _, err := bw.Write(chunk[:k]); err != nil {
			return fmt.Errorf("write wav: %w", err)
		}
		i += int64(k)
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

// MP3 written by WriteMP3: MPEG-1 Layer III, 32 kHz, 32 kbit/s CBR, mono, no CRC.
// Each frame is 144 bytes and 1152 samples (36 ms); the side information is all zero,
// which decoders play as silence.
var mp3SilentHeader = [4]byte{0xFF, 0xFB, 0x18, 0xC0}

const (
	mp3SilentFrameLen = 144
	mp3SilentFrameDur = 36 * time.Millisecond
)

// WriteMP3 writes a silent constant-bit-rate MP3 of at least duration d (rounded up to
// whole 36 ms frames): 4000 bytes a second.
func WriteMP3(w io.Writer, d time.Duration) error {
	if d < 0 {
		return errors.New("write mp3: negative duration")
	}
	frames := int64((d + mp3SilentFrameDur - 1) / mp3SilentFrameDur)
	var frame [mp3SilentFrameLen]byte
	copy(frame[:], mp3SilentHeader[:])
	bw := bufio.NewWriter(w)
	for i := int64(0); i < frames; i++ {
		if _, err := bw.Write(frame[:]); err != nil {
			return fmt.Errorf("write mp3: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write mp3: %w", err)
	}
	return nil
}
