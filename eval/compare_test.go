package eval_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/usage"
)

// compareSetup writes the demo's ground truth (n images) and a config with
// models (YAML list entries) under a temporary folder.
func compareSetup(t *testing.T, n int, models string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	data, err := demo.WriteDataset(filepath.Join(dir, "data"), n, 7)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vlmcmp.yaml")
	text := fmt.Sprintf("data: %s\noutput_dir: %s\nmodels:\n%s", data, filepath.Join(dir, "results"), models)
	cfg, err := config.Parse(path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

// TestCompareLibrary runs a whole comparison through the library, without
// the command line: a new run, its outputs, a resume that asks nothing again,
// and the option errors a caller can tell from failures.
func TestCompareLibrary(t *testing.T) {
	const n = 12
	cfg, dir := compareSetup(t, n, "  - {name: mean, backend: baseline, model: mean}\n  - {name: median, backend: baseline, model: median}\n")
	var finished []string
	var status strings.Builder
	opts := eval.CompareOptions{
		Split: "all", RunID: "r1", NoCache: true, Status: &status,
		Progress: func(p eval.Progress) {
			if p.Finished {
				finished = append(finished, fmt.Sprintf("%s %d/%d", p.Model, p.Done, p.Total))
			}
		},
	}
	c, err := eval.Compare(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("Compare: %v\n%s", err, status.String())
	}
	if c.Resumed || c.Dir != filepath.Join(dir, "results", "r1") || len(c.Info.Items) != n {
		t.Errorf("new run: resumed %t, dir %s, %d items; want a new run r1 of %d images", c.Resumed, c.Dir, len(c.Info.Items), n)
	}
	slices.Sort(finished) // the models run at once and finish in either order
	if got := strings.Join(finished, ", "); got != fmt.Sprintf("mean %d/%d, median %d/%d", n, n, n, n) {
		t.Errorf("progress reported finished %q", got)
	}
	for _, r := range c.Results {
		if r.Answered != n || r.Errors != 0 || r.Err != nil {
			t.Errorf("%s: answered %d, errors %d, %v; want %d answers", r.Model, r.Answered, r.Errors, r.Err, n)
		}
	}
	if c.Outputs == nil || c.Outputs.Metrics.Find("mean") == nil || c.Outputs.Metrics.Find("median") == nil {
		t.Fatalf("outputs lack the models' metrics: %+v", c.Outputs)
	}
	if s := c.Outputs.Metrics.Find("mean"); s.N != n || s.NScored != n {
		t.Errorf("mean's metrics over %d (%d scored) images, want %d", s.N, s.NScored, n)
	}
	for _, f := range []string{c.Outputs.Summary, c.Outputs.HTML, eval.PredictionsPath(c.Dir, "median")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("output missing: %v", err)
		}
	}
	if !strings.Contains(status.String(), "models mean, median") {
		t.Errorf("status does not say which models run:\n%s", status.String())
	}

	// The same run id resumes: nothing is asked again.
	opts.Progress, finished = nil, nil
	c2, err := eval.Compare(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Resumed || len(c2.Results) != 2 || c2.Results[0].Resumed != n || c2.Results[0].Answered != 0 {
		t.Errorf("resume: resumed %t, results %+v; want every image already answered", c2.Resumed, c2.Results)
	}

	for _, bad := range []eval.CompareOptions{
		{Models: []string{"gpt5"}, Split: "all"},
		{RunID: "../x", Split: "all"},
		{Baseline: "nope", Split: "all", RunID: "r2"},
	} {
		_, err := eval.Compare(t.Context(), cfg, bad)
		var oe *usage.Error
		if !errors.As(err, &oe) {
			t.Errorf("%+v: err %v, want a usage.Error", bad, err)
		}
	}
	// A failure that is not the options' is not a usage.Error.
	_, err = eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: filepath.Join(dir, "nosplit.json")})
	var oe *usage.Error
	if err == nil || errors.As(err, &oe) {
		t.Errorf("missing split: err %v, want a plain error", err)
	}
}

// TestCompareInterrupted: a cancelled comparison returns the run so far and
// ctx's error, and writes no outputs.
func TestCompareInterrupted(t *testing.T) {
	cfg, _ := compareSetup(t, 4, "  - {name: mean, backend: baseline, model: mean}\n")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c, err := eval.Compare(ctx, cfg, eval.CompareOptions{Split: "all", NoCache: true})
	if !errors.Is(err, context.Canceled) || c == nil || c.Outputs != nil {
		t.Fatalf("Compare(cancelled) = %+v, %v; want the run and context.Canceled", c, err)
	}
	if _, err := eval.ReadRunInfo(c.Dir); err != nil {
		t.Errorf("the interrupted run has no manifest to resume from: %v", err)
	}
}
