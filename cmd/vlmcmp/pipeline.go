package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/finetune"
	"github.com/vlmcmp/vlmcmp/usage"
)

type pipelineOptions struct {
	Auto bool
	configFlags
	// Plan is what the flags say of the steps; runPipeline fills in the
	// config and the flags passed on.
	Plan finetune.PipelineOptions
}

func newPipelineCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "pipeline",
		Usage:       "prepare data, fine-tune, compare and analyze, step by step",
		UsageText:   "vlmcmp pipeline [--auto] [--skip-data-prep] [--skip-finetuning] [--text-only | --finetune-model <name>] [--provider azure --base-url <endpoint> --api-version <v>] [--models <a,b,c>] [--config <file>] [--data <file>]",
		Description: help("pipeline"),
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "auto", Usage: "run every step without asking"},
			&cli.BoolFlag{Name: "skip-data-prep", Usage: "skip prepare"},
			&cli.BoolFlag{Name: "skip-finetuning", Usage: "skip finetune"},
			&cli.BoolFlag{Name: "text-only", Usage: "fine-tune on the text-only files rather than the image files"},
			&cli.StringFlag{Name: "finetune-model", Usage: "base `MODEL` to fine-tune (default: one that takes images, gpt-4o-2024-08-06)"},
			&cli.StringSliceFlag{Name: "models", Usage: "comma-separated model `NAMES` to compare (default: every ready model)"},
			&cli.StringFlag{Name: "data", Usage: "ground-truth `FILE` (default from the config, else " + config.DefaultData + ")"},
			&cli.DurationFlag{Name: "poll", Usage: "check the fine-tuning job every `DURATION`", DefaultText: "finetune's"},
			&cli.StringFlag{Name: "provider", Usage: "who runs the fine-tuning job: openai, or azure (--base-url is then the resource's endpoint and --api-key-file its key, for finetune only)"},
			&cli.StringFlag{Name: "api-version", Usage: "Azure OpenAI API `VERSION` for finetune (with --provider azure)"},
		}, configCLIFlags()...),
		Action: noArgs(func(c *cli.Context) error {
			return runPipeline(c.Context, s, pipelineOptions{Auto: c.Bool("auto"), configFlags: readConfigFlags(c),
				Plan: finetune.PipelineOptions{Data: c.String("data"), Models: splitList(c.StringSlice("models")),
					Poll: c.Duration("poll"), TextOnly: c.Bool("text-only"), FineTuneModel: c.String("finetune-model"),
					Provider: c.String("provider"), APIVersion: c.String("api-version"),
					SkipPrepare: c.Bool("skip-data-prep"), SkipFinetune: c.Bool("skip-finetuning")}})
		}),
	}
}

func runPipeline(ctx context.Context, s *streams, opts pipelineOptions) error {
	cfg, err := opts.load()
	if err != nil {
		return err
	}
	p := opts.Plan
	switch {
	case p.Provider != "" && p.Provider != "openai" && p.Provider != "azure":
		return usage.Errorf("--provider", "--provider %q is not openai or azure", p.Provider)
	case p.APIVersion != "" && p.Provider != "azure":
		return usage.Errorf("--api-version", "--api-version is Azure's: give --provider azure")
	}
	p.Config, p.ConfigPath, p.GPT4Model = cfg, opts.Config, opts.GPT4Model
	p.APIKeyFile, p.BaseURL = opts.OpenAI.APIKeyFile, opts.OpenAI.BaseURL
	return finetune.RunPipeline(ctx, finetune.Plan(p), finetune.RunOptions{Auto: opts.Auto, In: s.In, Status: s.Err,
		Exec: func(ctx context.Context, args []string) error { return runStep(ctx, s, args) }})
}
