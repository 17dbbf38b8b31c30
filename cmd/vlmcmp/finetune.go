package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/finetune"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// finetuneOptions are the flags of `vlmcmp finetune` and its subcommands.
type finetuneOptions struct {
	openaiFlags
	Info string        // fine_tune_info.json
	Job  string        // job ID; empty: the one in Info
	Poll time.Duration // status poll interval

	// start
	Train, Val   string
	Model        string
	Epochs       int
	BatchSize    int
	LRMultiplier float64
	Suffix       string
	Seed         int64
	Wait         bool
	TextOnly     bool // use the text-only files next to Train and Val
	Force        bool // start even when the model does not take images

	Limit int // list

	Log *slog.Logger // the client's debug log (requests, retries)
}

func finetuneCommonFlags() []cli.Flag {
	return append(openaiCLIFlags(),
		&cli.StringFlag{Name: "info", Value: openaiclient.DefaultInfoPath, Usage: "the job's record `FILE` (fine_tune_info.json)"},
		&cli.DurationFlag{Name: "poll", Value: 10 * time.Second, Usage: "check the job every `DURATION`"},
	)
}

func readFinetuneCommon(c *cli.Context, s *streams) finetuneOptions {
	return finetuneOptions{Log: s.Log, openaiFlags: readOpenAIFlags(c), Info: c.String("info"), Poll: c.Duration("poll"), Job: c.Args().First()}
}

func newFinetuneCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "finetune",
		Usage: "run and follow an OpenAI fine-tuning job",
		Description: `finetune uploads the files vlmcmp prepare wrote, starts a fine-tuning job
and follows it. The job is recorded in models/gpt4o_mini_finetuned/fine_tune_info.json
(--info) as soon as it exists and updated as it moves; when it succeeds the
fine-tuned model's name is written there and vlmcmp compare uses it.
status, wait and cancel take a job ID, or use the recorded one.

Examples:
  vlmcmp finetune start --train data/openai_finetuning/train_text_only.jsonl --val data/openai_finetuning/val_text_only.jsonl --wait
  vlmcmp finetune start --model gpt-4o-2024-08-06 --train data/openai_finetuning/train_with_images.jsonl --val data/openai_finetuning/val_with_images.jsonl --epochs 3
  vlmcmp finetune wait
  vlmcmp finetune status ftjob-abc123
  vlmcmp finetune list`,
		Subcommands: []*cli.Command{
			newFinetuneStartCommand(s), newFinetuneStatusCommand(s), newFinetuneWaitCommand(s),
			newFinetuneListCommand(s), newFinetuneCancelCommand(s),
		},
	}
}

func newFinetuneStartCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "upload the files and create the job",
		UsageText: "vlmcmp finetune start --train <file> [--val <file>] [--model <name>] [--epochs <n>] [--batch-size <n>] [--lr-multiplier <x>] [--suffix <s>] [--seed <n>] [--wait] [--text-only]",
		Description: `start uploads the training (and validation) file with purpose fine-tune,
waits until the API has processed them, creates the job with the hyperparameters
under method → supervised, and records it at once in --info.

Not every base model accepts images in fine-tuning: gpt-4o-2024-08-06 is
documented to; gpt-4o-mini does not. With image files and another model,
start stops before uploading and names the text-only files (--text-only switches to them; --force uploads anyway). The API drops
training images that show people or faces; wait reports how many.

Examples:
  vlmcmp finetune start --train data/openai_finetuning/train_with_images.jsonl --val data/openai_finetuning/val_with_images.jsonl --text-only --wait
  vlmcmp finetune start --model gpt-4o-2024-08-06 --train data/openai_finetuning/train_with_images.jsonl --epochs 3 --suffix safety`,
		Flags: append(finetuneCommonFlags(),
			&cli.StringFlag{Name: "train", Value: filepath.Join("data", "openai_finetuning", finetune.TrainImagesFile), Usage: "training `FILE` (JSONL)"},
			&cli.StringFlag{Name: "val", Value: filepath.Join("data", "openai_finetuning", finetune.ValImagesFile), Usage: "validation `FILE` (JSONL); empty for none"},
			&cli.StringFlag{Name: "model", Value: openaiclient.DefaultFineTuneModel, Usage: "base `MODEL`"},
			&cli.IntFlag{Name: "epochs", Usage: "training epochs (default: the API chooses)"},
			&cli.IntFlag{Name: "batch-size", Usage: "batch size (default: the API chooses)"},
			&cli.Float64Flag{Name: "lr-multiplier", Usage: "learning-rate multiplier (default: the API chooses)"},
			&cli.StringFlag{Name: "suffix", Usage: "`SUFFIX` in the fine-tuned model's name"},
			&cli.Int64Flag{Name: "seed", Value: 42, Usage: "training seed"},
			&cli.BoolFlag{Name: "wait", Usage: "follow the job until it ends"},
			&cli.BoolFlag{Name: "text-only", Usage: "use the *_text_only.jsonl files beside --train and --val"},
			&cli.BoolFlag{Name: "force", Usage: "upload image files even when the model is not known to accept them"},
		),
		Action: func(c *cli.Context) error {
			opts := readFinetuneCommon(c, s)
			opts.Train, opts.Val, opts.Model = c.String("train"), c.String("val"), c.String("model")
			opts.Epochs, opts.BatchSize, opts.LRMultiplier = c.Int("epochs"), c.Int("batch-size"), c.Float64("lr-multiplier")
			opts.Suffix, opts.Seed, opts.Wait = c.String("suffix"), c.Int64("seed"), c.Bool("wait")
			opts.TextOnly, opts.Force = c.Bool("text-only"), c.Bool("force")
			return runFinetuneStart(c.Context, s, opts)
		},
	}
}

func newFinetuneStatusCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name: "status", Usage: "print a job's status, progress and checkpoints", UsageText: "vlmcmp finetune status [<job>]",
		Description: "Examples:\n  vlmcmp finetune status\n  vlmcmp finetune status ftjob-abc123",
		Flags:       finetuneCommonFlags(),
		Action:      func(c *cli.Context) error { return runFinetuneStatus(c.Context, s, readFinetuneCommon(c, s)) },
	}
}

func newFinetuneWaitCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name: "wait", Usage: "follow a job until it ends", UsageText: "vlmcmp finetune wait [<job>] [--poll <duration>]",
		Description: "wait prints status changes and training events (step, train and validation loss)\n" +
			"and updates the job's record. Stop it at any time (Ctrl-C) and run it again:\n" +
			"it resumes after the last event it recorded. Dropped connections are retried.\n\n" +
			"Examples:\n  vlmcmp finetune wait\n  vlmcmp finetune wait ftjob-abc123 --poll 30s",
		Flags:  finetuneCommonFlags(),
		Action: func(c *cli.Context) error { return runFinetuneWait(c.Context, s, readFinetuneCommon(c, s)) },
	}
}

func newFinetuneListCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name: "list", Usage: "list recent fine-tuning jobs", UsageText: "vlmcmp finetune list [--limit <n>]",
		Description: "Examples:\n  vlmcmp finetune list\n  vlmcmp finetune list --limit 50",
		Flags:       append(finetuneCommonFlags(), &cli.IntFlag{Name: "limit", Value: 10, Usage: "list at most `N` jobs"}),
		Action: func(c *cli.Context) error {
			opts := readFinetuneCommon(c, s)
			opts.Limit = c.Int("limit")
			return runFinetuneList(c.Context, s, opts)
		},
	}
}

func newFinetuneCancelCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name: "cancel", Usage: "cancel a job", UsageText: "vlmcmp finetune cancel [<job>]",
		Description: "Examples:\n  vlmcmp finetune cancel ftjob-abc123",
		Flags:       finetuneCommonFlags(),
		Action:      func(c *cli.Context) error { return runFinetuneCancel(c.Context, s, readFinetuneCommon(c, s)) },
	}
}

func (o finetuneOptions) client() (*openaiclient.FineTuning, error) {
	ft, err := openaiclient.NewFineTuning(o.config(o.Log))
	if err != nil {
		return nil, err
	}
	if o.Poll > 0 {
		ft.Poll = o.Poll
	}
	return ft, nil
}

