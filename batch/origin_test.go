package batch

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// An item's origin costs its record a few bytes: the manifest's path is stored once per
// batch, and every way of reading a record (Item, Items, Claim, Transition, a duplicate
// line's "first at") gives the full FILE:LINE back, from a store that never saw it
// written too. Records of earlier releases, with the path in them, still read.
func TestOriginStoresTheManifestPathOnce(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	long := "/home/someone/karaoke/catalogues/2026/spring/"
	fromA := func(id string, line int) Item {
		it := songItem(id, line)
		it.Origin = fmt.Sprintf("%sa.jsonl:%d", long, line)
		return it
	}
	if _, err := s.AddItems(ctx, "b1", long+"a.jsonl", []Item{fromA("s1", 1), fromA("s2", 7)}); err != nil {
		t.Fatal(err)
	}
	other := songItem("s3", 2) // an origin not of its manifest's form keeps it whole
	other.Origin = "elsewhere"
	b3 := songItem("s4", 3)
	b3.Origin = long + "b.jsonl:3"
	if _, err := s.AddItems(ctx, "b1", long+"b.jsonl", []Item{other, b3}); err != nil {
		t.Fatal(err)
	}
	h := b.rdb.HGetAll(ctx, b.keys.Item("b1", "s2")).Val()
	if h["at"] != "1:7" || h["origin"] != "" {
		t.Errorf("stored origin fields: at %q, origin %q; want at 1:7 and no origin", h["at"], h["origin"])
	}
	if at := b.rdb.HGet(ctx, b.keys.Item("b1", "s4"), "at").Val(); at != "2:3" {
		t.Errorf("second manifest's item: at %q, want 2:3", at)
	}
	// A record of an earlier release.
	b.rdb.HSet(ctx, b.keys.Item("b1", "s1"), "origin", "old/path.jsonl:1")
	b.rdb.HDel(ctx, b.keys.Item("b1", "s1"), "at")

	want := map[string]string{"s1": "old/path.jsonl:1", "s2": long + "a.jsonl:7", "s3": "elsewhere", "s4": long + "b.jsonl:3"}
	fresh := NewStore(b.rdb, b.keys, b.clock.Now) // nothing cached
	for _, st := range []*Store{fresh, s} {
		var got []string
		if err := st.Items(ctx, "b1", nil, func(r ItemRecord) error {
			got = append(got, r.ID+" "+r.Origin)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"s1 " + want["s1"], "s2 " + want["s2"], "s3 " + want["s3"], "s4 " + want["s4"]}) {
			t.Errorf("Items: %q", got)
		}
		for id, origin := range want {
			if r, err := st.Item(ctx, "b1", id); err != nil || r.Origin != origin {
				t.Errorf("Item %s: origin %q, %v; want %q", id, r.Origin, err, origin)
			}
		}
	}
	if _, r, err := fresh.Claim(ctx, "b1", "s2", 1, "c-s2", ClaimCaps{}); err != nil || r.Origin != want["s2"] {
		t.Errorf("Claim: origin %q, %v", r.Origin, err)
	}
	if _, r, err := NewStore(b.rdb, b.keys, b.clock.Now).Transition(ctx, "b1", "s2", 1, []State{StateSubmitting},
		StateSubmitted, Update{JobID: "j-s2"}); err != nil || r.Origin != want["s2"] {
		t.Errorf("Transition: origin %q, %v", r.Origin, err)
	}
	// A duplicate line in the run that stored the first names where the first is.
	res, err := s.AddItems(ctx, "b1", long+"a.jsonl", []Item{fromA("n1", 10), fromA("n1", 11)}, AddRun("r2"))
	if err != nil || len(res.Duplicates) != 1 || res.Duplicates[0].FirstOrigin != long+"a.jsonl:10" {
		t.Errorf("duplicate: %+v, %v", res.Duplicates, err)
	}
	// The numbers are not manifests of their own.
	rec, err := s.Batch(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, m := range rec.Manifests {
		files = append(files, strings.TrimPrefix(m.File, long))
	}
	if !slices.Equal(files, []string{"a.jsonl", "b.jsonl"}) {
		t.Errorf("manifests: %q", files)
	}
}
