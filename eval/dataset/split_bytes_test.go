package dataset

import (
	"path/filepath"
	"slices"
	"testing"
)

// A split manifest keeps IDs that are not UTF-8 byte for byte.
func TestSplitRoundTripsNonUTF8IDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "split.json")
	want := &Split{Data: "d.csv", Seed: 1, ValRatio: 0.5, Train: []string{"a.png", "caf\xe9.png"}, Val: []string{"stra\xdfe.png"}}
	if err := WriteSplit(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSplit(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Train, want.Train) || !slices.Equal(got.Val, want.Val) {
		t.Errorf("read back train %q val %q, want %q %q", got.Train, got.Val, want.Train, want.Val)
	}
}
