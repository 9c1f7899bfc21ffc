package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// fieldAt holds an item's origin as "K:LINE", K the number add_items.lua gave its
// manifest in the batch: the manifest's path is stored once per batch (field "file:K"
// of Keys.BatchManifests) instead of in every item, 40 to 60 bytes of each record.
// Records stored by earlier releases, and origins that are not "MANIFEST:LINE", keep
// field "origin".
const fieldAt = "at"

// manifestNames remembers the manifests' numbers read so far. A number is given once
// and never changes (no batch is ever removed), so a name once read is never stale.
type manifestNames struct {
	mu    sync.Mutex
	files map[string]string // batch + "\x00" + K -> path
}

// itemRecord decodes an item hash as itemFromHash does, with its origin read back
// from its manifest's number.
func (s *Store) itemRecord(ctx context.Context, key string, h map[string]string, request string) (ItemRecord, error) {
	rec, err := itemFromHash(key, h, request)
	if err != nil || rec.Origin != "" || h[fieldAt] == "" {
		return rec, err
	}
	k, line, ok := strings.Cut(h[fieldAt], ":")
	if !ok {
		return rec, fmt.Errorf("%s: field at: %q is not K:LINE", key, h[fieldAt])
	}
	file, err := s.manifestFile(ctx, rec.Batch, k)
	if err != nil {
		return rec, fmt.Errorf("%s: %w", key, err)
	}
	rec.Origin = file + ":" + line
	return rec, nil
}

func (s *Store) manifestFile(ctx context.Context, batch, k string) (string, error) {
	id := batch + "\x00" + k
	s.manifests.mu.Lock()
	file, ok := s.manifests.files[id]
	s.manifests.mu.Unlock()
	if ok {
		return file, nil
	}
	file, err := s.rdb.HGet(ctx, s.keys.BatchManifests(batch), "file:"+k).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("manifest %s of batch %s: not recorded", k, batch)
	}
	if err != nil {
		return "", fmt.Errorf("manifest %s of batch %s: %w", k, batch, err)
	}
	s.manifests.mu.Lock()
	if s.manifests.files == nil {
		s.manifests.files = map[string]string{}
	}
	s.manifests.files[id] = file
	s.manifests.mu.Unlock()
	return file, nil
}
