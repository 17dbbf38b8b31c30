package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/bench"
	"github.com/vlmcmp/vlmcmp/llm"
)

// benchOptions are the options of vlmcmp bench.
type benchOptions struct {
	Engine        engineOptions
	Images        string // folder of images
	Synthetic     int    // number of synthetic images, when Images is empty
	SyntheticSize string // WxH of synthetic images
	Seed          uint64
	Batch         []int
	MaxTokens     int
	Repeat        int
	Prompt        string
	JSON          string
	Plot          string
	Format        string // table or benchstat
}

func newBenchCommand(s *streams) *cli.Command {
	flags := append(engineFlags(),
		&cli.StringFlag{Name: "images", Usage: "`DIR` of images to score (JPEG, PNG, WebP, GIF, BMP)"},
		&cli.IntFlag{Name: "synthetic", Usage: "score `N` synthetic street-like images instead of --images"},
		&cli.StringFlag{Name: "synthetic-size", Value: "448x336", Usage: "`WxH` pixels of the synthetic images"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "`SEED` of the synthetic images"},
		&cli.StringFlag{Name: "batch", Value: "1,2,4,8,16", Usage: "comma-separated batch `SIZES` (parallel sequences)"},
		&cli.IntFlag{Name: "max-tokens", Value: 16, Usage: "answer length `N` in tokens"},
		&cli.IntFlag{Name: "repeat", Value: 3, Usage: "`R` timed runs per batch size, after one warm-up request"},
		&cli.StringFlag{Name: "prompt", Value: llm.DefaultPrompt, Usage: "the user's `TEXT`"},
		&cli.StringFlag{Name: "json", Usage: "write every figure as JSON to `FILE`"},
		&cli.StringFlag{Name: "plot", Usage: "write a PNG plot of images/s and decode tokens/s against batch size to `FILE`"},
		&cli.StringFlag{Name: "format", Value: "table", Usage: "stdout `FORMAT`: table, or benchstat (one line per run, for golang.org/x/perf/cmd/benchstat)"},
	)
	return &cli.Command{
		Name:  "bench",
		Usage: "measure local inference throughput at several batch sizes",
		UsageText: "vlmcmp bench --model-file <gguf> --mmproj <gguf> [--lora <gguf>[:<scale>]]... {--images <dir> | --synthetic <n>}\n" +
			"  [--batch 1,2,4,8,16] [--max-tokens <n>] [--repeat <r>] [--json <file>] [--plot <file.png>] [--format {table | benchstat}]",
		Description: `bench scores the same images with the local Qwen2-VL at each batch size (the
number of sequences decoded together by continuous batching). For each size it
loads the model, answers one warm-up request, then scores every image --repeat
times and reports the medians (with min and max) of: wall time, images per
second, vision encoder milliseconds per image, prefill and decode tokens per
second (engine time), time to first token (queueing included), peak process
memory, GPU memory in use where a GPU is used, and the share of answers
identical to batch size 1's (floating-point sums can round differently with
other batch shapes). Answers are greedy and --max-tokens long unless the model
ends them first.

Examples:
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 32 --batch 1,2,4,8
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --gpu-layers -1 --images photos \
    --batch 1,8,16,32 --json bench.json --plot bench.png
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 16 --format benchstat > new.txt`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("bench takes no arguments, got %q", c.Args().First())
			}
			sizes, err := parseBatchSizes(c.String("batch"))
			if err != nil {
				return err
			}
			return runBench(c.Context, s, benchOptions{
				Engine:        engineOptionsFrom(c),
				Images:        c.String("images"),
				Synthetic:     c.Int("synthetic"),
				SyntheticSize: c.String("synthetic-size"),
				Seed:          c.Uint64("seed"),
				Batch:         sizes,
				MaxTokens:     c.Int("max-tokens"),
				Repeat:        c.Int("repeat"),
				Prompt:        c.String("prompt"),
				JSON:          c.String("json"),
				Plot:          c.String("plot"),
				Format:        c.String("format"),
			})
		},
	}
}

func parseBatchSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("--batch: %q is not a positive whole number", f)
		}
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	return sizes, nil
}

func runBench(ctx context.Context, s *streams, opts benchOptions) error {
	cfg, err := opts.Engine.config()
	if err != nil {
		return err
	}
	switch {
	case opts.Images == "" && opts.Synthetic <= 0:
		return usagef("give --images DIR or --synthetic N")
	case opts.Images != "" && opts.Synthetic > 0:
		return usagef("give --images or --synthetic, not both")
	case opts.Repeat < 1:
		return usagef("--repeat is %d, want 1 or more", opts.Repeat)
	case opts.MaxTokens < 1:
		return usagef("--max-tokens is %d, want 1 or more", opts.MaxTokens)
	case opts.Format != "table" && opts.Format != "benchstat":
		return usagef("--format %q is not one of table, benchstat", opts.Format)
	case len(opts.Batch) == 0:
		return usagef("--batch names no batch size")
	}
	if _, _, err := bench.ParseSize(opts.SyntheticSize); opts.Synthetic > 0 && err != nil {
		return usagef("--synthetic-size %q is not WxH between 28x28 and 8192x8192", opts.SyntheticSize)
	}
	reqs, err := bench.Requests(bench.Images{Dir: opts.Images, Synthetic: opts.Synthetic, SyntheticSize: opts.SyntheticSize,
		Seed: opts.Seed, Prompt: opts.Prompt, MaxTokens: opts.MaxTokens})
	if err != nil {
		return err
	}
	bo := bench.Options{Engine: cfg, LoRA: opts.Engine.LoRA, Batch: opts.Batch, Repeat: opts.Repeat,
		MaxTokens: opts.MaxTokens, Progress: s.Err}
	if opts.Synthetic > 0 {
		bo.ImageSize = opts.SyntheticSize
	}
	rep, err := bench.Run(ctx, reqs, bo)
	if err != nil {
		return err
	}
	if opts.Format == "benchstat" {
		bench.WriteBenchstat(s.Out, rep)
	} else {
		bench.WriteTable(s.Out, rep)
	}
	if opts.JSON != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("bench json: %w", err)
		}
		if err := os.WriteFile(opts.JSON, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench json: %w", err)
		}
	}
	if opts.Plot != "" {
		return bench.WritePlot(opts.Plot, rep)
	}
	return nil
}
