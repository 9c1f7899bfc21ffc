// Package layering holds the test that keeps imports pointing down the house:
// cmd → tasks → batch → upstream, with internal/ helpers below them all. It has no
// code of its own.
package layering
