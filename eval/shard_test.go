package eval_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
	"github.com/vlmcmp/vlmcmp/usage"
)

// TestShardOf pins the assignment: runs in progress on a cluster depend on
// it, so it must never change. The expected shards were computed outside Go
// (Python's hashlib: the first 8 bytes of sha256(id), big-endian, mod N,
// plus 1).
func TestShardOf(t *testing.T) {
	for _, tc := range []struct {
		id   string
		n    int
		want int
	}{
		{"images/street_000.png", 3, 3}, {"images/street_000.png", 8, 6}, {"images/street_000.png", 100, 62},
		{"a", 3, 2}, {"a", 8, 3}, {"a", 100, 51},
		{"img/042.png", 3, 2}, {"img/042.png", 8, 8}, {"img/042.png", 100, 64},
		{"anything", 1, 1},
	} {
		if got := eval.ShardOf(tc.id, tc.n); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.id, tc.n, got, tc.want)
		}
	}
	// Every shard gets a fair part of many images.
	const n, images = 7, 7000
	count := make([]int, n+1)
	for i := range images {
		k := eval.ShardOf(fmt.Sprintf("images/%06d.jpg", i), n)
		if k < 1 || k > n {
			t.Fatalf("ShardOf = %d, outside 1..%d", k, n)
		}
		count[k]++
	}
	for k := 1; k <= n; k++ {
		if count[k] < images/n*8/10 || count[k] > images/n*12/10 {
			t.Errorf("shard %d/%d has %d of %d images; want about %d", k, n, count[k], images, images/n)
		}
	}
}

