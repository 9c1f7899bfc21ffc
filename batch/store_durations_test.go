package batch

import (
	"testing"
	"time"
)

func TestExpectedDuration(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()

	if d, n, err := s.ExpectedDuration(ctx, KindSong); d != 0 || n != 0 || err != nil {
		t.Fatalf("no samples: %v %d %v", d, n, err)
	}
	// 1s..9s and one job that hung for an hour: the median ignores the outlier.
	for i := 1; i <= 9; i++ {
		if err := s.RecordDuration(ctx, KindSong, time.Duration(i)*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordDuration(ctx, KindSong, time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, n, err := s.ExpectedDuration(ctx, KindSong); d != 5*time.Second || n != 10 || err != nil {
		t.Errorf("song: %v %d %v, want 5s from 10", d, n, err)
	}
	if d, n, _ := s.ExpectedDuration(ctx, KindTrain); d != 0 || n != 0 {
		t.Errorf("kinds are kept apart: train %v %d", d, n)
	}

	// Only the latest 200 count: after 300 jobs of 2 minutes the old ones are gone.
	for range 300 {
		if err := s.RecordDuration(ctx, KindTrain, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for range 150 {
		if err := s.RecordDuration(ctx, KindTrain, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if d, n, _ := s.ExpectedDuration(ctx, KindTrain); d != 10*time.Minute || n != 200 {
		t.Errorf("train: %v %d, want 10m from the latest 200", d, n)
	}
	if err := s.RecordDuration(ctx, KindSong, -time.Second); err == nil {
		t.Error("negative duration accepted")
	}
}
