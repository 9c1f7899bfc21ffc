package sim

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// rng is the simulator's one seeded source of randomness.
type rng struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRNG(seed uint64) *rng {
	return &rng{r: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))}
}

func (g *rng) float() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.r.Float64()
}

// chance reports true with probability p; p <= 0 never draws, so turning a fault off
// does not shift the sequence of other draws.
func (g *rng) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	return g.float() < p
}

// factor is uniform in [1-j, 1+j].
func (g *rng) factor(j float64) float64 {
	if j == 0 {
		return 1
	}
	return 1 + j*(2*g.float()-1)
}

// uuid returns a random (version 4) UUID string.
func (g *rng) uuid() string {
	g.mu.Lock()
	a, b := g.r.Uint64(), g.r.Uint64()
	g.mu.Unlock()
	a = a&^(0xF<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xFFFF, a&0xFFFF, b>>48, b&0xFFFFFFFFFFFF)
}
