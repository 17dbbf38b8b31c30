package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

type demoOptions struct {
	Dir    string
	Images int
	Seed   uint64
}

func newDemoCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the whole comparison on synthetic data and a tiny synthetic model",
		UsageText: "vlmcmp demo [--dir <dir>] [--images <n>] [--seed <n>]",
		Description: `demo shows the whole loop on this machine with nothing to download. It writes
a small synthetic dataset (street-like images with safety scores, in the
ground-truth format), a tiny random-weight Qwen2-VL and a config into --dir,
then runs prepare (half the images held out) and compare (the local model and
the mean and median baselines; gpt-4o-mini too when an OpenAI key is set in
OPENAI_API_KEY or ./API_KEY_Enoch), which ends by writing the outputs as
analyze does, and prints where the report is. Without llama.cpp built in
(go build instead of make) the local model is left out.

The local model has random weights: its scores show the machinery at work,
not a model's skill.

Examples:
  vlmcmp demo
  vlmcmp demo --dir /tmp/vlmcmp-demo --images 60`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "vlmcmp-demo", Usage: "`DIR` to write the demo into"},
			&cli.IntFlag{Name: "images", Value: 48, Usage: "`N` synthetic images (half are held out for the comparison)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random `SEED` of the images and the model"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("demo takes no arguments, got %q", c.Args().First())
			}
			return runDemo(c.Context, s, demoOptions{Dir: c.String("dir"), Images: c.Int("images"), Seed: c.Uint64("seed")})
		},
	}
}

// demoModel is one model entry of the demo's config.
type demoModel struct {
	Name       string   `yaml:"name"`
	Backend    string   `yaml:"backend"`
	Model      string   `yaml:"model,omitempty"`
	Detail     string   `yaml:"detail,omitempty"`
	ModelFile  string   `yaml:"model_file,omitempty"`
	Mmproj     string   `yaml:"mmproj,omitempty"`
	LoRA       []string `yaml:"lora,omitempty"`
	Structured bool     `yaml:"structured,omitempty"`
	MaxTokens  int      `yaml:"max_tokens,omitempty"`
}

func runDemo(ctx context.Context, s *streams, opts demoOptions) error {
	if opts.Images < 10 {
		return usagef("--images %d: the demo needs at least 10 images to hold some out", opts.Images)
	}
	start := time.Now()
	dir := opts.Dir
	dataDir := filepath.Join(dir, "data")
	fmt.Fprintf(s.Err, "demo: writing %d synthetic street images to %s\n", opts.Images, dataDir)
	data, err := demo.WriteDataset(dataDir, opts.Images, opts.Seed)
	if err != nil {
		return err
	}

	var models []demoModel
	files, err := writeDemoModel(filepath.Join(dir, "models", "tiny"), opts.Seed)
	if err != nil {
		fmt.Fprintf(s.Err, "demo: no local model: %v\n", err)
	} else {
		rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
		m := demoModel{Name: "qwen2vl-tiny", Backend: "local", ModelFile: rel(files.Model), Mmproj: rel(files.Mmproj),
			Structured: true, MaxTokens: 24}
		if files.LoRA != "" {
			m.LoRA = []string{rel(files.LoRA)}
		}
		models = append(models, m)
		fmt.Fprintf(s.Err, "demo: wrote a tiny random-weight Qwen2-VL to %s\n", filepath.Dir(files.Model))
		if err := backend.LocalAvailable(); err != nil {
			fmt.Fprintf(s.Err, "demo: this vlmcmp was %v (make demo does): the local model is left out\n", err)
		}
	}
	if _, src, err := openaiclient.ResolveKey(""); err == nil {
		models = append(models, demoModel{Name: "gpt4o-mini", Backend: "openai", Model: "gpt-4o-mini", Detail: "low", MaxTokens: 20})
		fmt.Fprintf(s.Err, "demo: an OpenAI key is set (%s): gpt-4o-mini at %s joins the comparison (about a cent)\n",
			src, openaiclient.ResolveBaseURL(""))
	}
	models = append(models, demoModel{Name: "mean", Backend: "baseline"}, demoModel{Name: "median", Backend: "baseline"})
	cfg := struct {
		Data      string      `yaml:"data"`
		Split     string      `yaml:"split"`
		OutputDir string      `yaml:"output_dir"`
		Models    []demoModel `yaml:"models"`
	}{"data/ground_truth.json", "data/openai_finetuning/split.json", "results/model_comparison", models}
	y, err := yaml.Marshal(&cfg)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "vlmcmp.yaml")
	header := "# vlmcmp demo config, written by vlmcmp demo. Paths are relative to this file.\n"
	if err := os.WriteFile(cfgPath, append([]byte(header), y...), 0o644); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}

	steps := []struct {
		name string
		args []string
	}{
		// Half held out, so that the comparison has a couple of dozen images.
		{"prepare", []string{"prepare", "--data", data, "--out", filepath.Join(dataDir, "openai_finetuning"), "--val-ratio", "0.5"}},
		// compare ends by writing the outputs, as vlmcmp analyze does.
		{"compare", []string{"compare", "--config", cfgPath, "--baseline", "mean"}},
	}
	for _, st := range steps {
		fmt.Fprintf(s.Err, "\ndemo: vlmcmp %s\n", strings.Join(st.args, " "))
		if err := runStep(ctx, s, st.args); err != nil {
			return fmt.Errorf("demo: %s: %w", st.name, err)
		}
	}
	run, err := eval.LatestRun(filepath.Join(dir, "results", "model_comparison"))
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
