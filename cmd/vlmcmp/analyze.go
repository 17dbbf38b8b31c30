package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/usage"
)

type analyzeOptions struct {
	Run       string
	OutputDir string
	Config    string
	Baseline  string
	Partial   bool
}

func newAnalyzeCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "analyze",
		Usage:       "rebuild a run's metrics, workbook, plots and reports from its predictions",
		UsageText:   "vlmcmp analyze [--run <dir>] [--output-dir <dir>] [--baseline <name>] [--partial]",
		Description: help("analyze"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Usage: "run `DIR` (default: the latest under --output-dir)"},
			&cli.StringFlag{Name: "output-dir", Usage: "parent `DIR` of run folders (default from the config, else " + config.DefaultOutputDir + ")"},
			&cli.StringFlag{Name: "config", Usage: "models `FILE`, for its output_dir"},
			&cli.StringFlag{Name: "baseline", Usage: "model `NAME` the others are compared against (default: the run's, else the first)"},
			&cli.BoolFlag{Name: "partial", Usage: "analyze a sharded run with shards or answers missing (saying what is missing) instead of refusing it"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usage.Errorf("", "analyze takes no arguments (give the run with --run), got %q", c.Args().First())
			}
			return runAnalyze(c.Context, s, analyzeOptions{
				Run:       c.String("run"),
				OutputDir: c.String("output-dir"),
				Config:    c.String("config"),
				Baseline:  c.String("baseline"),
				Partial:   c.Bool("partial"),
			})
		},
	}
}

func runAnalyze(ctx context.Context, s *streams, opts analyzeOptions) error {
	runDir, err := eval.FindRun(opts.Run, opts.OutputDir, opts.Config)
	if err != nil {
		return err
	}
	a, err := eval.Analyze(ctx, runDir, eval.AnalyzeOptions{
		Baseline: opts.Baseline, Partial: opts.Partial,
		Warn: func(msg string, args ...any) { s.Log.Warn(msg, args...) },
	})
	if err != nil {
		return err
	}
	if rep := a.Shards; rep != nil {
		fmt.Fprintf(s.Err, "merged %s (%d images)\n", rep.Merged(), len(a.Info.Items))
		for _, m := range rep.Missing {
			fmt.Fprintf(s.Err, "partial: %s\n", m)
		}
	}
	fmt.Fprint(s.Out, a.Outputs.Brief())
	if a.Incomplete != nil {
		fmt.Fprintf(s.Err, "%s; summary.json and the reports say so\n", a.Incomplete.Sentence())
	}
	fmt.Fprintf(s.Err, "outputs in %s\n", runDir)
	return nil
}