// jobID is the job the command is about: the argument, or the recorded one.
func (o finetuneOptions) jobID() (string, *openaiclient.Info, error) {
	info, err := openaiclient.ReadInfo(o.Info)
	if o.Job != "" {
		if err != nil || info.JobID != o.Job {
			return o.Job, nil, nil // another job than the recorded one
		}
		return o.Job, info, nil
	}
	if err != nil {
		return "", nil, err
	}
	return info.JobID, info, nil
}

// textOnlyPath is the text-only file prepare wrote beside an image file.
func textOnlyPath(p string) string {
	return strings.Replace(p, "_with_images", "_text_only", 1)
}

func runFinetuneStart(ctx context.Context, s *streams, opts finetuneOptions) error {
	if opts.Train == "" {
		return usagef("--train is required")
	}
	if opts.TextOnly {
		opts.Train = textOnlyPath(opts.Train)
		if opts.Val != "" {
			opts.Val = textOnlyPath(opts.Val)
		}
	}
	files := []string{opts.Train}
	if opts.Val != "" {
		files = append(files, opts.Val)
	}
	hasImages := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s: file not found (run vlmcmp prepare)", f)
			}
			return err
		}
		hasImages = hasImages || strings.Contains(string(b), `"image_url"`)
	}
	if hasImages && !openaiclient.AcceptsImages(opts.Model) && !opts.Force {
		return fmt.Errorf("%s is not known to accept images in fine-tuning (gpt-4o-2024-08-06 is documented to), and %s holds images: "+
			"use the text-only files (--text-only, i.e. %s), choose --model gpt-4o-2024-08-06, or --force to upload anyway",
			opts.Model, opts.Train, textOnlyPath(opts.Train))
	}
	ft, err := opts.client()
	if err != nil {
		return err
	}
	ids := make([]string, len(files))
	for i, f := range files {
		fmt.Fprintf(s.Err, "uploading %s\n", f)
		file, err := ft.Upload(ctx, f, uploadProgress(s, f))
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Err, "uploaded %s as %s (%d bytes); waiting for the API to process it\n", f, file.ID, file.Bytes)
		if _, err := ft.WaitProcessed(ctx, file.ID); err != nil {
			return err
		}
		ids[i] = file.ID
	}
	req := openaiclient.JobRequest{Model: opts.Model, TrainingFile: ids[0], Suffix: opts.Suffix, Seed: &opts.Seed,
		Method: &openaiclient.Method{Type: "supervised", Supervised: &openaiclient.Supervised{}}}
	if len(ids) > 1 {
		req.ValidationFile = ids[1]
	}
	hp := &req.Method.Supervised.Hyperparameters
	if opts.Epochs > 0 {
		hp.Epochs = &opts.Epochs
	}
	if opts.BatchSize > 0 {
		hp.BatchSize = &opts.BatchSize
	}
	if opts.LRMultiplier > 0 {
		hp.LRMultiplier = &opts.LRMultiplier
	}
	job, err := ft.CreateJob(ctx, req)
	if err != nil {
		return err
	}
	info := &openaiclient.Info{TrainPath: opts.Train, ValPath: opts.Val, Suffix: opts.Suffix, BaseURL: ft.BaseURL()}
	info.Update(job)
	if err := openaiclient.WriteInfo(opts.Info, info); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "job %s created (%s, base %s); recorded in %s\n", job.ID, job.Status, job.Model, opts.Info)
	if !opts.Wait {
		fmt.Fprintln(s.Err, "follow it with: vlmcmp finetune wait")
		return nil
	}
	opts.Job = job.ID
	return followJob(ctx, s, ft, opts, info)
}

func runFinetuneWait(ctx context.Context, s *streams, opts finetuneOptions) error {
	id, info, err := opts.jobID()
	if err != nil {
		return err
	}
	ft, err := opts.client()
	if err != nil {
		return err
	}
	if info == nil {
		// Another job than the recorded one: follow it without touching the
		// record of the first.
		info = &openaiclient.Info{JobID: id}
		opts.Info = ""
	}
	opts.Job = id
	return followJob(ctx, s, ft, opts, info)
}

