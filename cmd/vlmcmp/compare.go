package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/progress"
	"github.com/vlmcmp/vlmcmp/usage"
)

// compareOptions are the flags of compare: the library's options, and
// what the command resolves itself (config, shard, OpenAI flags).
type compareOptions struct {
	eval.CompareOptions
	configFlags
	// Shard is --shard (K/N or auto), ShardCount --shard-count.
	Shard      string
	ShardCount int
}

func newCompareCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "compare",
		Usage:       "run every model on the same held-out images and compare them",
		UsageText:   "vlmcmp compare [--models <a,b,c>] [--data <file>] [--split {val | all | <file>}] [--output-dir <dir>] [--run-id <id>] [--resume] [--shard {K/N | auto} [--shard-count <n>]] [--limit <n>] [--allow-outside] [--concurrency <n>] [--baseline <name>] [--no-cache] [--config <file>]",
		Description: help("compare"),
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "models", Usage: "comma-separated model `NAMES` (default: every ready model)"},
			&cli.StringFlag{Name: "data", Usage: "ground-truth `FILE` (default from the config, else " + config.DefaultData + ")"},
			&cli.StringFlag{Name: "split", Value: "val", Usage: "images to evaluate: `{val | all | FILE}` (val: the held-out part of the split from vlmcmp prepare; FILE: another split manifest)"},
			&cli.StringFlag{Name: "output-dir", Usage: "parent `DIR` of run folders (default " + config.DefaultOutputDir + ")"},
			&cli.StringFlag{Name: "run-id", Usage: "run folder `NAME` (default: the start time); an existing run is resumed"},
			&cli.BoolFlag{Name: "resume", Usage: "finish the latest run (or --run-id) instead of starting a new one"},
			&cli.StringFlag{Name: "shard", Usage: "run only part `K/N` of the images (1 ≤ K ≤ N), or auto: K and N from the Slurm array task or Kubernetes Indexed Job"},
			&cli.IntFlag{Name: "shard-count", Usage: "with --shard auto in a Kubernetes Indexed Job: the number of shards `N`", DefaultText: "$" + eval.ShardCountEnv},
			&cli.IntFlag{Name: "limit", Usage: "evaluate only the first `N` images (0: all)"},
			&cli.BoolFlag{Name: "allow-outside", Usage: "accept image paths that leave the data file's folder (also allow_outside in the config)"},
			&cli.IntFlag{Name: "concurrency", Usage: "requests `N` in flight per model for backends that do not batch", DefaultText: "from the config, else 4"},
			&cli.StringFlag{Name: "baseline", Usage: "model `NAME` the others are compared against (default: the first)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "ask every model again instead of using cached answers"},
		}, configCLIFlags()...),
		Action: noArgs(func(c *cli.Context) error {
			return runCompare(c.Context, s, compareOptions{CompareOptions: eval.CompareOptions{
				Models: splitList(c.StringSlice("models")), Data: c.String("data"), Split: givenSplit(c),
				OutputDir: c.String("output-dir"), RunID: c.String("run-id"), Resume: c.Bool("resume"),
				Limit: c.Int("limit"), AllowOutside: c.Bool("allow-outside"), Concurrency: c.Int("concurrency"),
				Baseline: c.String("baseline"), NoCache: c.Bool("no-cache"),
			}, configFlags: readConfigFlags(c), Shard: c.String("shard"), ShardCount: c.Int("shard-count")})
		}),
	}
}

// givenSplit is --split when the command line gives it, "" otherwise: a
// new run takes "" as val, and a resumed run keeps its own split (a --split
// given that is not the run's is refused).
func givenSplit(c *cli.Context) string {
	if !c.IsSet("split") {
		return ""
	}
	return c.String("split")
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

func runCompare(ctx context.Context, s *streams, opts compareOptions) error {
	if opts.Limit < 0 || opts.Concurrency < 0 {
		return usage.Errorf("--limit", "--limit and --concurrency must not be negative")
	}
	var err error
	eo := opts.CompareOptions
	if eo.Shard, err = eval.ParseShard(opts.Shard, opts.ShardCount, os.Getenv); err != nil {
		return usage.Wrap("", err)
	}
	cfg, err := opts.load()
	if err != nil {
		return err
	}
	eo.OpenAI, eo.Progress, eo.Status, eo.Log = opts.configFlags.OpenAI.overrides(), progress.NewRun(s.Err).Update, s.Err, s.Log
	c, err := eval.Compare(ctx, cfg, eo)
	finish := func() string { return c.FinishCommand("--config", opts.Config, "--gpt4-model", opts.GPT4Model) }
	_, isUsage := usage.Is(err)
	switch {
	case isUsage:
		return err
	case c == nil:
		return err
	case ctx.Err() != nil:
		fmt.Fprintf(s.Err, "stopped; answers so far are kept in %s\nfinish with: %s\n",
			eval.PredictionsDir(c.Dir), finish())
		return ctx.Err()
	case c.Outputs == nil:
		if err != nil {
			return fmt.Errorf("%w; fix it and finish with: %s", err, finish())
		}
		if !c.Shard.Sharded() {
			return err
		}
	}
	if c.Outputs != nil {
		fmt.Fprint(s.Out, c.Outputs.Brief())
		fmt.Fprint(s.Out, c.Timing.Table())
	}
	if c.Shard.Sharded() {
		fmt.Fprintf(s.Err, "shard %s: %d images, answers in %s; once every shard is done, merge them with: %s\n",
			c.Shard, len(c.Info.Items), eval.PredictionsDir(c.Dir), c.MergeCommand())
	} else {
		fmt.Fprintf(s.Err, "outputs in %s\n", c.Dir)
	}
	if err != nil {
		return fmt.Errorf("%w; fix it and finish with: %s", err, finish())
	}
	if missing, total := c.Unanswered(); missing > 0 {
		return fmt.Errorf("%d of %d image × model answers are missing (errors are kept in %s); finish with: %s",
			missing, total, eval.PredictionsDir(c.Dir), finish())
	}
	return nil
}
