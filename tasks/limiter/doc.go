// Package limiter is the account-wide upstream rate limit, shared by every worker
// process through Redis. Every upstream call waits for it (Limiter.Wait).
//
//  1. Hard cap. One GCRA bucket (BucketAll) at the effective rate Margin × current rate.
//     Every upstream call takes one token from it, so the cap holds whatever the layers
//     below do. Its burst is 1 plus a tolerance τ = min(2 intervals, 10 ms): a call may
//     come τ before its slot, so waiters ask a little early instead of a little late and
//     the schedule does not slip by the wake-up latency on every grant. Grants are thus
//     spaced on Redis's clock so that k+1 of them span at least k/(Margin·rate) − τ. At
//     the default Margin 0.97 and an integer rate r, r+1 calls in a half-open 1 s window
//     would need the r gaps (1.031 s together) to shrink by more than 31 ms − τ ≥ 21 ms
//     between our grant and the service's clock: that is the jitter allowance, paid for
//     with 3 % of the quota. (For a fractional rate the bound is ⌈Margin·rate⌉.)
//     The window (window.go) then bounds what reaches the service in any 1 s
//     whatever the network's delay: at most WindowLimit calls sent and not yet known to
//     have arrived more than 1 s ago. The bucket's spacing keeps it from biting in
//     normal operation; it only holds back calls that jitter has bunched together.
//  2. Guarantee. Each share has a reserved GCRA bucket at its fraction of the effective
//     rate. A waiter that gets a token there holds a ticket: it is within its share's
//     guarantee. While a ticket holder waits for the account bucket it says so in the
//     state hash ("pending:<share>", until just after its next try).
//  3. Borrowing. A waiter without a ticket may take an account token too (capacity the
//     other share leaves unused), but not while a ticket holder of the other share is
//     pending. With one share idle, the busy one gets the whole rate; with both busy,
//     tickets of both arrive at exactly the account rate and each share gets its
//     fraction. The marker matters when the ticket holder is farther from Redis than the
//     borrowers: without it, they would win every race for the slot.
//
// Priorities (batch priority, enqueue --priority) order the submit share's waiters.
// In a process, the turn to talk to Redis goes to the highest priority waiting, and a
// holder that sleeps hands it over when a higher one arrives. Across processes, a
// submit waiter denied by the account bucket says until when it waits ("prio:<name>"),
// and a waiter of a lower priority yields while such a mark is fresh. Neither starves a
// lower priority: a priority passed over StarveAfter times in a row gets the next turn,
// and a waiter that has yielded for StarveAfter intervals stops yielding.
//
// One script per attempt (attempt.lua): the marks of higher priorities, the reserved
// bucket, the other share's pending mark, the account bucket, the marks the waiter
// leaves and, once the buckets granted, the window's first try. So an uncontended grant
// costs one round trip (besides the shared state's read, at most every RefreshEvery),
// and the window's release one more after the call. The GCRA is redis_rate's, copied to
// the bit (gcra.lua) and on its keys, so that workers of earlier releases, which call
// redis_rate, share the buckets. A ticket still lives in the process: a reserved token
// taken in an attempt the account bucket denied is kept (across waiters of the share in
// this process) until the account bucket grants, so no token is ever taken and then
// wasted. A share's waiters queue in-process so that only one of them per process talks
// to Redis at a time.
//
// Adaptive rate (AIMD). The state hash holds the rate after the last throttle ("base"),
// when it starts climbing again ("since", the end of the pause), the pause itself
// ("paused_until", from Retry-After) and the last decrease. The current rate is a pure
// function of those and the clock (base + IncreasePerSecond·Rate per second since
// "since", within [MinRate, Rate]), so recovery needs no writer. Throttled updates the
// hash under WATCH/MULTI and cuts the rate at most once per DecreaseWindow, so one burst
// of 429s seen by many processes halves it once. Processes re-read the hash at most every
// RefreshEvery: a cut or a pause reaches the others within that time (the process that
// saw the 429 applies it at once). AIMD times come from the injected clock (unix ms in
// the hash, so the processes' clocks are assumed in step to a few ms); the buckets run on
// Redis time.
//
// Key names come from internal/keyspace (Options.Keys). A bucket's Redis key is "rate:" +
// Keys.RateLimit(name): the prefix is redis_rate's, kept for earlier releases' workers.
package limiter
