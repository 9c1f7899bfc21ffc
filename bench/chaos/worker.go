package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/singbatch/singbatch/internal/childproc"
)

// worker is one `singbatch worker` process slot: it keeps its HTTP address across
// restarts, so the balancer's list stays short.
type worker struct {
	name    string
	addr    string
	cmd     *exec.Cmd
	done    chan struct{}
	stopped bool // ended on purpose (guarded by run.mu)
}

// startWorker starts slot i (again, after a kill or a stop).
func (r *run) startWorker(i int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.workers) <= i {
		addr, err := childproc.FreeAddr()
		if err != nil {
			return err
		}
		r.workers = append(r.workers, &worker{name: fmt.Sprintf("w%d", len(r.workers)+1), addr: addr})
	}
	w := r.workers[i]
	logf, err := os.OpenFile(filepath.Join(r.dir, w.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w.cmd = exec.Command(r.bin, "worker")
	w.cmd.Env = r.env(w.addr)
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	childproc.DieWithParent(w.cmd)
	if err := w.cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", w.name, err)
	}
	w.done, w.stopped = make(chan struct{}), false
	cmd, done := w.cmd, w.done
	go func() { // owned by the slot: ends with the process
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
		r.exited(i, cmd)
	}()
	r.proxy.set(i, w.addr)
	return nil
}

// exited notes a process that ended; one that ended on its own is counted and started
// again (a crash loop would show as many).
func (r *run) exited(i int, cmd *exec.Cmd) {
	r.mu.Lock()
	w := r.workers[i]
	unexpected := w.cmd == cmd && !w.stopped
	if unexpected {
		r.events.UnexpectedExits++
	}
	r.mu.Unlock()
	if unexpected {
		r.logf("%s exited on its own (%v): started again", w.name, cmd.ProcessState)
		if err := r.startWorker(i); err != nil {
			r.logf("%s: %v", w.name, err)
		}
	}
}

// stopWorker ends slot i with sig and waits for it (a SIGTERM drains for up to
// SHUTDOWN_TIMEOUT).
func (r *run) stopWorker(i int, sig syscall.Signal) {
	r.mu.Lock()
	w := r.workers[i]
	w.stopped = true
	r.mu.Unlock()
	r.proxy.set(i, "")
	w.signal(sig)
	w.wait(30 * time.Second)
}

func (w *worker) signal(sig syscall.Signal) {
	if w.cmd != nil && w.cmd.Process != nil {
		_ = w.cmd.Process.Signal(sig)
	}
}

func (w *worker) wait(d time.Duration) {
	if w.done == nil {
		return
	}
	select {
	case <-w.done:
	case <-time.After(d):
		w.signal(syscall.SIGKILL)
		<-w.done
	}
}
