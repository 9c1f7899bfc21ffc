package batch

import (
	_ "embed" // Lua scripts
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/singbatch/singbatch/internal/keyspace"
)

// Errors of Store lookups, matched with errors.Is.
var (
	ErrBatchNotFound = errors.New("batch not found")
	ErrItemNotFound  = errors.New("item not found")
)

var (
	//go:embed add_items.lua
	addItemsLua string
	//go:embed transition.lua
	transitionLua string
	//go:embed new_attempt.lua
	newAttemptLua string
	//go:embed add_waiter.lua
	addWaiterLua string
	//go:embed pending_waiters.lua
	pendingWaitersLua string
	//go:embed ack_waiters.lua
	ackWaitersLua string
	//go:embed set_model.lua
	setModelLua string
	//go:embed claim_scout.lua
	claimScoutLua string
	//go:embed release_scout.lua
	releaseScoutLua string
	//go:embed claim_age.lua
	claimAgeLua string
	//go:embed join_group.lua
	joinGroupLua string
	//go:embed claim.lua
	claimLua string
	//go:embed claim_group_list.lua
	claimGroupListLua string
)

// Store reads and writes the Redis records of batches, items and models. Every change
// that touches more than one key runs as one Lua script, so an item's state and its
// batch's counters can never disagree, whatever crashes or races. It is safe for
// concurrent use.
type Store struct {
	rdb   redis.UniversalClient
	keys  keyspace.Keys
	clock func() time.Time

	addItems       *redis.Script
	transition     *redis.Script
	newAttempt     *redis.Script
	addWaiter      *redis.Script
	pendingWaiters *redis.Script
	ackWaiters     *redis.Script
	setModel       *redis.Script
	claimScout     *redis.Script
	releaseScout   *redis.Script
	claimAge       *redis.Script
	joinGroup      *redis.Script
	claimScript    *redis.Script
	claimGroupList *redis.Script

	repl      *replication // nil: claims are not waited for (SetReplication)
	manifests manifestNames
}

// NewStore returns a store on rdb. clock gives the times recorded (time.Now in
// production); nil means time.Now.
func NewStore(rdb redis.UniversalClient, keys keyspace.Keys, clock func() time.Time) *Store {
	if clock == nil {
		clock = time.Now
	}
	return &Store{
		rdb:            rdb,
		keys:           keys,
		clock:          clock,
		addItems:       redis.NewScript(addItemsLua),
		transition:     redis.NewScript(transitionLua),
		newAttempt:     redis.NewScript(newAttemptLua),
		addWaiter:      redis.NewScript(addWaiterLua),
		pendingWaiters: redis.NewScript(pendingWaitersLua),
		ackWaiters:     redis.NewScript(ackWaitersLua),
		setModel:       redis.NewScript(setModelLua),
		claimScout:     redis.NewScript(claimScoutLua),
		releaseScout:   redis.NewScript(releaseScoutLua),
		claimAge:       redis.NewScript(claimAgeLua),
		joinGroup:      redis.NewScript(joinGroupLua),
		claimScript:    redis.NewScript(claimLua),
		claimGroupList: redis.NewScript(claimGroupListLua),
	}
}

// Keys returns the key names the store uses.
func (s *Store) Keys() keyspace.Keys { return s.keys }

func (s *Store) nowMs() string { return msString(s.clock()) }
