package sim

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// renderSong makes the bytes every generated song file holds.
func renderSong(format string, d time.Duration) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if format == FormatMP3 {
		err = WriteMP3(&buf, d)
	} else {
		err = WriteWAV(&buf, d, 440)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: output audio: %w", err)
	}
	return buf.Bytes(), nil
}

// songName is the result file name: outputPrefix + "out" (+ a number from the second
// generation output of the same job on) + the format's extension.
func (s *Server) songName(o upstream.Output, k int) string {
	name := o.SmartContentDescriptor.OutputPrefix + "out"
	if k > 0 {
		name += strconv.Itoa(k + 1)
	}
	return name + "." + s.opts.OutputFormat
}

// songDir is OutputDir/<contentId>/<destination>; destination is cleaned as an absolute
// path so it cannot leave the repository.
func (s *Server) songDir(o upstream.Output) string {
	return filepath.Join(s.opts.OutputDir, o.ContentID, filepath.FromSlash(path.Clean("/"+o.Destination)))
}

// SongPath is where the simulator stores a generated song: contentId, destination and
// songName as a COMPLETED job reports them.
func (s *Server) SongPath(contentID, destination, songName string) string {
	return filepath.Join(s.songDir(upstream.Output{ContentID: contentID, Destination: destination}), filepath.Base(songName))
}

// writeSong writes the k-th generated song of a job (atomically: a reader never sees a
// partial file) and returns its name. Jobs writing to the same place overwrite each
// other, as at the real service (contract README §8).
func (s *Server) writeSong(o upstream.Output, k int) (string, error) {
	dir := s.songDir(o)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write result: %w", err)
	}
	name := s.songName(o, k)
	tmp, err := os.CreateTemp(dir, ".part-*")
	if err != nil {
		return "", fmt.Errorf("write result: %w", err)
	}
	err = tmp.Chmod(0o644) // CreateTemp makes it private; results are ordinary files
	if err == nil {
		_, err = tmp.Write(s.song)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write result: %w", err)
	}
	return name, nil
}
