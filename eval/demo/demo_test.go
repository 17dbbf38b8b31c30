package demo

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

func TestWriteDataset(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteDataset(dir, 24, 7)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 24 {
		t.Fatalf("%d records, want 24", len(recs))
	}
	scores := map[float64]bool{}
	for _, r := range recs {
		if r.SafetyScore < 1 || r.SafetyScore > 10 || r.SafetyScore != float64(int(r.SafetyScore)) {
			t.Errorf("%s: score %v not a whole point in 1..10", r.Image, r.SafetyScore)
		}
		scores[r.SafetyScore] = true
		b, err := os.ReadFile(filepath.Join(dir, r.Image))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := imagefile.Decode(b); err != nil {
			t.Errorf("%s does not decode: %v", r.Image, err)
		}
	}
	if len(scores) < 4 {
		t.Errorf("only %d distinct scores: the demo's metrics need a spread", len(scores))
	}
	// Same seed, same bytes.
	dir2 := t.TempDir()
	if _, err := WriteDataset(dir2, 24, 7); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "images/street_005.png"))
	b, _ := os.ReadFile(filepath.Join(dir2, "images/street_005.png"))
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different images")
	}
}

func TestSceneScoreOrder(t *testing.T) {
	safe := Scene{Daylight: 1, Lights: 3, Greenery: 1, RoadWidth: 0.6, Windows: 1}
	unsafe := Scene{Daylight: 0, RoadWidth: 0.2, Clutter: 1}
	if s, u := safe.Score(0), unsafe.Score(0); s != 9 || u != 1 { // 2+3+0+1.5+2*0.6+1.5 = 9.2; 2+0.4-4 < 1
		t.Errorf("safe %v, unsafe %v; want 9 and 1", s, u)
	}
}
