package dataset

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func itemsWithScores(counts map[int]int) []Item {
	var items []Item
	for s, n := range counts {
		for i := range n {
			items = append(items, Item{ID: fmt.Sprintf("img/s%02d_%03d.jpg", s, i), Score: float64(s)})
		}
	}
	return items
}

func TestStratify(t *testing.T) {
	counts := map[int]int{1: 3, 2: 10, 5: 40, 6: 30, 9: 17}
	items := itemsWithScores(counts)
	s, err := Stratify(items, 0.1, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Val) != 10 || len(s.Train) != 90 {
		t.Fatalf("val %d train %d, want 10 and 90", len(s.Val), len(s.Train))
	}
	// Each stratum's share of the validation set is within one of its
	// proportional share.
	valBy := map[int]int{}
	for _, id := range s.Val {
		var sc, i int
		fmt.Sscanf(id, "img/s%02d_%03d.jpg", &sc, &i)
		valBy[sc]++
	}
	for sc, n := range counts {
		want := float64(n) * 0.1
		if math.Abs(float64(valBy[sc])-want) >= 1 {
			t.Errorf("score %d: %d held out, want about %.1f", sc, valBy[sc], want)
		}
	}
	// Same seed, same split, whatever the input order; another seed differs.
	rev := make([]Item, len(items))
	for i := range items {
		rev[len(items)-1-i] = items[i]
	}
	s2, _ := Stratify(rev, 0.1, 42)
	if !reflect.DeepEqual(s, s2) {
		t.Error("split depends on input order")
	}
	s3, _ := Stratify(items, 0.1, 7)
	if reflect.DeepEqual(s.Val, s3.Val) {
		t.Error("seeds 42 and 7 gave the same split")
	}
}

func TestStratifyEdges(t *testing.T) {
	tests := []struct {
		n           int
		ratio       float64
		train, val  int
		wantErrText string
	}{
		{0, 0.1, 0, 0, ""},
		{1, 0.1, 1, 0, ""},
		{2, 0.1, 1, 1, ""},
		{5, 0.9, 1, 4, ""},
		{5, 0, 5, 0, ""},
		{5, 1, 0, 0, "not in [0, 1)"},
		{5, -0.1, 0, 0, "not in [0, 1)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,ratio=%v", tt.n, tt.ratio), func(t *testing.T) {
			s, err := Stratify(itemsWithScores(map[int]int{3: tt.n}), tt.ratio, 1)
			if tt.wantErrText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || len(s.Train) != tt.train || len(s.Val) != tt.val {
				t.Fatalf("train %d val %d err %v, want %d %d", len(s.Train), len(s.Val), err, tt.train, tt.val)
			}
		})
	}
}

func TestSplitRoundTrip(t *testing.T) {
	s, err := Stratify(itemsWithScores(map[int]int{2: 5, 7: 5}), 0.2, 42)
	if err != nil {
		t.Fatal(err)
	}
	s.Data = "configs/gt.json"
	path := filepath.Join(t.TempDir(), "out", "split.json")
	if err := WriteSplit(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSplit(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read back %+v, want %+v", got, s)
	}
	bad := writeFile(t, t.TempDir(), "split.json", `{"train": ["a", "b"], "val": ["b"]}`)
	if _, err := ReadSplit(bad); err == nil || !strings.Contains(err.Error(), "b is in train and in val") {
		t.Errorf("overlap: err = %v", err)
	}
	if _, err := ReadSplit(filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "run vlmcmp prepare") {
		t.Errorf("missing: err = %v", err)
	}
}
