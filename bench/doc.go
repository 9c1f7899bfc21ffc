// Package bench holds the benchmarks of singbatch that need the whole stack: a private
// redis-server, the simulator and an in-process worker. They measure; they assert
// nothing. docs/benchmarks-worker.md has the command and the figures.
package bench
