package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/eval/report"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/usage"
)

// CompareOptions are the settings of a comparison. The zero value starts a
// new run of every ready model of the config on the held-out images of the
// config's split, with the response cache.
type CompareOptions struct {
	// Models are the names of the models to run; each must be ready. Empty:
	// a resumed run's models, else every ready model (the others are left
	// out and named in Comparison.NotReady).
	Models []string
	// Data is the ground truth; "" the config's. Split is "val" (or "": the
	// held-out part of the config's split manifest), "all" (every record) or
	// another manifest file. Limit, when positive, keeps the first Limit
	// images. A resumed run keeps its own images.
	Data  string
	Split string
	Limit int
	// AllowOutside accepts image paths that leave the data file's folder
	// (also the config's allow_outside).
	AllowOutside bool
	// OutputDir is the parent of run folders; "" the config's.
	OutputDir string
	// RunID names the run folder; an existing run of that name is resumed.
	// Resume without RunID resumes the latest run of OutputDir.
	RunID  string
	Resume bool
	// Shard, when set, runs one part of the images (see [ShardOf]) into
	// the run's folder for that shard ([ShardDir]); every shard of a run
	// names the same RunID (or resumes the latest run). [Analyze] merges
	// them.
	Shard Shard
	// Concurrency, when positive, is the requests in flight per model for
	// backends that do not batch (over the models' own setting).
	Concurrency int
	// Baseline is the model the others are compared with; "" the first.
	Baseline string
	// NoCache asks every model again instead of taking cached answers.
	NoCache bool
	// OpenAI overrides the config of the OpenAI models.
	OpenAI backend.OpenAIOverrides
	// Now gives the start time of a new run; nil: time.Now.
	Now func() time.Time
	// Progress, when set, is called after every answer (see Runner).
	Progress func(Progress)
	// Status receives the lines a person running the comparison wants to
	// see: which run, which models were left out and why, records of the
	// data that were skipped. nil: discarded.
	Status io.Writer
	// Log receives debug lines; nil: discarded.
	Log *slog.Logger
}

// Comparison is a run being compared: made by OpenRun, run by Run.
type Comparison struct {
	// Dir is the folder this comparison writes: the run folder under
	// OutputDir, or for a shard the shard's folder inside it (RunDir is
	// the run folder in both cases).
	Dir       string
	RunDir    string
	OutputDir string
	// Shard is the part of the run's images compared (zero: all).
	Shard Shard
	// Info is the run's manifest as written to Dir.
	Info *RunInfo
	// Resumed is set when Dir held a run already.
	Resumed bool
	// Models are the configured models that run, in order; NotReady names
	// those left out (without CompareOptions.Models) with the reason.
	Models   []*config.Model
	NotReady []string
	// Results are what Run did per model; Outputs the files it wrote and
	// their metrics (nil when it was interrupted). A shard writes no
	// outputs (vlmcmp analyze writes them for the merged run): its Outputs
	// hold only the metrics of its own images.
	Results []ModelResult
	Outputs *report.Written
	// Timing is each model's wall time and rate in Run, and the run's.
	Timing *report.RunTiming

	cfg  *config.Config
	opts CompareOptions
	set  []dataset.Item // the whole set of images selected (a shard's too), when known
	lock *RunLock       // the run folder is this process's from OpenRun to Run's end (or Close)
	ids  map[string]ModelIdentity
}

// Close releases the run folder when Run is not called after OpenRun; Run
// releases it itself. It may be called more than once.
func (c *Comparison) Close() error {
	if c.lock == nil {
		return nil
	}
	err := c.lock.Unlock()
	c.lock = nil
	return err
}

// Compare runs a comparison: OpenRun, then Run. On an interruption it
// returns the comparison so far and ctx's error; when some models stopped
// (MaxLeadingErrors, an unwritable file) it still writes the outputs of the
// answers there are and returns the comparison with their joined errors.
func Compare(ctx context.Context, cfg *config.Config, opts CompareOptions) (*Comparison, error) {
	c, err := OpenRun(cfg, opts)
	if err != nil {
		return nil, err
	}
	return c, c.Run(ctx)
}

