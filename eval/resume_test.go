package eval_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/usage"
)

// relabel sets the safety_score of image id in the data file at path.
func relabel(t *testing.T, path, id string, score float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r["image"] == id {
			r["safety_score"] = score
		}
	}
	b, _ = json.MarshalIndent(recs, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// --resume compares --data, --split and --limit with run.json and refuses
// a change, naming it; a data file whose label changed since the run
// started is refused with the label's change; the same selection resumes.
func TestResumeRefusesChangedSelection(t *testing.T) {
	const n = 10
	cfg, dir := compareSetup(t, n, "  - {name: mean, backend: baseline, model: mean}\n")
	opts := eval.CompareOptions{Split: "all", RunID: "r", NoCache: true, Log: quiet}
	if _, err := eval.Compare(t.Context(), cfg, opts); err != nil {
		t.Fatal(err)
	}
	other, err := demo.WriteDataset(filepath.Join(dir, "other"), n, 9)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*eval.CompareOptions)
		want   string
	}{
		{"data", func(o *eval.CompareOptions) { o.Data = other }, "--data " + other + " is not the run's data file"},
		{"limit", func(o *eval.CompareOptions) { o.Limit = 5 }, "--limit 5 is not the run's limit (none)"},
		{"split", func(o *eval.CompareOptions) { o.Split = "val" }, "--split val is not the run's split all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Resume = true
			tt.change(&o)
			_, err := eval.Compare(t.Context(), cfg, o)
			if _, ok := usage.Is(err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("resume with another %s: %v; want an option error saying %q", tt.name, err, tt.want)
			}
		})
	}
	t.Run("same selection", func(t *testing.T) {
		o := opts
		o.Resume, o.Data = true, cfg.DataPath()
		if _, err := eval.Compare(t.Context(), cfg, o); err != nil {
			t.Errorf("resume with the run's own --data and --split: %v", err)
		}
	})
	t.Run("label corrected", func(t *testing.T) {
		relabel(t, cfg.DataPath(), "images/street_003.png", 9.5)
		o := opts
		o.Resume = true
		_, err := eval.Compare(t.Context(), cfg, o)
		if err == nil || !strings.Contains(err.Error(), `the label of "images/street_003.png" changed from`) || !strings.Contains(err.Error(), "to 9.5") {
			t.Errorf("resume after a label changed: %v; want the change named", err)
		}
	})
}

// A shard started on data whose label changed since another shard ran says
// which label changed, not "another image set (40 images) than this
// shard's (40)".
func TestShardNamesChangedLabel(t *testing.T) {
	const n = 12
	cfg, _ := shardSetup(t, n)
	if _, err := eval.Compare(t.Context(), cfg, shardOpts("lab", 1, 2)); err != nil {
		t.Fatal(err)
	}
	info, err := eval.ReadRunInfo(eval.ShardDir(filepath.Join(cfg.OutputPath(), "lab"), eval.Shard{Index: 1, Count: 2}))
	if err != nil {
		t.Fatal(err)
	}
	id := info.Items[0].ID
	relabel(t, cfg.DataPath(), id, 9.5)
	_, err = eval.Compare(t.Context(), cfg, shardOpts("lab", 2, 2))
	want := fmt.Sprintf("the label of %q changed from %g to 9.5", id, info.Items[0].Score)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("shard 2/2 after a label changed: %v; want %q", err, want)
	}
}
