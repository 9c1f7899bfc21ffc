// Package gomod finds the module's root, for the commands under bench/ that build or
// write into the tree whatever directory they are run from.
package gomod

import (
	"os"
	"path/filepath"
)

// Root is the folder holding go.mod, found upwards from the working directory (the
// working directory itself if there is none).
func Root() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
