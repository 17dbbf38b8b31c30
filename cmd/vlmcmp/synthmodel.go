package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/usage"
)

// synthModelOptions are the flags of `vlmcmp synth-model`.
type synthModelOptions struct {
	Arch  string // model family: qwen2vl, qwen2.5vl, qwen3vl
	Shape string // tiny, small or a real size of the family
	Seed  int64
	Out   string // folder for model.gguf, mmproj.gguf, lora.gguf
	LoRA  bool
}

func newSynthModelCommand(s *streams) *cli.Command {
	var opts synthModelOptions
	return &cli.Command{
		Name:        "synth-model",
		Usage:       "write a random-weight Qwen2-VL, Qwen2.5-VL or Qwen3-VL model, projector and LoRA for tests and benchmarks",
		UsageText:   "vlmcmp synth-model --out <dir> [--arch {qwen2vl | qwen2.5vl | qwen3vl}] [--shape {tiny | small | 2b | 3b | 4b}] [--seed <n>] [--lora]",
		Description: help("synth-model"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arch", Destination: &opts.Arch, Value: family.Qwen2VL.Name, Usage: "model `FAMILY`: " + strings.Join(family.Names(), ", ")},
			&cli.StringFlag{Name: "shape", Destination: &opts.Shape, Value: string(synth.Tiny), Usage: "model `SIZE`: tiny, small or the family's real size (qwen2vl 2b, qwen2.5vl 3b, qwen3vl 2b or 4b)"},
			&cli.Int64Flag{Name: "seed", Destination: &opts.Seed, Value: 1, Usage: "random seed `N` of the weights"},
			&cli.StringFlag{Name: "out", Destination: &opts.Out, Usage: "`DIR` to write the files into (created if missing)", Required: true},
			&cli.BoolFlag{Name: "lora", Destination: &opts.LoRA, Usage: "also write a random LoRA adapter, lora.gguf"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usage.Errorf("", "synth-model takes no arguments, got %q", c.Args().First())
			}
			return runSynthModel(c.Context, s, opts)
		},
	}
}

func runSynthModel(ctx context.Context, s *streams, opts synthModelOptions) error {
	if opts.Arch == "" {
		opts.Arch = family.Qwen2VL.Name
	}
	if _, err := family.ByName(opts.Arch); err != nil {
		return usage.Errorf("--arch", "--arch: %v", err)
	}
	if _, err := synth.DimsFor(opts.Arch, synth.Shape(opts.Shape)); err != nil {
		return usage.Errorf("--shape", "--shape: %v", err)
	}
	if opts.Out == "" {
		return usage.Errorf("--out", "--out is required")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	files, err := synth.Write(opts.Out, synth.Options{Family: opts.Arch, Shape: synth.Shape(opts.Shape), Seed: opts.Seed, LoRA: opts.LoRA})
	if err != nil {
		return fmt.Errorf("synth-model: %w", err)
	}
	for _, p := range []string{files.Model, files.Mmproj, files.LoRA} {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		fmt.Fprintln(s.Out, p)
		fmt.Fprintf(s.Err, "wrote %s (%.1f MB)\n", p, float64(st.Size())/1e6)
	}
	fmt.Fprintf(s.Err, "synth-model: %s %s seed %d in %s\n", opts.Arch, opts.Shape, opts.Seed, time.Since(start).Round(time.Millisecond))
	return nil
}
