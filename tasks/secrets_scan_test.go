package tasks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A needle is one form of a secret to look for.
type needle struct {
	label string
	b     []byte
}

// secretNeedles are the forms in which a secret could land in Redis: raw, JSON-escaped
// (once, twice, with and without HTML escaping), URL-escaped, hex, and base64 (both
// alphabets, at each of the three alignments it could have inside a longer encoded
// value: only the characters that depend on the secret's bytes alone). The marker all
// test secrets share catches a secret cut short.
func secretNeedles(secrets map[string]string) []needle {
	var out []needle
	add := func(label, v string) {
		if len(v) < len(secretMarker) {
			panic("needle too short to be distinctive: " + label)
		}
		for _, n := range out {
			if string(n.b) == v {
				return
			}
		}
		out = append(out, needle{label: label, b: []byte(v)})
	}
	add("the marker of every test secret", secretMarker)
	names := make([]string, 0, len(secrets))
	for n := range secrets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		s := secrets[name]
		add(name+" (raw)", s)
		once := jsonString(s, true)
		add(name+" (JSON-escaped)", once)
		add(name+" (JSON-escaped, no HTML escaping)", jsonString(s, false))
		add(name+" (JSON-escaped twice)", jsonString(once, true))
		add(name+" (URL query-escaped)", url.QueryEscape(s))
		add(name+" (URL path-escaped)", url.PathEscape(s))
		add(name+" (hex)", hex.EncodeToString([]byte(s)))
		for _, enc := range []struct {
			name string
			e    *base64.Encoding
		}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
			for off := range 3 {
				add(fmt.Sprintf("%s (%s, offset %d)", name, enc.name, off), base64Core(enc.e, s, off))
			}
		}
	}
	return out
}

// jsonString is s as a JSON string, without its quotes.
func jsonString(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	out := strings.TrimSpace(buf.String())
	return out[1 : len(out)-1]
}

// base64Core is the part of the base64 encoding of off bytes, then s, then anything,
// that depends on s alone: the characters whose six bits all come from s.
func base64Core(enc *base64.Encoding, s string, off int) string {
	e := enc.EncodeToString(append(make([]byte, off), s...))
	first := (8*off + 5) / 6       // first character starting at or after s
	last := 8 * (off + len(s)) / 6 // characters ending at or before s's end
	return e[first:last]
}

// redisEntry is one key's type and contents: field names and values, members and
// scores, stream ids, fields and values.
type redisEntry struct {
	typ   string
	parts []redisPart
}

// redisPart is one string of a key's contents and where it is, for reports.
type redisPart struct{ where, s string }

// redisSnapshot is every key of a database.
type redisSnapshot map[string]redisEntry

// snapshotRedis reads every key of the database (SCAN over the whole keyspace) with the
// command its type calls for. Keys may vanish or change while a worker runs: a key gone
// is skipped, one whose type changed under the read is read again.
func snapshotRedis(ctx context.Context, rdb *redis.Client) (redisSnapshot, error) {
	snap := redisSnapshot{}
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		for _, k := range keys {
			if _, ok := snap[k]; ok {
				continue // SCAN may return a key twice
			}
			e, ok, err := readRedisKey(ctx, rdb, k)
			if err != nil {
				return nil, err
			}
			if ok {
				snap[k] = e
			}
		}
		if cursor = next; cursor == 0 {
			return snap, nil
		}
	}
}

