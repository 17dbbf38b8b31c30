package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
)

type pipelineOptions struct {
	Auto           bool
	SkipDataPrep   bool
	SkipFinetuning bool
	Models         []string
	Config         string
	Data           string
	GPT4Model      string
	OpenAI         openaiFlags
	Poll           time.Duration
}

func newPipelineCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "pipeline",
		Usage:     "prepare data, fine-tune, compare and analyze, step by step",
		UsageText: "vlmcmp pipeline [--auto] [--skip-data-prep] [--skip-finetuning] [--models <a,b,c>] [--config <file>] [--data <file>]",
		Description: `pipeline runs the whole loop: prepare (fine-tuning files and the split),
finetune (start the GPT-4o-mini job and wait for it), compare and analyze.
Without --auto it asks before each step; a step whose output already exists
is offered as skipped. A failed step stops the pipeline and says what to do
next.

Examples:
  vlmcmp pipeline
  vlmcmp pipeline --auto
  vlmcmp pipeline --skip-data-prep --skip-finetuning --models gpt4,qwen2vl-ft`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "auto", Usage: "run every step without asking"},
			&cli.BoolFlag{Name: "skip-data-prep", Usage: "skip prepare"},
			&cli.BoolFlag{Name: "skip-finetuning", Usage: "skip finetune"},
			&cli.StringSliceFlag{Name: "models", Usage: "comma-separated model `NAMES` to compare (default: every ready model)"},
			&cli.StringFlag{Name: "config", Usage: "models `FILE` (default ./vlmcmp.yaml, else the built-in models)"},
			&cli.StringFlag{Name: "data", Usage: "ground-truth `FILE` (default from the config, else " + config.DefaultData + ")"},
			&cli.StringFlag{Name: "gpt4-model", Usage: "OpenAI `MODEL` of the model named gpt4"},
			&cli.DurationFlag{Name: "poll", Usage: "check the fine-tuning job every `DURATION` (default: finetune's)"},
		}, openaiCLIFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("pipeline takes no arguments, got %q", c.Args().First())
			}
			return runPipeline(c.Context, s, pipelineOptions{
				Auto: c.Bool("auto"), SkipDataPrep: c.Bool("skip-data-prep"), SkipFinetuning: c.Bool("skip-finetuning"),
				Models: splitList(c.StringSlice("models")), Config: c.String("config"), Data: c.String("data"),
				GPT4Model: c.String("gpt4-model"), OpenAI: readOpenAIFlags(c), Poll: c.Duration("poll"),
			})
		},
	}
}

// pipelineStep is one step: the vlmcmp command it runs, what it does, and
// the output that, when present, makes it skippable.
type pipelineStep struct {
	name   string
	what   string
	args   []string
	done   string // why the step's output already exists; "" when it does not
	skip   string // why the user's flags skip it; "" when they do not
	onFail string // what to do when it fails
}

