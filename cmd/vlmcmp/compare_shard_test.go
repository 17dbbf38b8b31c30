package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
)

// schedulerEnv clears the variables --shard auto reads, so that a test run
// inside a Slurm job or a Kubernetes pod sees only what it sets.
func schedulerEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX", eval.ShardCountEnv} {
		t.Setenv(k, "")
	}
}

// shardConfig writes n demo images and a config of models.
func shardConfig(t *testing.T, n int, models string) {
	t.Helper()
	if _, err := demo.WriteDataset("data", n, 11); err != nil {
		t.Fatal(err)
	}
	cfg := "data: data/ground_truth.json\noutput_dir: results\nmodels:\n" + models
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// figures reads summary.json without the run's id, time and latencies
// (wall time, not answers).
func figures(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	delete(m, "run_id")
	delete(m, "created")
	delete(m, "timing") // the sitting's wall times: the unsharded run's alone
	for _, x := range m["models"].([]any) {
		delete(x.(map[string]any), "latency")
	}
	return m
}

// TestCompareShardsThenAnalyze runs shards 2/3 and 3/3 of a run against the
// OpenAI fake, has analyze refuse the set naming shard 1/3, analyze it with
// --partial, runs shard 1/3, and then gets from analyze the summary.json
// figures of the same comparison run unsharded.
func TestCompareShardsThenAnalyze(t *testing.T) {
	openaiEnv(t)
	schedulerEnv(t)
	shardConfig(t, 24, "  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 3}\n  - {name: mean, backend: baseline}\n")
	ctx := t.Context()
	if code, _, stderr := vlmcmp(t, ctx, "compare", "--split", "all", "--run-id", "whole", "--no-cache"); code != 0 {
		t.Fatalf("unsharded compare exited %d:\n%s", code, stderr)
	}
	shard := func(k int) {
		t.Helper()
		code, stdout, stderr := vlmcmp(t, ctx, "compare", "--split", "all", "--run-id", "big", "--no-cache", "--shard", fmt.Sprintf("%d/3", k))
		if code != 0 {
			t.Fatalf("compare --shard %d/3 exited %d:\n%s", k, code, stderr)
		}
		if want := fmt.Sprintf("shard %d/3: ", k); !strings.Contains(stderr, want) || !strings.Contains(stderr, "merge them with: vlmcmp analyze --run results/big") {
			t.Errorf("compare --shard %d/3 does not say how to merge:\n%s", k, stderr)
		}
		if !strings.Contains(stdout, "gpt4 ") {
			t.Errorf("compare --shard %d/3 printed no table of its images:\n%s", k, stdout)
		}
	}
	shard(2)
	shard(3)
	code, _, stderr := vlmcmp(t, ctx, "analyze", "--run", "results/big")
	if code != 1 || !strings.Contains(stderr, "shard 1/3 is missing") || !strings.Contains(stderr, "--partial") {
		t.Fatalf("analyze of shards 2/3 and 3/3 exited %d:\n%s\nwant a refusal naming shard 1/3", code, stderr)
	}
	code, stdout, stderr := vlmcmp(t, ctx, "analyze", "--run", "results/big", "--partial")
	if code != 0 || !strings.Contains(stderr, "partial: shard 1/3 is missing") || !strings.Contains(stderr, "merged shards 2, 3 of 3") {
		t.Fatalf("analyze --partial exited %d:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "gpt4 ") {
		t.Errorf("analyze --partial printed no table:\n%s", stdout)
	}
	shard(1)
	code, _, stderr = vlmcmp(t, ctx, "analyze", "--run", "results/big")
	if code != 0 || !strings.Contains(stderr, "merged shards 1, 2, 3 of 3 (24 images)") {
		t.Fatalf("analyze of the three shards exited %d:\n%s", code, stderr)
	}
	got := figures(t, filepath.Join("results", "big", "summary.json"))
	want := figures(t, filepath.Join("results", "whole", "summary.json"))
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("merged summary.json:\n%s\nwant the unsharded run's:\n%s", g, w)
	}
	// analyze without --run takes the latest run: the sharded one.
	if code, _, stderr := vlmcmp(t, ctx, "analyze"); code != 0 || !strings.Contains(stderr, "merged shards 1, 2, 3 of 3") {
		t.Errorf("analyze (latest run) exited %d:\n%s", code, stderr)
	}
}

// TestCompareShardAuto: --shard auto takes K/N from a Slurm array task and
// from a Kubernetes Indexed Job; the shards of both merge as one run.
func TestCompareShardAuto(t *testing.T) {
	t.Chdir(t.TempDir())
	schedulerEnv(t)
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	shardConfig(t, 12, "  - {name: mean, backend: baseline}\n")
	ctx := t.Context()
	base := []string{"compare", "--split", "all", "--run-id", "auto", "--shard", "auto"}

	// Slurm: --array=4-6, this is task 5: shard 2/3.
	t.Setenv("SLURM_ARRAY_TASK_ID", "5")
	t.Setenv("SLURM_ARRAY_TASK_MIN", "4")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "3")
	if code, _, stderr := vlmcmp(t, ctx, base...); code != 0 || !strings.Contains(stderr, "shard 2/3: ") {
		t.Fatalf("Slurm task 5 of 4-6 exited %d:\n%s", code, stderr)
	}
	schedulerEnv(t)
	// Kubernetes: completion index 0 with --shard-count, then index 2 with
	// the count from the environment.
	t.Setenv("JOB_COMPLETION_INDEX", "0")
	if code, _, stderr := vlmcmp(t, ctx, append(base, "--shard-count", "3")...); code != 0 || !strings.Contains(stderr, "shard 1/3: ") {
		t.Fatalf("JOB_COMPLETION_INDEX=0 --shard-count 3 exited %d:\n%s", code, stderr)
	}
	t.Setenv("JOB_COMPLETION_INDEX", "2")
	t.Setenv(eval.ShardCountEnv, "3")
	if code, _, stderr := vlmcmp(t, ctx, base...); code != 0 || !strings.Contains(stderr, "shard 3/3: ") {
		t.Fatalf("JOB_COMPLETION_INDEX=2 %s=3 exited %d:\n%s", eval.ShardCountEnv, code, stderr)
	}
	for k := 1; k <= 3; k++ {
		if _, err := os.Stat(eval.PredictionsPath(eval.ShardDir(filepath.Join("results", "auto"), eval.Shard{Index: k, Count: 3}), "mean")); err != nil {
			t.Errorf("shard %d/3: %v", k, err)
		}
	}
	if code, _, stderr := vlmcmp(t, ctx, "analyze", "--run", "results/auto"); code != 0 || !strings.Contains(stderr, "merged shards 1, 2, 3 of 3 (12 images)") {
		t.Errorf("analyze exited %d:\n%s", code, stderr)
	}
}

