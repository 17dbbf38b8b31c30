package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
)

type analyzeOptions struct {
	Run       string
	OutputDir string
	Config    string
	Baseline  string
}

func newAnalyzeCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "analyze",
		Usage:     "rebuild a run's metrics, workbook, plots and reports from its predictions",
		UsageText: "vlmcmp analyze [--run <dir>] [--output-dir <dir>] [--baseline <name>]",
		Description: `analyze reads the predictions files of a run (the latest under --output-dir
unless --run names one) and writes summary.json, metrics.xlsx, the per-model
results, plots/, report.txt and report.html into the run folder. It needs
nothing but the predictions files, so it can be rerun at any time, also on a
run that was interrupted.

Examples:
  vlmcmp analyze
  vlmcmp analyze --run results/model_comparison/20250102-150405
  vlmcmp analyze --baseline mean`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Usage: "run `DIR` (default: the latest under --output-dir)"},
			&cli.StringFlag{Name: "output-dir", Usage: "parent `DIR` of run folders (default from the config, else " + config.DefaultOutputDir + ")"},
			&cli.StringFlag{Name: "config", Usage: "models `FILE`, for its output_dir"},
			&cli.StringFlag{Name: "baseline", Usage: "model `NAME` the others are compared against (default: the run's, else the first)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("analyze takes no arguments (give the run with --run), got %q", c.Args().First())
			}
			return runAnalyze(c.Context, s, analyzeOptions{
				Run:       c.String("run"),
				OutputDir: c.String("output-dir"),
				Config:    c.String("config"),
				Baseline:  c.String("baseline"),
			})
		},
	}
}

func runAnalyze(ctx context.Context, s *streams, opts analyzeOptions) error {
	runDir := opts.Run
	if runDir == "" {
		out := opts.OutputDir
		if out == "" {
			cfg, err := config.Find(opts.Config)
			if err != nil {
				return err
			}
			out = cfg.OutputPath()
		}
		var err error
		if runDir, err = eval.LatestRun(out); err != nil {
			return err
		}
	}
	info, recs, err := eval.ReadRun(runDir, func(msg string, args ...any) { s.Log.Warn(msg, args...) })
	if err != nil {
		return err
	}
	if opts.Baseline != "" {
		if _, ok := recs[opts.Baseline]; !ok {
			return usagef("--baseline %q has no predictions in %s", opts.Baseline, runDir)
		}
		info.Baseline = opts.Baseline
	}
	w, err := eval.WriteOutputs(ctx, runDir, info, recs)
	if err != nil {
		return err
	}
	fmt.Fprint(s.Out, table(w.Metrics)+meanLines(w))
	fmt.Fprintf(s.Err, "outputs in %s\n", runDir)
	return nil
}
