package eval

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// TestRunInfoItemsForm holds run.json's item form: a run written before the
// items were dataset.Items reads back, and a written one keeps the old names.
func TestRunInfoItemsForm(t *testing.T) {
	dir := t.TempDir()
	old := `{"id": "r1", "created": "2025-01-02T03:04:05Z", "models": ["mean"], "baseline": "mean",
  "items": [{"id": "img/a.png", "image": "/d/img/a.png", "expected": 7, "prompt": "Rate it", "system": "S"}],
  "train_scores": [1, 2]}`
	if err := os.WriteFile(filepath.Join(dir, RunInfoFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := ReadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &RunInfo{ID: "r1", Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Models: []string{"mean"}, Baseline: "mean",
		Items:       []dataset.Item{{ID: "img/a.png", ImagePath: "/d/img/a.png", Score: 7, Prompt: "Rate it", System: "S"}},
		TrainScores: []float64{1, 2}}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("read %+v\nwant %+v", info, want)
	}
	if err := WriteRunInfo(dir, info); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, RunInfoFile))
	for _, s := range []string{`"image": "/d/img/a.png"`, `"expected": 7`, `"baseline": "mean"`, `"train_scores"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("run.json lacks %s:\n%s", s, b)
		}
	}
	if strings.Contains(string(b), "image_path") {
		t.Errorf("run.json uses dataset's field names:\n%s", b)
	}
	back, err := ReadRunInfo(dir)
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