func TestParseShard(t *testing.T) {
	slurm := map[string]string{"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		if m == nil {
			m = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		spec  string
		count int
		env   map[string]string
		want  eval.Shard
		err   string // part of the error; "" for none
	}{
		{name: "none", spec: ""},
		{name: "K/N", spec: "2/3", want: eval.Shard{Index: 2, Count: 3}},
		{name: "1/1", spec: "1/1", want: eval.Shard{Index: 1, Count: 1}},
		{name: "K too big", spec: "4/3", err: "K must be from 1 to N"},
		{name: "K zero", spec: "0/3", err: "K must be from 1 to N"},
		{name: "N zero", spec: "1/0", err: "K must be from 1 to N"},
		{name: "not K/N", spec: "3", err: "want K/N"},
		{name: "words", spec: "one/two", err: "want K/N"},
		{name: "count without auto", spec: "1/3", count: 3, err: "--shard-count goes with --shard auto"},
		{name: "count alone", count: 3, err: "--shard-count goes with --shard auto"},
		{name: "negative count", spec: "auto", count: -1, err: "must be positive"},
		{name: "slurm", spec: "auto", env: slurm, want: eval.Shard{Index: 3, Count: 4}},
		{name: "slurm first task", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_ID", "10"), want: eval.Shard{Index: 1, Count: 4}},
		{name: "slurm count agrees", spec: "auto", count: 4, env: slurm, want: eval.Shard{Index: 3, Count: 4}},
		{name: "slurm count disagrees", spec: "auto", count: 5, env: slurm, err: "disagrees with the Slurm array's 4 tasks"},
		{name: "slurm step", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_ID", "14", "SLURM_ARRAY_TASK_STEP", "2"), want: eval.Shard{Index: 3, Count: 4}},
		{name: "slurm max without count", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_COUNT", "", "SLURM_ARRAY_TASK_MAX", "13"), want: eval.Shard{Index: 3, Count: 4}},
		{name: "slurm list array", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_ID", "40"), err: "Slurm task 40 is not one of 4 consecutive tasks"},
		{name: "slurm no min", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_MIN", ""), err: "SLURM_ARRAY_TASK_MIN is not"},
		{name: "slurm no count", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_COUNT", ""), err: "neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX"},
		{name: "slurm count zero", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_COUNT", "0"), err: "the Slurm array has no tasks (SLURM_ARRAY_TASK_COUNT, or SLURM_ARRAY_TASK_MAX below SLURM_ARRAY_TASK_MIN, gives 0)"},
		{name: "slurm max below min", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_COUNT", "", "SLURM_ARRAY_TASK_MAX", "8"), err: "the Slurm array has no tasks"},
		{name: "slurm junk", spec: "auto", env: with(slurm, "SLURM_ARRAY_TASK_ID", "x"), err: `SLURM_ARRAY_TASK_ID="x" is not a whole number`},
		{name: "k8s with flag", spec: "auto", count: 5, env: with(nil, "JOB_COMPLETION_INDEX", "0"), want: eval.Shard{Index: 1, Count: 5}},
		{name: "k8s with env", spec: "auto", env: with(nil, "JOB_COMPLETION_INDEX", "4", eval.ShardCountEnv, "5"), want: eval.Shard{Index: 5, Count: 5}},
		{name: "k8s flag over env", spec: "auto", count: 6, env: with(nil, "JOB_COMPLETION_INDEX", "5", eval.ShardCountEnv, "5"), want: eval.Shard{Index: 6, Count: 6}},
		{name: "k8s without count", spec: "auto", env: with(nil, "JOB_COMPLETION_INDEX", "1"), err: "give --shard-count N or set VLMCMP_SHARD_COUNT"},
		{name: "k8s index too big", spec: "auto", count: 3, env: with(nil, "JOB_COMPLETION_INDEX", "3"), err: "JOB_COMPLETION_INDEX=3 is not an index from 0 to 2"},
		{name: "k8s bad count env", spec: "auto", env: with(nil, "JOB_COMPLETION_INDEX", "1", eval.ShardCountEnv, "many"), err: `VLMCMP_SHARD_COUNT="many"`},
		{name: "both schedulers", spec: "auto", count: 4, env: with(slurm, "JOB_COMPLETION_INDEX", "1"), err: "both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX"},
		{name: "no scheduler", spec: "auto", err: "neither a Slurm job array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := eval.ParseShard(tc.spec, tc.count, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				var oe *usage.Error
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &oe) {
					t.Fatalf("ParseShard(%q, %d) = %v, %v; want a usage.Error with %q", tc.spec, tc.count, got, err, tc.err)
				}
				if strings.Contains(strings.TrimSuffix(err.Error(), "."), "\n") {
					t.Errorf("error is more than one line: %q", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseShard(%q, %d) = %v, %v; want %v", tc.spec, tc.count, got, err, tc.want)
			}
		})
	}
}

// shardModels are the models of the sharding tests: the OpenAI fake (its
// scores follow each image) and a baseline.
const shardModels = "  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 3}\n  - {name: mean, backend: baseline, model: mean}\n"

// shardSetup is compareSetup with the OpenAI fake behind gpt4.
func shardSetup(t *testing.T, n int) (*config.Config, string) {
	t.Helper()
	srv := openaitest.New(t)
	srv.Key = "sk-test-shard"
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", srv.Key)
	return compareSetup(t, n, shardModels)
}

// summaryFigures reads a summary.json without what describes the run
// rather than the answers: its id and time, and latencies (wall time).
func summaryFigures(t *testing.T, path string) map[string]any {
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
	models, _ := m["models"].([]any)
	if len(models) == 0 {
		t.Fatalf("%s has no models", path)
	}
	for _, x := range models {
		delete(x.(map[string]any), "latency")
	}
	return m
}

var quiet = slog.New(slog.DiscardHandler)

func shardOpts(id string, k, n int) eval.CompareOptions {
	return eval.CompareOptions{Split: "all", RunID: id, NoCache: true, Shard: eval.Shard{Index: k, Count: n}, Log: quiet}
}

// TestShardedCompareMatchesUnsharded runs shards 1/3, 2/3 and 3/3 of a run
// at once into one folder, merges them with Analyze, and gets the summary.json
// figures of the same comparison run unsharded.
func TestShardedCompareMatchesUnsharded(t *testing.T) {
	const n = 30
	cfg, dir := shardSetup(t, n)
	ctx := t.Context()
	whole, err := eval.Compare(ctx, cfg, eval.CompareOptions{Split: "all", RunID: "whole", NoCache: true, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// The three shards run at once, as on three machines.
	comps := make([]*eval.Comparison, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for k := 1; k <= 3; k++ {
		wg.Go(func() { comps[k], errs[k] = eval.Compare(ctx, cfg, shardOpts("sharded", k, 3)) })
	}
	wg.Wait()
	seen := map[string]int{}
	for k := 1; k <= 3; k++ {
		c, err := comps[k], errs[k]
		if err != nil {
			t.Fatalf("shard %d/3: %v", k, err)
		}
		if want := filepath.Join(dir, "results", "sharded", "shards", fmt.Sprintf("%d-of-3", k)); c.Dir != want || c.RunDir != filepath.Dir(filepath.Dir(want)) {
			t.Errorf("shard %d/3 writes %s (run %s), want %s", k, c.Dir, c.RunDir, want)
		}
		for _, it := range c.Info.Items {
			seen[it.ID]++
			if eval.ShardOf(it.ID, 3) != k {
				t.Errorf("shard %d/3 holds %s, which hashes to %d", k, it.ID, eval.ShardOf(it.ID, 3))
			}
		}
		if c.Outputs == nil || c.Outputs.Summary != "" || c.Outputs.Metrics.Find("gpt4").N != len(c.Info.Items) {
			t.Errorf("shard %d/3: outputs %+v; want the metrics of its %d images and no files", k, c.Outputs, len(c.Info.Items))
		}
		if _, err := os.Stat(eval.PredictionsPath(c.Dir, "gpt4")); err != nil {
			t.Errorf("shard %d/3: %v", k, err)
		}
	}
	if len(seen) != n {
		t.Errorf("the shards hold %d distinct images, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s is in %d shards", id, c)
		}
	}
	runDir := filepath.Join(dir, "results", "sharded")
	for _, f := range []string{eval.RunInfoFile, eval.LockFile, "predictions", "summary.json"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err == nil {
			t.Errorf("the shards wrote %s at the top of the run folder; each must write only its own", f)
		}
	}
	a, err := eval.Analyze(ctx, runDir, eval.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Shards == nil || a.Shards.Count != 3 || !slices.Equal(a.Shards.Present, []int{1, 2, 3}) || len(a.Shards.Missing) != 0 {
		t.Errorf("merge report %+v; want shards 1, 2, 3 of 3, nothing missing", a.Shards)
	}
	var wantIDs, gotIDs []string
	for _, it := range whole.Info.Items {
		wantIDs = append(wantIDs, it.ID)
	}
	for _, it := range a.Info.Items {
		gotIDs = append(gotIDs, it.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("merged images in the order\n%v\nwant the unsharded run's\n%v", gotIDs, wantIDs)
	}
	got := summaryFigures(t, a.Outputs.Summary)
	want := summaryFigures(t, whole.Outputs.Summary)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("merged summary.json differs from the unsharded run's:\n%s\nwant\n%s", g, w)
	}
	// LatestRun finds the sharded run (the newest), and analyzing again is
	// the same.
	if latest, err := eval.LatestRun(filepath.Join(dir, "results")); err != nil || latest != runDir {
		t.Errorf("LatestRun = %s, %v; want %s", latest, err, runDir)
	}
}

// TestShardStableUnderShuffle: the shard of every image is the same when
// the data file lists the images in another order.
func TestShardStableUnderShuffle(t *testing.T) {
	cfg, dir := compareSetup(t, 24, "  - {name: mean, backend: baseline, model: mean}\n")
	data := cfg.DataPath()
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var recs []any
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	shuffled := filepath.Join(filepath.Dir(data), "shuffled.json")
	b, _ = json.Marshal(recs)
	if err := os.WriteFile(shuffled, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 4; k++ {
		ids := map[string][]string{}
		for _, d := range []string{data, shuffled} {
			o := shardOpts("run-"+filepath.Base(d), k, 4)
			o.Data = d
			c, err := eval.Compare(t.Context(), cfg, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range c.Info.Items {
				ids[d] = append(ids[d], it.ID)
			}
			slices.Sort(ids[d])
		}
		if !slices.Equal(ids[data], ids[shuffled]) {
			t.Errorf("shard %d/4 of the data holds %v, of the shuffled data %v", k, ids[data], ids[shuffled])
		}
	}
	_ = dir
}

// TestShardMergeRefuses: analyze refuses an incomplete set, naming what is
// missing (unless Partial), and always refuses shards that do not fit
// together, naming them.
func TestShardMergeRefuses(t *testing.T) {
	cfg, dir := compareSetup(t, 18, "  - {name: mean, backend: baseline, model: mean}\n  - {name: median, backend: baseline, model: median}\n")
	ctx := t.Context()
	// complete runs the three shards of run id and returns its folder.
	complete := func(id string) string {
		for k := 1; k <= 3; k++ {
			if _, err := eval.Compare(ctx, cfg, shardOpts(id, k, 3)); err != nil {
				t.Fatalf("shard %d/3: %v", k, err)
			}
		}
		return filepath.Join(dir, "results", id)
	}
	editRunInfo := func(dir string, edit func(*eval.RunInfo)) {
		t.Helper()
		info, err := eval.ReadRunInfo(dir)
		if err != nil {
			t.Fatal(err)
		}
		edit(info)
		if err := eval.WriteRunInfo(dir, info); err != nil {
			t.Fatal(err)
		}
	}
	shard := func(k, n int) eval.Shard { return eval.Shard{Index: k, Count: n} }
	for _, tc := range []struct {
		name string
		// make builds the run and returns its folder.
		make     func(id string) string
		want     string // in the refusal
		partial  bool   // Partial accepts it
		wantPart string // in ShardReport.Missing with Partial
	}{
		{
			name: "missing shard",
			make: func(id string) string {
				for _, k := range []int{1, 3} {
					if _, err := eval.Compare(ctx, cfg, shardOpts(id, k, 3)); err != nil {
						t.Fatal(err)
					}
				}
				return filepath.Join(dir, "results", id)
			},
			want: "shard 2/3 is missing", partial: true, wantPart: "shard 2/3 is missing",
		},
		{
			name: "unfinished shard",
			make: func(id string) string {
				run := complete(id)
				p := eval.PredictionsPath(eval.ShardDir(run, shard(2, 3)), "median")
				b, _ := os.ReadFile(p)
				lines := strings.SplitAfter(string(b), "\n")
				os.WriteFile(p, []byte(lines[0]), 0o644)
				return run
			},
			want: "shard 2/3: median has answered 1 of its", partial: true, wantPart: "shard 2/3: median has answered 1",
		},
		{
			name: "shard without run.json",
			make: func(id string) string {
				run := complete(id)
				os.Remove(filepath.Join(eval.ShardDir(run, shard(3, 3)), eval.RunInfoFile))
				return run
			},
			want: "shard 3/3 has no run.json", partial: true, wantPart: "shard 3/3 has no run.json",
		},
		{
			name: "different identities",
			make: func(id string) string {
				run := complete(id)
				editRunInfo(eval.ShardDir(run, shard(2, 3)), func(info *eval.RunInfo) {
					info.Identities["mean"]["model"] = "median"
				})
				return run
			},
			want: `model mean is not the same in shards 1/3 and 2/3 (model was "mean", now "median")`,
		},
		{
			name: "overlap",
			make: func(id string) string {
				run := complete(id)
				one, _ := eval.ReadRunInfo(eval.ShardDir(run, shard(1, 3)))
				editRunInfo(eval.ShardDir(run, shard(2, 3)), func(info *eval.RunInfo) {
					info.Items = append(info.Items, one.Items[0])
					info.Shard.Positions = append(info.Shard.Positions, one.Shard.Positions[0])
				})
				return run
			},
			want: "is in shards 1/3 and 2/3",
		},
		{
			name: "answer of another shard's image",
			make: func(id string) string {
				run := complete(id)
				one := eval.PredictionsPath(eval.ShardDir(run, shard(1, 3)), "mean")
				b, _ := os.ReadFile(one)
				first, _, _ := strings.Cut(string(b), "\n")
				f, _ := os.OpenFile(eval.PredictionsPath(eval.ShardDir(run, shard(3, 3)), "mean"), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString(first + "\n")
				f.Close()
				return run
			},
			want: "shard 3/3 has an answer of mean for image",
		},
		{
			name: "different N",
			make: func(id string) string {
				run := complete(id)
				os.MkdirAll(eval.ShardDir(run, shard(1, 4)), 0o755)
				return run
			},
			want: "shards of different N (1/3, 2/3, 3/3, 1/4)",
		},
		{
			name: "different image sets",
			make: func(id string) string {
				run := complete(id)
				editRunInfo(eval.ShardDir(run, shard(3, 3)), func(info *eval.RunInfo) { info.Shard.SetSHA256 = "0" })
				return run
			},
			want: "shards 1/3 and 3/3 ran on different image sets",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := tc.make(strings.ReplaceAll(tc.name, " ", "-"))
			_, err := eval.Analyze(ctx, run, eval.AnalyzeOptions{})
			var se *eval.ShardSetError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Analyze = %v; want a ShardSetError saying %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(run, "summary.json")); err == nil {
				t.Errorf("a refused merge wrote summary.json")
			}
			a, err := eval.Analyze(ctx, run, eval.AnalyzeOptions{Partial: true})
			if !tc.partial {
				if err == nil {
					t.Fatalf("Partial accepted shards that do not fit together")
				}
				return
			}
			if err != nil {
				t.Fatalf("Partial: %v", err)
			}
			if !strings.Contains(strings.Join(a.Shards.Missing, "\n"), tc.wantPart) {
				t.Errorf("Partial: missing %q, want it to say %q", a.Shards.Missing, tc.wantPart)
			}
			if s := a.Outputs.Metrics.Find("mean"); s == nil || s.N != len(a.Info.Items) || s.N == 0 {
				t.Errorf("Partial: metrics %+v over %d images; want those of the shards there are", s, len(a.Info.Items))
			}
		})
	}
}

// TestShardCompareRefuses: compare refuses a shard that cannot join its run,
// before asking any model.
func TestShardCompareRefuses(t *testing.T) {
	cfg, dir := compareSetup(t, 12, "  - {name: m, backend: baseline, model: mean}\n")
	ctx := t.Context()
	if _, err := eval.Compare(ctx, cfg, shardOpts("s", 1, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := eval.Compare(ctx, cfg, eval.CompareOptions{Split: "all", RunID: "u", NoCache: true, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	other, err := config.Parse(cfg.Path, []byte(fmt.Sprintf("data: %s\noutput_dir: %s\nmodels:\n  - {name: m, backend: baseline, model: median}\n", cfg.DataPath(), filepath.Join(dir, "results"))))
	if err != nil {
		t.Fatal(err)
	}
	limited := shardOpts("s", 2, 2)
	limited.Limit = 5
	for _, tc := range []struct {
		name   string
		cfg    *config.Config
		opts   eval.CompareOptions
		want   string
		option bool // a usage.Error (exit 2)
	}{
		{"no run id", cfg, eval.CompareOptions{Split: "all", Shard: eval.Shard{Index: 1, Count: 2}}, "--shard 1/2 needs --run-id", true},
		{"bad shard", cfg, shardOpts("s", 3, 2), "K/N needs 1 ≤ K ≤ N", true},
		{"shard of an unsharded run", cfg, shardOpts("u", 1, 2), "run " + filepath.Join(dir, "results", "u") + " is not sharded", false},
		{"unsharded on a sharded run", cfg, eval.CompareOptions{Split: "all", RunID: "s"}, "is sharded (its shards are in", false},
		{"another N", cfg, shardOpts("s", 1, 3), "has shard 1/2 already, of another N", false},
		{"another model", other, shardOpts("s", 2, 2), `model m is not the model shard 1/2 of run ` + filepath.Join(dir, "results", "s") + ` ran (model was "mean", now "median")`, false},
		{"another image set", cfg, limited, "ran on another image set (12 images) than this shard's (5)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eval.Compare(ctx, tc.cfg, tc.opts)
			var oe *usage.Error
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &oe) != tc.option {
				t.Fatalf("Compare = %v; want %q (option error: %t)", err, tc.want, tc.option)
			}
		})
	}
	if _, err := os.Stat(eval.ShardDir(filepath.Join(dir, "results", "s"), eval.Shard{Index: 2, Count: 2})); err == nil {
		t.Errorf("a refused shard left its folder behind")
	}
}

// TestShardResume: running a shard's command again (or with Resume) redoes
// only that shard's missing images and touches no other shard's files.
func TestShardResume(t *testing.T) {
	cfg, dir := compareSetup(t, 20, "  - {name: mean, backend: baseline, model: mean}\n")
	ctx := t.Context()
	for k := 1; k <= 2; k++ {
		if _, err := eval.Compare(ctx, cfg, shardOpts("r", k, 2)); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "results", "r")
	two := eval.ShardDir(run, eval.Shard{Index: 2, Count: 2})
	p := eval.PredictionsPath(two, "mean")
	b, _ := os.ReadFile(p)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("shard 2/2 has %d images; the test needs 3", len(lines))
	}
	os.WriteFile(p, []byte(strings.Join(lines[:2], "")), 0o644)
	onePath := eval.PredictionsPath(eval.ShardDir(run, eval.Shard{Index: 1, Count: 2}), "mean")
	oneBefore, _ := os.ReadFile(onePath)

	for _, resume := range []bool{true, false} {
		o := shardOpts("r", 2, 2)
		o.Resume = resume
		o.RunID = map[bool]string{true: "", false: "r"}[resume] // --resume alone finds the latest run
		c, err := eval.Compare(ctx, cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		want := len(lines) - 2
		if !resume {
			want = 0
		}
		if !c.Resumed || c.Results[0].Answered != want || c.Results[0].Resumed != len(lines)-want {
			t.Errorf("resume %t: resumed %t, %+v; want %d asked again, %d kept", resume, c.Resumed, c.Results[0], want, len(lines)-want)
		}
	}
	if got := predIDs(t, p); len(got) != len(lines) {
		t.Errorf("shard 2/2 has %d answers, want %d", len(got), len(lines))
	}
	if oneAfter, _ := os.ReadFile(onePath); string(oneAfter) != string(oneBefore) {
		t.Errorf("resuming shard 2/2 changed shard 1/2's predictions")
	}
	// A shard of the run never begun is started by --resume.
	c, err := eval.Compare(ctx, cfg, eval.CompareOptions{Split: "all", Resume: true, RunID: "r3", NoCache: true, Shard: eval.Shard{Index: 1, Count: 2}})
	if err == nil {
		t.Errorf("--resume of a run that does not exist: %+v, want an error", c)
	}
}

func predIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	res, err := eval.ReadPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range res.Records {
		ids[r.ID] = true
	}
	return ids
}

// TestShardEmpty: with more shards than images some shards hold none; they
// run, and the merge is the whole set.
func TestShardEmpty(t *testing.T) {
	cfg, dir := compareSetup(t, 3, "  - {name: mean, backend: baseline, model: mean}\n")
	empty := 0
	for k := 1; k <= 6; k++ {
		c, err := eval.Compare(t.Context(), cfg, shardOpts("e", k, 6))
		if err != nil {
			t.Fatalf("shard %d/6: %v", k, err)
		}
		if len(c.Info.Items) == 0 {
			empty++
			if c.Outputs != nil {
				t.Errorf("shard %d/6 has no images but metrics %+v", k, c.Outputs)
			}
		}
	}
	if empty < 3 {
		t.Fatalf("%d of 6 shards are empty with 3 images; want at least 3", empty)
	}
	a, err := eval.Analyze(t.Context(), filepath.Join(dir, "results", "e"), eval.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Outputs.Metrics.Find("mean"); s == nil || s.N != 3 {
		t.Errorf("merged metrics %+v, want 3 images", s)
	}
}

// TestShardLocks: each shard has its own lock: a shard held by another
// process does not stop the others, and is itself refused.
func TestShardLocks(t *testing.T) {
	cfg, dir := compareSetup(t, 8, "  - {name: mean, backend: baseline, model: mean}\n")
	run := filepath.Join(dir, "results", "l")
	l, err := eval.LockRun(eval.ShardDir(run, eval.Shard{Index: 1, Count: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, err := eval.Compare(t.Context(), cfg, shardOpts("l", 2, 2)); err != nil {
		t.Errorf("shard 2/2 while 1/2 is held: %v", err)
	}
	if _, err := eval.Compare(t.Context(), cfg, shardOpts("l", 1, 2)); !errors.Is(err, eval.ErrRunLocked) {
		t.Errorf("shard 1/2 while held: %v, want ErrRunLocked", err)
	}
}

func TestShardReportMerged(t *testing.T) {
	r := &eval.ShardReport{Count: 4, Present: []int{1, 3}}
	if got := r.Merged(); got != "shards 1, 3 of 4" {
		t.Errorf("Merged = %q", got)
	}
}

// TestShardsWithOtherTrainingSplitsDoNotMerge: the mean baseline's identity
// names its training scores, so a shard run with another training split
// (same held-out images) is refused before it asks anything, and a merge of
// such shards is refused: "mean" never mixes two values.
func TestShardsWithOtherTrainingSplitsDoNotMerge(t *testing.T) {
	cfg, dir := compareSetup(t, 12, "  - {name: mean, backend: baseline, model: mean}\n")
	set, err := eval.SelectItems(cfg.DataPath(), "all", "", dataset.Options{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range set.Items {
		ids = append(ids, it.ID)
	}
	slices.Sort(ids)
	split := func(name string, train []string) string {
		p := filepath.Join(dir, name)
		if err := dataset.WriteSplit(p, &dataset.Split{Data: cfg.DataPath(), Train: train, Val: ids[:6]}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := split("a.json", ids[6:]), split("b.json", ids[9:])
	opts := func(k int, splitFile string) eval.CompareOptions {
		o := shardOpts("r", k, 2)
		o.Split = splitFile
		return o
	}
	if _, err := eval.Compare(t.Context(), cfg, opts(1, a)); err != nil {
		t.Fatal(err)
	}
	_, err = eval.OpenRun(cfg, opts(2, b))
	if err == nil || !strings.Contains(err.Error(), "train_scores.sha256 was sha256 ") {
		t.Fatalf("shard 2 with another training split: %v, want a refusal naming the training scores", err)
	}
	// Written anyway (as two machines would, neither seeing the other's
	// folder yet), the merge refuses them.
	os.Rename(eval.ShardDir(filepath.Join(cfg.OutputPath(), "r"), eval.Shard{Index: 1, Count: 2}), filepath.Join(dir, "away"))
	if _, err := eval.Compare(t.Context(), cfg, opts(2, b)); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(dir, "away"), eval.ShardDir(filepath.Join(cfg.OutputPath(), "r"), eval.Shard{Index: 1, Count: 2}))
	_, _, _, err = eval.ReadAnyRun(filepath.Join(cfg.OutputPath(), "r"), eval.MergeOptions{})
	if err == nil || !strings.Contains(err.Error(), "model mean is not the same in shards 1/2 and 2/2 (train_scores") {
		t.Fatalf("merge of shards with other training splits: %v", err)
	}
}
