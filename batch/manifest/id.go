package manifest

import (
	"fmt"
)

// MaxIDLen bounds an item id: it becomes part of a destination folder and of keys.
const MaxIDLen = 64

// checkID returns why id is not a valid item id, or "". Ids are ASCII letters, digits,
// '.', '_' and '-', starting with a letter or digit, so that they are safe in a
// destination path ("/singbatch/<id>"), a Redis key and a customId.
func checkID(id string) string {
	if len(id) > MaxIDLen {
		return fmt.Sprintf("must be at most %d characters (has %d)", MaxIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return "only ASCII letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit"
		}
	}
	return ""
}

// batchSets remembers what one batch has used so far: item ids, and the names of
// models its trainings create (the contract wants them unique).
type batchSets struct {
	ids    hashSet
	models hashSet
	// checkIDs false: ids are not remembered (WithoutDuplicateCheck), every id is new.
	checkIDs bool
}

func newBatchSets(checkIDs bool) *batchSets {
	return &batchSets{ids: newHashSet(), models: newHashSet(), checkIDs: checkIDs}
}

// addID adds an item id and reports whether it was new (always, without checkIDs).
func (s *batchSets) addID(id string) bool {
	return !s.checkIDs || s.ids.add(id)
}
