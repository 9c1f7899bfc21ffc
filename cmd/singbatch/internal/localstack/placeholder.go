package localstack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Placeholder in a manifest stands for the manifest's own folder: `run --sim` serves
// that folder over HTTP on loopback and replaces every occurrence with the folder's URL,
// so "{{dir}}/audio/alice-1.wav" in examples/demo.jsonl becomes
// "http://127.0.0.1:PORT/f1/audio/alice-1.wav". The service itself cannot reach this
// machine, so without --sim a manifest using it is refused.
const Placeholder = "{{dir}}"

// copyReplacing copies src to dst line by line, replacing old by repl.
func copyReplacing(src, dst string, old, repl []byte) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("run: manifest: %w", err)
	}
	defer in.Close() // read-only
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("run: manifest copy: %w", err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("run: manifest copy: %w", cerr)
		}
	}()
	br, bw := bufio.NewReaderSize(in, 64<<10), bufio.NewWriterSize(out, 64<<10)
	for {
		line, rerr := br.ReadBytes('\n')
		if _, err := bw.Write(bytes.ReplaceAll(line, old, repl)); err != nil {
			return fmt.Errorf("run: manifest copy: %w", err)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("run: read manifest %s: %w", src, rerr)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("run: manifest copy: %w", err)
	}
	return nil
}

// usesPlaceholder reports whether a file contains the placeholder, reading it in
// constant memory.
func usesPlaceholder(name string) (bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return false, fmt.Errorf("run: manifest: %w", err)
	}
	defer f.Close() // read-only
	ph := []byte(Placeholder)
	buf := make([]byte, 64<<10)
	keep := 0 // bytes carried over from the previous chunk, in case the placeholder spans two
	for {
		n, err := f.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], ph) {
			return true, nil
		}
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("run: read manifest %s: %w", name, err)
		}
		total := keep + n
		keep = min(len(ph)-1, total)
		copy(buf, buf[total-keep:total])
	}
}

// CheckNoPlaceholder refuses manifests that use the placeholder in a run against the
// service, which could not fetch files from this machine.
func CheckNoPlaceholder(files []string) error {
	for _, name := range files {
		uses, err := usesPlaceholder(name)
		if err != nil {
			return err
		}
		if uses {
			return fmt.Errorf("run: manifest %s uses %s, which only --sim serves: the service cannot fetch files from this machine; "+
				"put the audio where the service can download it and write its URLs (or add --sim)", name, Placeholder)
		}
	}
	return nil
}