func readRedisKey(ctx context.Context, rdb *redis.Client, key string) (redisEntry, bool, error) {
	var lastErr error
	for range 3 {
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			return redisEntry{}, false, fmt.Errorf("type %s: %w", key, err)
		}
		e := redisEntry{typ: typ}
		switch typ {
		case "none":
			return e, false, nil
		case "string":
			var v string
			if v, err = rdb.Get(ctx, key).Result(); err == nil {
				e.add("the value", v)
			}
		case "hash":
			var m map[string]string
			if m, err = rdb.HGetAll(ctx, key).Result(); err == nil {
				for f, v := range m {
					e.add("a field name", f)
					e.add("field "+strconv.Quote(f), v)
				}
			}
		case "list":
			var vs []string
			if vs, err = rdb.LRange(ctx, key, 0, -1).Result(); err == nil {
				for i, v := range vs {
					e.add("element "+strconv.Itoa(i), v)
				}
			}
		case "set":
			var vs []string
			if vs, err = rdb.SMembers(ctx, key).Result(); err == nil {
				for _, v := range vs {
					e.add("a member", v)
				}
			}
		case "zset":
			var zs []redis.Z
			if zs, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result(); err == nil {
				for _, z := range zs {
					m := fmt.Sprint(z.Member)
					e.add("a member", m)
					e.add("the score of "+strconv.Quote(m), strconv.FormatFloat(z.Score, 'g', -1, 64))
				}
			}
		case "stream":
			var msgs []redis.XMessage
			if msgs, err = rdb.XRange(ctx, key, "-", "+").Result(); err == nil {
				for _, m := range msgs {
					e.add("an entry id", m.ID)
					for f, v := range m.Values {
						e.add("a field name of entry "+m.ID, f)
						e.add("field "+strconv.Quote(f)+" of entry "+m.ID, fmt.Sprint(v))
					}
				}
			}
		default:
			return e, false, fmt.Errorf("key %s: type %s: the walk cannot read it", key, typ)
		}
		if errors.Is(err, redis.Nil) {
			return e, false, nil // gone between TYPE and the read
		}
		if err == nil {
			return e, true, nil
		}
		lastErr = fmt.Errorf("read %s %s: %w", typ, key, err) // type changed under the read: again
	}
	return redisEntry{}, false, lastErr
}

func (e *redisEntry) add(where, s string) { e.parts = append(e.parts, redisPart{where: where, s: s}) }

// A leak is a needle found in a key's name or contents.
type leak struct{ key, typ, where, what string }

func (l leak) String() string {
	return fmt.Sprintf("%s (%s): %s found in %s", l.key, l.typ, l.what, l.where)
}

// leaks lists every needle found, by key (sorted).
func (s redisSnapshot) leaks(needles []needle) []leak {
	var out []leak
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := s[k]
		for _, n := range needles {
			if strings.Contains(k, string(n.b)) {
				out = append(out, leak{key: k, typ: e.typ, where: "the key name", what: n.label})
			}
			for _, p := range e.parts {
				if strings.Contains(p.s, string(n.b)) {
					out = append(out, leak{key: k, typ: e.typ, where: p.where, what: n.label})
				}
			}
		}
	}
	return out
}

// contains reports whether a key's contents hold text.
func (s redisSnapshot) contains(key, text string) bool {
	for _, p := range s[key].parts {
		if strings.Contains(p.s, text) {
			return true
		}
	}
	return false
}

func (s redisSnapshot) withPrefix(prefix string) []string {
	var out []string
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// redisSampler walks the database over and over until stopped.
type redisSampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	// Written by the sampling goroutine, read after done.
	walks int
	leaks []string
	seen  map[string]struct{}
	errs  []error
}

func startRedisSampler(t *testing.T, rdb *redis.Client, needles []needle) *redisSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &redisSampler{cancel: cancel, done: make(chan struct{}), seen: map[string]struct{}{}}
	go func() {
		defer close(s.done)
		for ctx.Err() == nil {
			snap, err := snapshotRedis(ctx, rdb)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				if len(s.errs) < 5 {
					s.errs = append(s.errs, err)
				}
			default:
				s.walks++
				for k := range snap {
					s.seen[k] = struct{}{}
				}
				for _, l := range snap.leaks(needles) {
					if msg := l.String(); len(s.leaks) < 20 && !slices.Contains(s.leaks, msg) {
						s.leaks = append(s.leaks, msg)
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends the sampling and returns what it found.
func (s *redisSampler) stop() (walks int, leaks []string, seen map[string]struct{}, errs []error) {
	s.cancel()
	<-s.done
	return s.walks, s.leaks, s.seen, s.errs
}