// followJob follows a job to its end, printing events and progress and
// keeping its record (when opts.Info is set) up to date.
func followJob(ctx context.Context, s *streams, ft *openaiclient.FineTuning, opts finetuneOptions, info *openaiclient.Info) error {
	tty := isTerminal(s.Err)
	var bar *progressbar.ProgressBar
	lastStatus := ""
	save := func() {
		if opts.Info == "" {
			return
		}
		if err := openaiclient.WriteInfo(opts.Info, info); err != nil {
			fmt.Fprintf(s.Err, "warning: %v\n", err)
		}
	}
	onEvent := func(e openaiclient.Event) {
		if err := info.Record(e); err != nil {
			fmt.Fprintf(s.Err, "warning: %v\n", err)
		}
		if m, ok, _ := e.Metrics(); ok {
			if tty && m.TotalSteps > 0 {
				if bar == nil {
					bar = progressbar.NewOptions(m.TotalSteps, progressbar.OptionSetWriter(s.Err), progressbar.OptionShowCount(),
						progressbar.OptionSetDescription("training"))
				}
				bar.Describe(lossLine(m))
				bar.Set(m.Step)
			} else {
				fmt.Fprintf(s.Err, "step %d/%d %s\n", m.Step, m.TotalSteps, lossLine(m))
			}
		} else {
			fmt.Fprintf(s.Err, "%s %s: %s\n", time.Unix(e.CreatedAt, 0).UTC().Format("15:04:05"), e.Level, e.Message)
		}
		save()
	}
	onJob := func(j *openaiclient.Job) {
		info.Update(j)
		if j.Status != lastStatus {
			fmt.Fprintf(s.Err, "job %s: %s\n", j.ID, j.Status)
			lastStatus = j.Status
		}
		save()
	}
	job, err := ft.Follow(ctx, opts.Job, info.LastEventID, onEvent, onJob)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(s.Err)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(s.Err, "stopped following %s; the job goes on: resume with vlmcmp finetune wait\n", opts.Job)
		}
		return err
	}
	if cps, err := ft.Checkpoints(ctx, job.ID); err == nil {
		info.Checkpoints = info.Checkpoints[:0]
		for _, c := range cps {
			info.Checkpoints = append(info.Checkpoints, c.FineTunedModelCheckpoint)
		}
		save()
	}
	if info.SkippedExamples > 0 {
		fmt.Fprintf(s.Err, "warning: the job's moderation skipped %d training examples (images with people or faces are not trained on)\n", info.SkippedExamples)
	}
	switch job.Status {
	case "succeeded":
		fmt.Fprintf(s.Out, "job %s succeeded: fine-tuned model %s\n", job.ID, job.FineTunedModel)
		if opts.Info != "" {
			fmt.Fprintf(s.Out, "recorded in %s; vlmcmp compare uses it as gpt4o-mini-ft\n", opts.Info)
		}
		return nil
	case "cancelled":
		return fmt.Errorf("job %s was cancelled", job.ID)
	default:
		msg := info.Error
		if msg == "" {
			msg = "no reason given"
		}
		return fmt.Errorf("job %s %s: %s", job.ID, job.Status, strings.TrimRight(msg, "."))
	}
}

// uploadProgress shows an upload's progress: a bar on a terminal, else a
// line at each quarter of a file of 1 MiB or more.
func uploadProgress(s *streams, path string) openaiclient.Progress {
	if isTerminal(s.Err) {
		var bar *progressbar.ProgressBar
		return func(sent, total int64) {
			if bar == nil || sent == 0 {
				bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(s.Err), progressbar.OptionShowBytes(true),
					progressbar.OptionSetDescription("uploading "+filepath.Base(path)))
			}
			bar.Set64(sent)
		}
	}
	next := int64(0)
	return func(sent, total int64) {
		if sent == 0 {
			next = 0
		}
		if total >= 1<<20 && sent*4 >= next*total && next <= 4 {
			fmt.Fprintf(s.Err, "uploading %s: %d%% of %d bytes\n", filepath.Base(path), sent*100/total, total)
			next = sent*4/total + 1
		}
	}
}

