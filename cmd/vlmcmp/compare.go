package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
)

type compareOptions struct {
	Config      string
	Models      []string
	Data        string
	Split       string
	OutputDir   string
	RunID       string
	Resume      bool
	Limit       int
	Concurrency int
	Baseline    string
	NoCache     bool
	GPT4Model   string
	OpenAI      openaiFlags
	// now gives the run's start time (tests fix it).
	now func() time.Time
}

func newCompareCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "run every model on the same held-out images and compare them",
		UsageText: "vlmcmp compare [--models <a,b,c>] [--data <file>] [--split {val | all | <file>}] [--output-dir <dir>] [--run-id <id>] [--resume] [--limit <n>] [--concurrency <n>] [--baseline <name>] [--no-cache] [--config <file>]",
		Description: `compare asks every model about the same images (by default the held-out
images of the split written by vlmcmp prepare) and appends each answer as it
arrives to <output-dir>/<run-id>/predictions/<model>.jsonl. An interrupted run
(Ctrl-C, a crash) loses nothing: --resume, or the same --run-id, does only
what is missing. Answers are cached by everything that determines them, so a
rerun pays for nothing it already has (--no-cache bypasses the cache).
At the end it writes the metrics, workbook, plots and reports (as vlmcmp
analyze does) and prints a short table.

Without --models, every configured model that is ready runs (see vlmcmp models).

Examples:
  vlmcmp compare
  vlmcmp compare --models gpt4,qwen2vl-ft,mean --limit 20
  vlmcmp compare --resume
  vlmcmp compare --split all --data configs/vlm_safety_training_data.json --gpt4-model gpt-4-turbo`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "models `FILE` (default ./vlmcmp.yaml, else the built-in models)"},
			&cli.StringSliceFlag{Name: "models", Usage: "comma-separated model `NAMES` (default: every ready model)"},
			&cli.StringFlag{Name: "data", Usage: "ground-truth `FILE` (default from the config, else " + config.DefaultData + ")"},
			&cli.StringFlag{Name: "split", Value: "val", Usage: "images to evaluate: `{val | all | FILE}` (val: the held-out part of the split from vlmcmp prepare; FILE: another split manifest)"},
			&cli.StringFlag{Name: "output-dir", Usage: "parent `DIR` of run folders (default " + config.DefaultOutputDir + ")"},
			&cli.StringFlag{Name: "run-id", Usage: "run folder `NAME` (default: the start time); an existing run is resumed"},
			&cli.BoolFlag{Name: "resume", Usage: "finish the latest run (or --run-id) instead of starting a new one"},
			&cli.IntFlag{Name: "limit", Usage: "evaluate only the first `N` images (0: all)"},
			&cli.IntFlag{Name: "concurrency", Usage: "requests in flight per model for backends that do not batch (`N`, default from the config, else 4)"},
			&cli.StringFlag{Name: "baseline", Usage: "model `NAME` the others are compared against (default: the first)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "ask every model again instead of using cached answers"},
			&cli.StringFlag{Name: "gpt4-model", Usage: "OpenAI `MODEL` of the model named gpt4 (default " + config.DefaultGPT4Model + ")"},
		}, openaiCLIFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("compare takes no arguments, got %q", c.Args().First())
			}
			return runCompare(c.Context, s, compareOptions{
				Config:      c.String("config"),
				Models:      splitList(c.StringSlice("models")),
				Data:        c.String("data"),
				Split:       c.String("split"),
				OutputDir:   c.String("output-dir"),
				RunID:       c.String("run-id"),
				Resume:      c.Bool("resume"),
				Limit:       c.Int("limit"),
				Concurrency: c.Int("concurrency"),
				Baseline:    c.String("baseline"),
				NoCache:     c.Bool("no-cache"),
				GPT4Model:   c.String("gpt4-model"),
				OpenAI:      readOpenAIFlags(c),
			})
		},
	}
}

