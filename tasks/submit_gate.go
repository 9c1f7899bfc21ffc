package tasks

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// SubmitGate wraps the account-wide limiter for the upstream client
// (upstream.Options.Gate) and the submit handler (HandlerDeps.Gate), so that a CreateJob
// waits for the rate limit *before* its item is claimed rather than after.
//
// Why: a claim's CreateJob must be sent within a short budget after the claim (see
// Handlers.createBudget), since a later run that finds the claim old and no job creates
// the job itself. If the limiter's wait counted against that budget, a busy or throttled
// account would use up every budget waiting, and items would cycle between claiming and
// reconciling without ever being sent. So the handler takes the rate-limit token first
// (Prepay), claims, and sends at once: the client's own Wait sees the token in the
// call's context and does not wait a second time. Every other call waits as usual.
type SubmitGate struct {
	inner upstream.Gate
}

// NewSubmitGate wraps the account-wide gate (a limiter.Limiter).
func NewSubmitGate(inner upstream.Gate) *SubmitGate { return &SubmitGate{inner: inner} }

// prepaidKey marks a context carrying a token already taken from the inner gate.
type prepaidKey struct{}

type prepaid struct {
	action  string
	release func()
	used    atomic.Bool
}

// Prepay waits for one call of action on the inner gate and returns a context whose
// first call of that action through Wait does not wait again, and the token's release.
// The caller must call release when done with the context (deferred): it frees a token
// that was never used, and is harmless after the call has released it.
func (g *SubmitGate) Prepay(ctx context.Context, action string) (context.Context, func(), error) {
	release, err := g.inner.Wait(ctx, action)
	if err != nil {
		return ctx, func() {}, err
	}
	return context.WithValue(ctx, prepaidKey{}, &prepaid{action: action, release: release}), release, nil
}

// PreparePoll is Prepay for a poll's call, which may be a group's ListJobs: the token
// comes from the poll share (GetJob's), as a poll's should, whatever the call.
func (g *SubmitGate) PreparePoll(ctx context.Context, call string) (context.Context, func(), error) {
	release, err := g.inner.Wait(ctx, upstream.ActionGetJob)
	if err != nil {
		return ctx, func() {}, err
	}
	return context.WithValue(ctx, prepaidKey{}, &prepaid{action: call, release: release}), release, nil
}

// Wait is upstream.Gate's: a prepaid token of the context is used once, else the inner
// gate decides.
func (g *SubmitGate) Wait(ctx context.Context, action string) (func(), error) {
	if p, ok := ctx.Value(prepaidKey{}).(*prepaid); ok && p.action == action && p.used.CompareAndSwap(false, true) {
		return p.release, nil
	}
	return g.inner.Wait(ctx, action)
}

// Backlog reports whether CreateJobs wait for the quota (limiter.Limiter.SubmitBacklog),
// when the inner gate can tell.
func (g *SubmitGate) Backlog() bool {
	b, ok := g.inner.(interface{ SubmitBacklog() bool })
	return ok && b.SubmitBacklog()
}

// Throttled is upstream.Gate's: passed on.
func (g *SubmitGate) Throttled(action string, retryAfter time.Duration) {
	g.inner.Throttled(action, retryAfter)
}

// prepay takes an action's token before the item is looked at a last time (a claim, or
// a poll's check that no callback came first), when the handlers have the gate. The
// returned release must be deferred by the caller.
func (h *Handlers) prepay(ctx context.Context, action string) (context.Context, func(), error) {
	if h.gate == nil {
		return ctx, func() {}, nil
	}
	return h.gate.Prepay(ctx, action)
}

// backlog reports whether CreateJobs wait for the quota (SubmitGate.Backlog).
func (h *Handlers) backlog() bool { return h.gate != nil && h.gate.Backlog() }

// preparePoll takes a poll's token (SubmitGate.PreparePoll), when the handlers have the gate.
func (h *Handlers) preparePoll(ctx context.Context, call string) (context.Context, func(), error) {
	if h.gate == nil {
		return ctx, func() {}, nil
	}
	return h.gate.PreparePoll(ctx, call)
}
