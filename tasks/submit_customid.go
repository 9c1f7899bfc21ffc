package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// CustomID is the customId of one attempt of an item:
//
//	"sb-" + 16 hex digits of sha256(batch "\x00" item "\x00" enqueuedAt) + "-a" + attempt
//
// e.g. "sb-3f9a0c1d2e4b5a69-a1", at most 3+16+2+10 = 31 characters (the service wants
// fewer than 64). It is deterministic, so it is known before CreateJob is sent and is
// recorded with the claim; unique per intended job, so ListJobs by customId finds this
// attempt's job and no other. Names are hashed, not embedded, because batch and item
// names together may exceed 63 characters. enqueuedAt (when the attempt became
// pending, in Unix ms) keeps ids apart across deployments sharing one account and
// across a Redis that was wiped and refilled with the same batch and item names.
func CustomID(batchName, item string, attempt int, enqueuedAt time.Time) string {
	h := sha256.New()
	h.Write([]byte(batchName))
	h.Write([]byte{0})
	h.Write([]byte(item))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(int64(batch.UnixMillisOf(enqueuedAt)), 10)))
	sum := h.Sum(nil)
	return "sb-" + hex.EncodeToString(sum[:8]) + "-a" + strconv.Itoa(attempt)
}