// splitList flattens comma-separated values of a repeated flag.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// loadConfig finds the config and applies --gpt4-model.
func loadConfig(path, gpt4Model string) (*config.Config, error) {
	cfg, err := config.Find(path)
	if err != nil {
		return nil, err
	}
	if gpt4Model != "" {
		if err := cfg.SetGPT4Model(gpt4Model); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func runCompare(ctx context.Context, s *streams, opts compareOptions) error {
	if opts.Limit < 0 || opts.Concurrency < 0 {
		return usagef("--limit and --concurrency must not be negative")
	}
	if opts.RunID != "" && (strings.ContainsAny(opts.RunID, `/\`) || opts.RunID == "." || opts.RunID == "..") {
		return usagef("--run-id %q: a run id names a folder; no slashes", opts.RunID)
	}
	cfg, err := loadConfig(opts.Config, opts.GPT4Model)
	if err != nil {
		return err
	}
	if len(opts.Models) > 0 {
		// Named models that are unknown or not ready fail before anything
		// is read.
		if _, err := pickModels(cfg, opts.Models, opts.OpenAI, s); err != nil {
			return err
		}
	}
	outDir := opts.OutputDir
	if outDir == "" {
		outDir = cfg.OutputPath()
	}
	now := time.Now
	if opts.now != nil {
		now = opts.now
	}

	// Which run: an existing one to finish, or a new one.
	var runDir string
	var info *eval.RunInfo
	switch {
	case opts.RunID != "":
		runDir = filepath.Join(outDir, opts.RunID)
		if old, err := eval.ReadRunInfo(runDir); err == nil {
			info = old
		} else if opts.Resume {
			return fmt.Errorf("--resume: %w", err)
		}
	case opts.Resume:
		runDir, err = eval.LatestRun(outDir)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if info, err = eval.ReadRunInfo(runDir); err != nil {
			return err
		}
	default:
		// Runs started in the same second get a suffix.
		id := eval.NewRunID(now())
		runDir = filepath.Join(outDir, id)
		for i := 2; exists(runDir); i++ {
			runDir = filepath.Join(outDir, fmt.Sprintf("%s-%d", id, i))
		}
	}

	// The run folder is this process's until it ends (eval.LockRun); the
	// manifest is read again under the lock.
	lock, err := eval.LockRun(runDir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if info != nil {
		if info, err = eval.ReadRunInfo(runDir); err != nil {
			return err
		}
	}

	if info != nil {
		fmt.Fprintf(s.Err, "resuming run %s (%d images)\n", runDir, len(info.Items))
		if opts.Data != "" || opts.Limit != 0 || (opts.Split != "" && opts.Split != "val" && opts.Split != info.SplitName) {
			slog.Warn("resuming: --data, --split and --limit are those of the run being resumed", "run", runDir)
		}
		if len(opts.Models) == 0 {
			opts.Models = info.Models
		}
	} else {
		data := opts.Data
		if data == "" {
			data = cfg.DataPath()
		}
		set, err := selectItems(data, opts.Split, cfg.SplitPath(), s.Err)
		if err != nil {
			return err
		}
		if set.SplitName == "all" {
			slog.Warn("--split all: the baselines see the scores they are evaluated on")
		}
		items := set.Items
		if opts.Limit > 0 && opts.Limit < len(items) {
			items = items[:opts.Limit]
		}
		info = &eval.RunInfo{
			ID: filepath.Base(runDir), Created: now().UTC(),
			Data: data, Split: set.SplitFile, SplitName: set.SplitName, Limit: opts.Limit,
			Config: cfg.Path, Items: items, TrainScores: set.TrainScores,
		}
	}

	models, err := pickModels(cfg, opts.Models, opts.OpenAI, s)
	if err != nil {
		return err
	}
	for _, m := range models {
		if !slices.Contains(info.Models, m.Name) {
			info.Models = append(info.Models, m.Name)
		}
	}
	if opts.Baseline != "" {
		if !slices.Contains(info.Models, opts.Baseline) {
			return usagef("--baseline %q is not one of the run's models (%s)", opts.Baseline, strings.Join(info.Models, ", "))
		}
		info.Baseline = opts.Baseline
	}
	// A resumed model must be the model the run started with.
	ids := map[string]eval.ModelIdentity{}
	for _, m := range models {
		prompt, system := cfg.PromptFor(m)
		if ids[m.Name], err = eval.ConfigIdentity(m, prompt, system, llm.Options{MaxTokens: m.MaxTokens}); err != nil {
			return err
		}
	}
	if err := info.CheckIdentities(ids); err != nil {
		return err
	}
	if err := eval.WriteRunInfo(runDir, info); err != nil {
		return err
	}

	env := buildEnv{TrainScores: info.TrainScores, OpenAI: opts.OpenAI, Concurrency: opts.Concurrency}
	if !opts.NoCache {
		dir, err := llm.DefaultCacheDir()
		if err == nil {
			env.Cache, err = llm.OpenCache(dir)
		}
		if err != nil {
			slog.Warn("response cache off", "err", err)
		}
	}
	var runModels []eval.Model
	for _, m := range models {
		b, err := buildPredictor(ctx, cfg, m, env)
		if err != nil {
			return err
		}
		defer b.Close()
		prompt, system := cfg.PromptFor(m)
		runModels = append(runModels, eval.Model{
			Name: m.Name, Predictor: b.Predictor, Prompt: prompt, System: system,
			Options:     llm.Options{MaxTokens: m.MaxTokens},
			Concurrency: concurrencyFor(opts.Concurrency, m),
		})
	}

	fmt.Fprintf(s.Err, "run %s: %d images, models %s\n", runDir, len(info.Items), strings.Join(names(models), ", "))
	view := newProgressView(s.Err)
	runner := &eval.Runner{Dir: runDir, Progress: view.Update}
	_, runErr := runner.Run(ctx, runModels, info.Items)
	if ctx.Err() != nil {
		fmt.Fprintf(s.Err, "stopped; answers so far are kept in %s\nfinish with: vlmcmp compare --output-dir %s --run-id %s\n",
			eval.PredictionsDir(runDir), outDir, info.ID)
		return ctx.Err()
	}
	if runErr != nil {
		slog.Error("some models stopped", "err", runErr)
	}
	if err := runAnalyze(ctx, s, analyzeOptions{Run: runDir, Baseline: opts.Baseline}); err != nil {
		if runErr != nil { // the first failure (a predictions file on a full disk) leads
			return fmt.Errorf("%w; the outputs could not be written either: %v", runErr, err)
		}
		return err
	}
	if runErr != nil {
		return fmt.Errorf("%w; fix it and run vlmcmp compare --run-id %s to finish", runErr, info.ID)
	}
	return nil
}

// concurrencyFor: the flag, else the model's config, else the runner's
// default.
func concurrencyFor(flag int, m *config.Model) int {
	if flag > 0 {
		return flag
	}
	return m.Concurrency
}

func names(models []*config.Model) []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.Name
	}
	return out
}

// pickModels resolves --models: the named models, each of which must be
// ready, or without names every ready model (saying which were left out).
func pickModels(cfg *config.Config, want []string, flags openaiFlags, s *streams) ([]*config.Model, error) {
	models, err := cfg.Select(want)
	if err != nil {
		return nil, usageError{err}
	}
	var out []*config.Model
	var notReady []string
	for _, m := range models {
		r := modelReadiness(cfg, m, flags)
		if r.Ready {
			out = append(out, m)
			continue
		}
		if len(want) > 0 {
			return nil, fmt.Errorf("model %s is not ready: %s", m.Name, r.Reason)
		}
		notReady = append(notReady, fmt.Sprintf("%s (%s)", m.Name, r.Reason))
	}
	if len(notReady) > 0 {
		fmt.Fprintf(s.Err, "skipping models that are not ready: %s\n", strings.Join(notReady, "; "))
	}
	if len(out) == 0 {
		return nil, errors.New("no model is ready: see vlmcmp models")
	}
	return out, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