func runPipeline(ctx context.Context, s *streams, opts pipelineOptions) error {
	cfg, err := loadConfig(opts.Config, opts.GPT4Model)
	if err != nil {
		return err
	}
	data := opts.Data
	if data == "" {
		data = cfg.DataPath()
	}
	split := cfg.SplitPath()
	prepOut := filepath.Dir(split)
	common := []string{}
	if opts.Config != "" {
		common = append(common, "--config", opts.Config)
	}
	if opts.GPT4Model != "" {
		common = append(common, "--gpt4-model", opts.GPT4Model)
	}
	var apiFlags []string // for the steps that talk to the API
	if opts.OpenAI.APIKeyFile != "" {
		apiFlags = append(apiFlags, "--api-key-file", opts.OpenAI.APIKeyFile)
	}
	if opts.OpenAI.BaseURL != "" {
		apiFlags = append(apiFlags, "--base-url", opts.OpenAI.BaseURL)
	}
	compareArgs := append(append([]string{"compare", "--data", data}, common...), apiFlags...)
	if len(opts.Models) > 0 {
		compareArgs = append(compareArgs, "--models", strings.Join(opts.Models, ","))
	}

	info := config.DefaultFineTuneInfo
	for _, m := range cfg.Models {
		if m.Model.From != "" {
			info = m.Model.From
		}
	}
	ftFlags := append([]string{"--info", info}, apiFlags...)
	if opts.Poll > 0 {
		ftFlags = append(ftFlags, "--poll", opts.Poll.String())
	}

	steps := []pipelineStep{
		{
			name: "prepare", what: "write the fine-tuning files and the train/validation split from " + data,
			args:   []string{"prepare", "--data", data, "--out", prepOut},
			onFail: "fix the ground truth named above and rerun, or give --data FILE",
		},
		{
			// gpt-4o-mini takes no images in fine-tuning: it learns from the
			// text-only files, as the original scripts' model did.
			name: "finetune", what: "fine-tune GPT-4o-mini on OpenAI (text-only files) and wait for the job",
			args: append([]string{"finetune", "start", "--train", filepath.Join(prepOut, "train_with_images.jsonl"),
				"--val", filepath.Join(prepOut, "val_with_images.jsonl"), "--text-only", "--wait"}, ftFlags...),
			onFail: "check the job with vlmcmp finetune status; rerun with --skip-finetuning to compare the other models",
		},
		{
			name: "compare", what: "run the models on the held-out images", args: compareArgs,
			onFail: "see vlmcmp models for what each model needs; rerun vlmcmp compare --resume to finish the run",
		},
		{
			name: "analyze", what: "rebuild metrics, workbook, plots and reports", args: append([]string{"analyze"}, common...),
			onFail: "rerun vlmcmp analyze once the predictions are there",
		},
	}
	if _, err := os.Stat(split); err == nil {
		steps[0].done = "split " + split + " exists"
	}
	if opts.SkipDataPrep {
		steps[0].skip = "--skip-data-prep"
	}
	if name, err := backend.FineTunedModel(info); err == nil {
		steps[1].done = "fine-tuned model " + name + " recorded in " + info
	} else if _, statErr := os.Stat(info); statErr == nil {
		// A job was started: follow it instead of starting another.
		steps[1].args = append([]string{"finetune", "wait"}, ftFlags...)
		steps[1].what = "wait for the fine-tuning job recorded in " + info
	}
	if opts.SkipFinetuning {
		steps[1].skip = "--skip-finetuning"
	}

	in := bufio.NewReader(s.In)
	for i, st := range steps {
		head := fmt.Sprintf("step %d/%d %s", i+1, len(steps), st.name)
		if st.skip != "" {
			fmt.Fprintf(s.Err, "%s: skipped (%s)\n", head, st.skip)
			continue
		}
		run := st.done == ""
		if !opts.Auto {
			ok, err := ask(s, in, head, st)
			if err != nil {
				return err
			}
			run = ok
		} else if !run {
			fmt.Fprintf(s.Err, "%s: skipped, %s\n", head, st.done)
		}
		if !run {
			continue
		}
		fmt.Fprintf(s.Err, "%s: vlmcmp %s\n", head, strings.Join(st.args, " "))
		if err := runStep(ctx, s, st.args); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("pipeline stopped at %s: %w\nnext: %s", st.name, err, st.onFail)
		}
	}
	fmt.Fprintln(s.Err, "pipeline: done")
	return nil
}

// errQuit is returned when the user quits the pipeline at a question.
var errQuit = errors.New("pipeline stopped at your request")

// ask asks whether to run a step: y runs it, n skips it, q stops. An empty
// answer takes the default: run, or skip when the output exists.
func ask(s *streams, in *bufio.Reader, head string, st pipelineStep) (bool, error) {
	def, choices := true, "[Y/n/q]"
	if st.done != "" {
		def, choices = false, "[y/N/q]"
		fmt.Fprintf(s.Err, "%s: %s (%s; skip it?)\n", head, st.what, st.done)
	} else {
		fmt.Fprintf(s.Err, "%s: %s\n", head, st.what)
	}
	for {
		fmt.Fprintf(s.Err, "run %s? %s ", st.name, choices)
		line, err := in.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			if err == io.EOF {
				return false, errors.New("no answer on standard input: run with --auto to answer yes to every step")
			}
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no", "s", "skip":
			return false, nil
		case "q", "quit":
			return false, errQuit
		}
		fmt.Fprintln(s.Err, "answer y (run it), n (skip it) or q (stop)")
	}
}
