package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/eval/finetune"
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/usage"
)

// prepareOptions are the flags of `vlmcmp prepare`: the library's options,
// and what the command decides itself.
type prepareOptions struct {
	finetune.DataOptions
	Strict bool   // fail when the API would reject the files
	Prices string // YAML/JSON price overrides
}

func newPrepareCommand(s *streams) *cli.Command {
	var opts prepareOptions
	return &cli.Command{
		Name:        "prepare",
		Usage:       "split the ground truth and write OpenAI fine-tuning files",
		UsageText:   "vlmcmp prepare [--data <file>] [--out <dir>] [--val-ratio <x>] [--seed <n>] [--prompt <text>] [--system <text>] [--detail {low | high | auto}] [--model <name>]",
		Description: help("prepare"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Destination: &opts.Data, Value: config.DefaultData, Usage: "ground-truth `FILE`"},
			&cli.BoolFlag{Name: "allow-outside", Destination: &opts.AllowOutside, Usage: "accept image paths that leave the data file's folder"},
			&cli.StringFlag{Name: "out", Destination: &opts.OutDir, Value: filepath.Dir(config.DefaultSplit), Usage: "write the files to `DIR`"},
			&cli.Float64Flag{Name: "val-ratio", Destination: &opts.ValRatio, Value: dataset.DefaultValRatio, Usage: "share of images held out for validation, in [0, 1)"},
			&cli.Int64Flag{Name: "seed", Destination: &opts.Seed, Value: dataset.DefaultSeed, Usage: "seed of the split"},
			&cli.StringFlag{Name: "prompt", Destination: &opts.Prompt, Usage: "user prompt `TEXT` for every example (default: the record's own, else a built-in one)"},
			&cli.StringFlag{Name: "system", Destination: &opts.System, Usage: "system prompt `TEXT` for every example (default: the record's own, else a built-in one)"},
			&cli.StringFlag{Name: "detail", Destination: &opts.Detail, Value: openaiclient.DetailLow, Usage: "image `DETAIL` of the examples: low, high or auto"},
			&cli.StringFlag{Name: "model", Destination: &opts.Model, Value: openaiclient.DefaultFineTuneModel, Usage: "base `MODEL` the checks and the cost estimate are for"},
			&cli.IntFlag{Name: "epochs", Destination: &opts.Epochs, Value: 3, Usage: "epochs the cost estimate assumes"},
			&cli.BoolFlag{Name: "strict", Destination: &opts.Strict, Usage: "fail when the fine-tuning API would reject the files"},
			&cli.StringFlag{Name: "prices", Destination: &opts.Prices, Usage: "override the built-in prices with `FILE` (YAML or JSON: model: {input, output, training} in USD per 1M tokens)"},
			&cli.StringSliceFlag{Name: "text-fields", Usage: "ground-truth `FIELDS` the text-only examples carry in place of the image (default: caption, description, location… when present)"},
		},
		Action: func(c *cli.Context) error {
			opts.TextFields = c.StringSlice("text-fields")
			return runPrepare(c.Context, s, opts)
		},
	}
}

func runPrepare(_ context.Context, s *streams, opts prepareOptions) error {
	if opts.ValRatio < 0 || opts.ValRatio >= 1 {
		return usage.Errorf("--val-ratio", "--val-ratio %v is not in [0, 1)", opts.ValRatio)
	}
	if !openaiclient.ValidDetail(opts.Detail) {
		return usage.Errorf("--detail", "--detail %q is not one of low, high, auto", opts.Detail)
	}
	if opts.Prices != "" {
		var err error
		if opts.DataOptions.Prices, err = openaiclient.LoadPrices(opts.Prices); err != nil {
			return err
		}
	}
	rep, err := finetune.PrepareData(opts.DataOptions)
	if rep != nil {
		for _, p := range rep.DataSkipped {
			fmt.Fprintf(s.Err, "%s: skipped %s\n", opts.Data, p)
		}
		for _, w := range rep.DataWarnings {
			fmt.Fprintf(s.Err, "warning: %s\n", w)
		}
	}
	if err != nil {
		return err
	}
	printPrepareReport(s, opts, rep)
	if len(rep.Problems) > 0 && opts.Strict {
		return fmt.Errorf("prepare: %d problems the fine-tuning API would reject (listed above)", len(rep.Problems))
	}
	return nil
}

func printPrepareReport(s *streams, opts prepareOptions, rep *finetune.Report) {
	for _, p := range rep.Summary.Skipped {
		fmt.Fprintf(s.Err, "%s: skipped %s: %s\n", opts.Data, p.ID, p.Reason)
	}
	rep.WriteText(s.Out)
	for _, warn := range rep.Warnings {
		fmt.Fprintf(s.Err, "warning: %s\n", warn)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(s.Err, "the fine-tuning API would reject: %s\n", p)
	}
}