func lossLine(m openaiclient.Metrics) string {
	var b strings.Builder
	if m.TrainLoss != nil {
		fmt.Fprintf(&b, "train loss %.4f", *m.TrainLoss)
	}
	if m.ValidLoss != nil {
		fmt.Fprintf(&b, ", valid loss %.4f", *m.ValidLoss)
	}
	return b.String()
}

// onJob resolves the job (the argument, else the recorded one), applies call
// to it, and records the job's new state in fine_tune_info.json when it is the
// recorded job. It returns the job, the record (nil for another job) and the
// client.
func (o finetuneOptions) onJob(call func(ft *openaiclient.FineTuning, id string) (*openaiclient.Job, error)) (*openaiclient.Job, *openaiclient.Info, *openaiclient.FineTuning, error) {
	id, info, err := o.jobID()
	if err != nil {
		return nil, nil, nil, err
	}
	ft, err := o.client()
	if err != nil {
		return nil, nil, nil, err
	}
	job, err := call(ft, id)
	if err != nil {
		return nil, nil, nil, err
	}
	if info != nil {
		info.Update(job)
		if err := openaiclient.WriteInfo(o.Info, info); err != nil {
			return nil, nil, nil, err
		}
	}
	return job, info, ft, nil
}

func runFinetuneStatus(ctx context.Context, s *streams, opts finetuneOptions) error {
	job, info, ft, err := opts.onJob(func(ft *openaiclient.FineTuning, id string) (*openaiclient.Job, error) {
		return ft.Job(ctx, id)
	})
	if err != nil {
		return err
	}
	w := s.Out
	fmt.Fprintf(w, "job            %s\nstatus         %s\nbase model     %s\n", job.ID, job.Status, job.Model)
	if job.FineTunedModel != "" {
		fmt.Fprintf(w, "fine-tuned     %s\n", job.FineTunedModel)
	}
	fmt.Fprintf(w, "training file  %s\n", job.TrainingFile)
	if job.ValidationFile != "" {
		fmt.Fprintf(w, "validation     %s\n", job.ValidationFile)
	}
	if job.CreatedAt > 0 {
		fmt.Fprintf(w, "created        %s\n", time.Unix(job.CreatedAt, 0).UTC().Format(time.RFC3339))
	}
	if job.FinishedAt > 0 {
		fmt.Fprintf(w, "finished       %s\n", time.Unix(job.FinishedAt, 0).UTC().Format(time.RFC3339))
	}
	if info != nil && info.Step > 0 {
		fmt.Fprintf(w, "progress       step %d/%d\n", info.Step, info.TotalSteps)
	}
	if job.Error != nil && job.Error.Message != "" {
		fmt.Fprintf(w, "error          %s\n", job.Error.Message)
	}
	if cps, err := ft.Checkpoints(ctx, job.ID); err == nil {
		for _, c := range cps {
			fmt.Fprintf(w, "checkpoint     %s (step %d)\n", c.FineTunedModelCheckpoint, c.StepNumber)
		}
	}
	return nil
}

func runFinetuneList(ctx context.Context, s *streams, opts finetuneOptions) error {
	ft, err := opts.client()
	if err != nil {
		return err
	}
	jobs, err := ft.ListJobs(ctx, max(1, opts.Limit))
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		fmt.Fprintln(s.Err, "no fine-tuning jobs")
		return nil
	}
	for _, j := range jobs {
		created := ""
		if j.CreatedAt > 0 {
			created = time.Unix(j.CreatedAt, 0).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(s.Out, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, j.Model, orDash(j.FineTunedModel), created)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runFinetuneCancel(ctx context.Context, s *streams, opts finetuneOptions) error {
	job, _, _, err := opts.onJob(func(ft *openaiclient.FineTuning, id string) (*openaiclient.Job, error) {
		return ft.Cancel(ctx, id)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "job %s: %s\n", job.ID, job.Status)
	return nil
}