// TestCompareShardBadValues: a bad --shard is one sentence and exit 2,
// before anything is read or written.
func TestCompareShardBadValues(t *testing.T) {
	t.Chdir(t.TempDir())
	schedulerEnv(t)
	shardConfig(t, 4, "  - {name: mean, backend: baseline}\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"K above N", nil, []string{"--run-id", "r", "--shard", "4/3"}, "--shard 4/3: K must be from 1 to N"},
		{"not K/N", nil, []string{"--run-id", "r", "--shard", "half"}, `--shard "half": want K/N`},
		{"no run id", nil, []string{"--shard", "1/2"}, "--shard 1/2 needs --run-id"},
		{"auto outside a scheduler", nil, []string{"--run-id", "r", "--shard", "auto"}, "neither a Slurm job array (SLURM_ARRAY_TASK_ID) nor a Kubernetes Indexed Job"},
		{"k8s without a count", map[string]string{"JOB_COMPLETION_INDEX": "1"}, []string{"--run-id", "r", "--shard", "auto"}, "give --shard-count N or set VLMCMP_SHARD_COUNT"},
		{"slurm task outside the range", map[string]string{"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "3"}, []string{"--run-id", "r", "--shard", "auto"}, "Slurm task 9 is not one of 3 consecutive tasks"},
		{"count with K/N", nil, []string{"--run-id", "r", "--shard", "1/2", "--shard-count", "2"}, "--shard-count goes with --shard auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := vlmcmp(t, t.Context(), append([]string{"compare", "--split", "all"}, tc.args...)...)
			first, _, _ := strings.Cut(stderr, "\n")
			if code != 2 || !strings.HasPrefix(first, "vlmcmp: ") || !strings.Contains(first, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and a first line with %q", code, stderr, tc.want)
			}
			if _, err := os.Stat("results"); err == nil {
				t.Errorf("a refused --shard wrote results/")
			}
		})
	}
}

// TestCompareShardOtherModel: a shard whose model is not the one another
// shard of the run ran under the same name is refused before it asks
// anything, naming the model, the shard and what changed.
func TestCompareShardOtherModel(t *testing.T) {
	t.Chdir(t.TempDir())
	schedulerEnv(t)
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	shardConfig(t, 8, "  - {name: m, backend: baseline, model: mean}\n")
	if code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r", "--shard", "1/2"); code != 0 {
		t.Fatalf("shard 1/2 exited %d:\n%s", code, stderr)
	}
	shardConfig(t, 8, "  - {name: m, backend: baseline, model: median}\n")
	code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r", "--shard", "2/2")
	if code != 1 || !strings.Contains(stderr, `model m is not the model shard 1/2 of run results/r ran (model was "mean", now "median")`) {
		t.Fatalf("shard 2/2 with another model exited %d:\n%s", code, stderr)
	}
	if _, err := os.Stat(eval.ShardDir(filepath.Join("results", "r"), eval.Shard{Index: 2, Count: 2})); err == nil {
		t.Errorf("the refused shard left its folder")
	}
}
