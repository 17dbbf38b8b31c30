package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/usage"
)

type demoOptions struct {
	Dir    string
	Images int
	Seed   uint64
}

func newDemoCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "demo",
		Usage:       "run the whole comparison on synthetic data and a tiny synthetic model",
		UsageText:   "vlmcmp demo [--dir <dir>] [--images <n>] [--seed <n>]",
		Description: help("demo"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "vlmcmp-demo", Usage: "`DIR` to write the demo into"},
			&cli.IntFlag{Name: "images", Value: 48, Usage: "`N` synthetic images (half are held out for the comparison)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random `SEED` of the images and the model"},
		},
		Action: noArgs(func(c *cli.Context) error {
			return runDemo(c.Context, s, demoOptions{Dir: c.String("dir"), Images: c.Int("images"), Seed: c.Uint64("seed")})
		}),
	}
}

func runDemo(ctx context.Context, s *streams, opts demoOptions) error {
	if opts.Images < 10 {
		return usage.Errorf("--images", "--images %d: the demo needs at least 10 images to hold some out", opts.Images)
	}
	start := time.Now()
	fmt.Fprintf(s.Err, "demo: writing %d synthetic street images to %s\n", opts.Images, filepath.Join(opts.Dir, "data"))
	d, err := demo.Prepare(opts.Dir, opts.Images, opts.Seed)
	if err != nil {
		return err
	}
	switch {
	case d.ModelErr != nil:
		fmt.Fprintf(s.Err, "demo: no local model: %v\n", d.ModelErr)
	case d.LocalErr != nil:
		fmt.Fprintf(s.Err, "demo: wrote a tiny random-weight Qwen2-VL to %s\n", filepath.Dir(d.Model))
		fmt.Fprintf(s.Err, "demo: this vlmcmp was %v (make demo does): the local model is left out\n", d.LocalErr)
	default:
		fmt.Fprintf(s.Err, "demo: wrote a tiny random-weight Qwen2-VL to %s\n", filepath.Dir(d.Model))
	}
	if d.KeySource != "" {
		fmt.Fprintf(s.Err, "demo: an OpenAI key is set (%s): gpt-4o-mini at %s joins the comparison (about a cent)\n", d.KeySource, d.BaseURL)
	}
	for _, args := range d.Steps {
		fmt.Fprintf(s.Err, "\ndemo: vlmcmp %s\n", strings.Join(args, " "))
		if err := runStep(ctx, s, args); err != nil {
			return fmt.Errorf("demo: %s: %w", args[0], err)
		}
	}
	run, err := eval.LatestRun(d.Results())
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "\ndemo: done in %s\n", time.Since(start).Round(time.Second))
	fmt.Fprintf(s.Err, "demo: report: %s\n", filepath.Join(run, "report.html"))
	fmt.Fprintf(s.Err, "demo: also report.txt, summary.json, metrics.xlsx, <model>_results.json/.xlsx and plots/ in %s\n", run)
	fmt.Fprintf(s.Err, "demo: rebuild them from the predictions alone with: vlmcmp analyze --run %s\n", run)
	fmt.Fprintln(s.Err, "demo: note: the local model has random weights, so its scores show the machinery working, not a model's skill;")
	fmt.Fprintln(s.Err, "demo: the baselines always predict the training mean or median, the floor a real model must beat.")
	return nil
}

// runStep runs one vlmcmp command in-process with the same streams.
func runStep(ctx context.Context, s *streams, args []string) error {
	app := newApp(s)
	return app.RunContext(ctx, append([]string{"vlmcmp"}, args...))
}