// OpenRun decides which run to work on (an existing one to finish, or a new
// one), selects its images and models, and writes its manifest. It loads no
// model.
func OpenRun(cfg *config.Config, opts CompareOptions) (*Comparison, error) {
	if opts.Limit < 0 || opts.Concurrency < 0 {
		return nil, optionErrorf("limit and concurrency must not be negative")
	}
	if id := opts.RunID; id != "" && (strings.ContainsAny(id, `/\`) || id == "." || id == "..") {
		return nil, optionErrorf("run id %q: a run id names a folder; no slashes", id)
	}
	if opts.Shard.Sharded() {
		if err := opts.Shard.valid(); err != nil {
			return nil, usage.Wrap("", err)
		}
		if opts.RunID == "" && !opts.Resume {
			return nil, optionErrorf("--shard %s needs --run-id: every shard of a run must name the same run folder", opts.Shard)
		}
	}
	c := &Comparison{cfg: cfg, opts: opts, OutputDir: opts.OutputDir, Shard: opts.Shard}
	if c.OutputDir == "" {
		c.OutputDir = cfg.OutputPath()
	}
	if len(opts.Models) > 0 {
		// Named models that are unknown or not ready fail before anything
		// is read.
		if _, _, err := SelectModels(cfg, opts.Models, opts.OpenAI); err != nil {
			return nil, err
		}
	}
	if err := c.findRun(); err != nil {
		return nil, err
	}
	// The run folder is this process's until Run ends (LockRun); a resumed
	// manifest is read again under the lock.
	lock, err := LockRun(c.Dir)
	if err != nil {
		return nil, err
	}
	c.lock = lock
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	if c.Resumed {
		if c.Info, err = ReadRunInfo(c.Dir); err != nil {
			return nil, err
		}
	}
	names := opts.Models
	if c.Resumed {
		if c.Shard.Sharded() {
			fmt.Fprintf(c.status(), "resuming shard %s of run %s (%d images)\n", c.Shard, c.RunDir, len(c.Info.Items))
		} else {
			fmt.Fprintf(c.status(), "resuming run %s (%d images)\n", c.Dir, len(c.Info.Items))
		}
		if err := c.checkResume(); err != nil {
			return nil, err
		}
		if len(names) == 0 {
			names = c.Info.Models
		}
	} else if err := c.newInfo(); err != nil {
		return nil, err
	}
	if c.Models, c.NotReady, err = SelectModels(cfg, names, opts.OpenAI); err != nil {
		return nil, err
	}
	if len(c.NotReady) > 0 {
		fmt.Fprintf(c.status(), "skipping models that are not ready: %s\n", strings.Join(c.NotReady, "; "))
	}
	for _, m := range c.Models {
		if !slices.Contains(c.Info.Models, m.Name) {
			c.Info.Models = append(c.Info.Models, m.Name)
		}
	}
	if opts.Baseline != "" {
		if !slices.Contains(c.Info.Models, opts.Baseline) {
			return nil, optionErrorf("--baseline %q is not one of the run's models (%s)", opts.Baseline, strings.Join(c.Info.Models, ", "))
		}
		c.Info.Baseline = opts.Baseline
	}
	// A resumed model must be the model the run started with; the same
	// identities key the response cache (build).
	ids := map[string]ModelIdentity{}
	env := backend.Env{TrainScores: c.Info.TrainScores, OpenAI: opts.OpenAI}
	for _, m := range c.Models {
		if ids[m.Name], err = ConfigIdentity(cfg, m, env); err != nil {
			return nil, err
		}
	}
	c.ids = ids
	if err := c.Info.CheckIdentities(ids); err != nil {
		return nil, err
	}
	if err := c.checkSiblings(ids); err != nil {
		return nil, err
	}
	if err := WriteRunInfo(c.Dir, c.Info); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// findRun sets the run folder: RunID's (resumed when it holds a run), the
// latest (Resume), or a new one named by the start time; for a shard, the
// shard's folder inside it.
func (c *Comparison) findRun() error {
	opts := c.opts
	switch {
	case opts.RunID != "":
		c.RunDir = filepath.Join(c.OutputDir, opts.RunID)
	case opts.Resume:
		dir, err := LatestRun(c.OutputDir)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		c.RunDir = dir
	default:
		// Runs started in the same second get a suffix.
		id := NewRunID(c.now())
		c.RunDir = filepath.Join(c.OutputDir, id)
		for i := 2; exists(c.RunDir); i++ {
			c.RunDir = filepath.Join(c.OutputDir, fmt.Sprintf("%s-%d", id, i))
		}
		c.Dir = c.RunDir
		return nil
	}
	c.Dir = c.RunDir
	if opts.Shard.Sharded() {
		if exists(filepath.Join(c.RunDir, RunInfoFile)) || exists(filepath.Join(c.RunDir, RunInfoFile+".tmp")) {
			return fmt.Errorf("run %s is not sharded (it has a %s of its own): a shard cannot join it; use another --run-id", c.RunDir, RunInfoFile)
		}
		c.Dir = ShardDir(c.RunDir, opts.Shard)
	} else if IsSharded(c.RunDir) {
		return errShardedRun(c.RunDir)
	}
	old, err := ReadRunInfo(c.Dir)
	switch {
	case err == nil:
		c.Info, c.Resumed = old, true
		if opts.Shard.Sharded() && (old.Shard == nil || old.Shard.Shard() != opts.Shard) {
			return fmt.Errorf("%s is not the run.json of shard %s", filepath.Join(c.Dir, RunInfoFile), opts.Shard)
		}
	case opts.Resume && opts.Shard.Sharded() && IsSharded(c.RunDir):
		// A shard of the run never begun is part of what a resume
		// finishes: it starts now.
	case opts.Resume:
		return fmt.Errorf("--resume: %w", err)
	}
	return nil
}

// newInfo selects a new run's images and makes its manifest.
func (c *Comparison) newInfo() error {
	opts := c.opts
	data := opts.Data
	if data == "" {
		data = c.cfg.DataPath()
	}
	set, err := SelectItems(data, opts.Split, c.cfg.SplitPath(), dataset.Options{AllowOutside: opts.AllowOutside || c.cfg.AllowOutside}, c.status())
	if err != nil {
		return err
	}
	if set.SplitName == "all" {
		fmt.Fprintln(c.status(), "--split all: the baselines see the scores they are evaluated on")
	}
	items := set.Items
	if opts.Limit > 0 && opts.Limit < len(items) {
		items = items[:opts.Limit]
	}
	var shard *ShardInfo
	c.set = items
	if opts.Shard.Sharded() {
		items, shard = selectShard(items, opts.Shard)
	}
	c.Info = &RunInfo{
		Shard: shard,
		ID:    filepath.Base(c.RunDir), Created: c.now().UTC(),
		Data: data, Split: set.SplitFile, SplitName: set.SplitName, Limit: opts.Limit,
		Config: c.cfg.Path, Items: items, TrainScores: set.TrainScores,
	}
	return nil
}

// Run builds the models' predictors, asks every model about every image
// not yet answered, and writes the outputs (see Compare for its errors).
// Loaded models are released before it returns.
func (c *Comparison) Run(ctx context.Context) error {
	defer c.Close()
	models, closeAll, err := c.build(ctx)
	defer closeAll()
	if err != nil {
		return err
	}
	if si := c.Info.Shard; si != nil {
		fmt.Fprintf(c.status(), "run %s, shard %s: %d of the %d images, models %s\n", c.RunDir, c.Shard, len(c.Info.Items), si.SetSize, strings.Join(modelNames(c.Models), ", "))
	} else {
		fmt.Fprintf(c.status(), "run %s: %d images, models %s\n", c.Dir, len(c.Info.Items), strings.Join(modelNames(c.Models), ", "))
	}
	runner := &Runner{Dir: c.Dir, Progress: c.opts.Progress, Status: c.opts.Status, Log: c.opts.Log}
	var runErr error
	c.Results, runErr = runner.Run(ctx, models, c.Info.Items)
	c.Timing = runner.Timing
	if err := ctx.Err(); err != nil {
		return err
	}
	if runErr != nil {
		c.log().Debug("some models stopped", "err", runErr) // returned below
	}
	info, recs, err := ReadRun(c.Dir, statusWarn(c.status()))
	if err != nil {
		return err
	}
	if c.Shard.Sharded() {
		// The run's outputs are the merged shards' (vlmcmp analyze); a
		// shard has the metrics of its own images.
		if in := reportInput(c.Dir, info, recs); len(in.Models) > 0 {
			res, err := report.Evaluate(in)
			if err != nil {
				return errors.Join(runErr, err)
			}
			c.Outputs = &report.Written{Metrics: res}
		}
		return runErr
	}
	if c.Outputs, err = writeOutputs(ctx, c.Dir, info, recs, nil, c.Timing); err != nil {
		if runErr != nil { // the first failure (a predictions file on a full disk) leads
			return fmt.Errorf("%w; the outputs could not be written either: %v", runErr, err)
		}
		return err
	}
	return runErr
}

// build makes the runner's models; closeAll releases those built.
func (c *Comparison) build(ctx context.Context) (models []Model, closeAll func(), err error) {
	env := backend.Env{TrainScores: c.Info.TrainScores, OpenAI: c.opts.OpenAI, Concurrency: c.opts.Concurrency, Log: c.opts.Log, Status: c.opts.Status}
	if !c.opts.NoCache {
		dir, err := llm.DefaultCacheDir()
		if err == nil {
			env.Cache, err = llm.OpenCache(dir)
		}
		if err != nil {
			fmt.Fprintf(c.status(), "response cache off: %v\n", err)
		} else if note := env.Cache.Note(); note != "" {
			fmt.Fprintln(c.status(), note)
		}
	}
	var built []*backend.Built
	closeAll = func() {
		for _, b := range built {
			b.Close()
		}
	}
	for _, m := range c.Models {
		b, err := backend.Build(ctx, m.Name, m.Spec, c.ids[m.Name], env)
		if err != nil {
			return nil, closeAll, err
		}
		built = append(built, b)
		prompt, system := c.cfg.PromptFor(m)
		conc := m.Concurrency
		if c.opts.Concurrency > 0 {
			conc = c.opts.Concurrency
		}
		models = append(models, Model{
			Name: m.Name, Predictor: b.Predictor, Prompt: prompt, System: system,
			Options: llm.Options{MaxTokens: m.MaxTokens}, Concurrency: conc,
		})
	}
	return models, closeAll, nil
}

func (c *Comparison) status() io.Writer {
	if c.opts.Status == nil {
		return io.Discard
	}
	return c.opts.Status
}

func (c *Comparison) log() *slog.Logger {
	if c.opts.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.opts.Log
}

func (c *Comparison) now() time.Time {
	if c.opts.Now == nil {
		return time.Now()
	}
	return c.opts.Now()
}

// SelectModels resolves model names: the named models, each of which must
// be ready, or without names every ready model, with the others named in
// notReady ("name (reason)"). An unknown name is a [usage.Error].
func SelectModels(cfg *config.Config, names []string, openai backend.OpenAIOverrides) (models []*config.Model, notReady []string, err error) {
	all, err := cfg.Select(names)
	if err != nil {
		return nil, nil, usage.Wrap("", err)
	}
	for _, m := range all {
		r := m.Spec.Ready(backend.Env{OpenAI: openai})
		if r.Ready {
			models = append(models, m)
			continue
		}
		if len(names) > 0 {
			return nil, nil, fmt.Errorf("model %s is not ready: %s", m.Name, r.Reason)
		}
		notReady = append(notReady, fmt.Sprintf("%s (%s)", m.Name, r.Reason))
	}
	if len(models) == 0 {
		return nil, notReady, errors.New("no model is ready: see vlmcmp models")
	}
	return models, notReady, nil
}

func modelNames(models []*config.Model) []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.Name
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Unanswered counts the run's image × model pairs that have no answer (no
// line, or an error line: both are asked again on resume) out of all of
// them, as the predictions files stand. A run whose files cannot be read
// counts as 0 of 0; Run has reported that already.
func (c *Comparison) Unanswered() (missing, total int) {
	_, recs, err := ReadRun(c.Dir, func(string, ...any) {})
	if err != nil {
		return 0, 0
	}
	for _, m := range c.Models {
		ok := map[string]bool{}
		for _, r := range recs[m.Name] {
			if r.Error == "" && r.Prediction != nil {
				ok[r.ID] = true
			}
		}
		for _, it := range c.Info.Items {
			total++
			if !ok[it.ID] {
				missing++
			}
		}
	}
	return missing, total
}

// checkSiblings refuses a shard that would not merge with the shards of its
// run already written (another image set, another N, a model under the same
// name that is not the same), before any model is asked: the merge would
// refuse it hours later. Shards it cannot read are left to the merge.
func (c *Comparison) checkSiblings(ids map[string]ModelIdentity) error {
	if !c.Shard.Sharded() {
		return nil
	}
	shards, _ := listShards(c.RunDir)
	for _, s := range shards {
		if s == c.Shard {
			continue
		}
		if s.Count != c.Shard.Count {
			return fmt.Errorf("run %s has shard %s already, of another N than --shard %s: the shards of one run must all be K/%d, or use another --run-id", c.RunDir, s, c.Shard, s.Count)
		}
		other, err := ReadRunInfo(ShardDir(c.RunDir, s))
		if err != nil || other.Shard == nil {
			continue
		}
		if mine := c.Info.Shard; mine != nil && (other.Shard.SetSHA256 != mine.SetSHA256 || other.Shard.SetSize != mine.SetSize) {
			what := fmt.Sprintf("another image set (%d images) than this shard's (%d)", other.Shard.SetSize, mine.SetSize)
			if ch := itemChanges(other.Items, c.set, "is not in this shard's set"); c.set != nil && len(ch) > 0 {
				what += ": " + strings.Join(ch, "; ")
			}
			return fmt.Errorf("shard %s of run %s ran on %s: give every shard the same --data, --split and --limit", s, c.RunDir, what)
		}
		for _, n := range slices.Sorted(maps.Keys(ids)) {
			if old, ok := other.Identities[n]; ok {
				if ch := identityChanges(old, ids[n]); len(ch) > 0 {
					return fmt.Errorf("model %s is not the model shard %s of run %s ran (%s): every shard of a run must run the same models", n, s, c.RunDir, strings.Join(ch, "; "))
				}
			}
		}
	}
	return nil
}
