package tasks

import (
	"testing"
	"time"
)

// The backstop's grace is the configured one until callbackDelayMinSamples callbacks
// are known, then twice the longest recent delay, within [floor, configured]; old
// delays leave the window.
func TestCallbackGraceLearned(t *testing.T) {
	t.Parallel()
	const configured, floor = 30 * time.Second, 500 * time.Millisecond
	var c callbackDelays
	for i := range callbackDelayMinSamples - 1 {
		c.note(time.Duration(i) * 100 * time.Millisecond)
	}
	if got := c.grace(configured, floor); got != configured {
		t.Errorf("with %d delays, grace %v, want the configured %v", callbackDelayMinSamples-1, got, configured)
	}
	c.note(2 * time.Second)
	if got := c.grace(configured, floor); got != 4*time.Second {
		t.Errorf("grace %v, want twice the longest delay, 4s", got)
	}
	for range callbackDelayWindow {
		c.note(-time.Second) // a clock that ran ahead: counted as no delay
	}
	if got := c.grace(configured, floor); got != floor {
		t.Errorf("after prompt callbacks filled the window, grace %v, want the floor %v", got, floor)
	}
	c.note(time.Minute)
	if got := c.grace(configured, floor); got != configured {
		t.Errorf("after a callback a minute late, grace %v, want at most the configured %v", got, configured)
	}
}
