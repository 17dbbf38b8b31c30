package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/finetune"
	"github.com/vlmcmp/vlmcmp/eval/progress"
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/usage"
)

// finetuneOptions are the flags of `vlmcmp finetune` and its subcommands.
type finetuneOptions struct {
	openaiFlags
	// Provider is who runs the jobs: openai or azure; empty means the
	// recorded job's provider (start: openai). APIVersion is Azure's.
	Provider   string
	APIVersion string
	Info       string        // fine_tune_info.json
	Job        string        // job ID; empty: the one in Info
	Poll       time.Duration // status poll interval
	Limit      int           // list
	Wait       bool          // start: follow the job
	// Start are start's options (Info and the upload callbacks are set
	// by runFinetuneStart).
	Start finetune.StartOptions
	Log   *slog.Logger // the client's debug log (requests, retries)
}

// finetuneSub is a finetune subcommand: the flags every subcommand shares
// (the API's, --info, --poll) bound to a fresh options value, then the
// subcommand's own, and the run function called with the job argument.
func finetuneSub(s *streams, cmd *cli.Command, extra func(o *finetuneOptions) []cli.Flag, run func(context.Context, *streams, finetuneOptions) error) *cli.Command {
	o := &finetuneOptions{}
	cmd.Flags = append(openaiCLIFlags(),
		&cli.StringFlag{Name: "info", Destination: &o.Info, Value: openaiclient.DefaultInfoPath, Usage: "the job's record `FILE` (fine_tune_info.json)"},
		&cli.DurationFlag{Name: "poll", Destination: &o.Poll, Value: 10 * time.Second, Usage: "check the job every `DURATION`"},
		&cli.StringFlag{Name: "provider", Destination: &o.Provider, Usage: "who runs the job: openai, or azure (an Azure OpenAI resource: --base-url is its endpoint, the key $" + openaiclient.AzureKeyEnv + " or --api-key-file) (default: the recorded job's, else openai)"},
		&cli.StringFlag{Name: "api-version", Destination: &o.APIVersion, Usage: "Azure OpenAI API `VERSION` (default: $" + openaiclient.AzureVersionEnv + ", else " + openaiclient.DefaultAzureAPIVersion + ")"})
	if extra != nil {
		cmd.Flags = append(cmd.Flags, extra(o)...)
	}
	cmd.Action = func(c *cli.Context) error {
		o.Log, o.openaiFlags, o.Job = s.Log, readOpenAIFlags(c), c.Args().First()
		return run(c.Context, s, *o)
	}
	return cmd
}

func newFinetuneCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "finetune",
		Usage:       "run and follow a fine-tuning job on OpenAI or Azure OpenAI",
		Description: help("finetune"),
		Subcommands: []*cli.Command{
			finetuneSub(s, &cli.Command{Name: "start", Usage: "upload the files and create the job", Description: help("finetune-start"),
				UsageText: "vlmcmp finetune start --train <file> [--val <file>] [--model <name>] [--epochs <n>] [--batch-size <n>] [--lr-multiplier <x>] [--suffix <s>] [--seed <n>] [--wait] [--text-only]"},
				finetuneStartFlags, runFinetuneStart),
			finetuneSub(s, &cli.Command{Name: "status", Usage: "print a job's status, progress and checkpoints", UsageText: "vlmcmp finetune status [<job>]",
				Description: "Examples:\n  vlmcmp finetune status\n  vlmcmp finetune status ftjob-abc123"}, nil, runFinetuneStatus),
			finetuneSub(s, &cli.Command{Name: "wait", Usage: "follow a job until it ends", UsageText: "vlmcmp finetune wait [<job>] [--poll <duration>]",
				Description: help("finetune-wait")}, nil, runFinetuneWait),
			finetuneSub(s, &cli.Command{Name: "list", Usage: "list recent fine-tuning jobs", UsageText: "vlmcmp finetune list [--limit <n>]",
				Description: "Examples:\n  vlmcmp finetune list\n  vlmcmp finetune list --limit 50"},
				func(o *finetuneOptions) []cli.Flag {
					return []cli.Flag{&cli.IntFlag{Name: "limit", Destination: &o.Limit, Value: 10, Usage: "list at most `N` jobs"}}
				}, runFinetuneList),
			finetuneSub(s, &cli.Command{Name: "cancel", Usage: "cancel a job", UsageText: "vlmcmp finetune cancel [<job>]",
				Description: "Examples:\n  vlmcmp finetune cancel ftjob-abc123"}, nil, runFinetuneCancel),
		},
	}
}

func finetuneStartFlags(o *finetuneOptions) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "train", Destination: &o.Start.Train, Value: filepath.Join("data", "openai_finetuning", finetune.TrainImagesFile), Usage: "training `FILE` (JSONL)"},
		&cli.StringFlag{Name: "val", Destination: &o.Start.Val, Value: filepath.Join("data", "openai_finetuning", finetune.ValImagesFile), Usage: "validation `FILE` (JSONL); empty for none"},
		&cli.StringFlag{Name: "model", Destination: &o.Start.Model, Value: openaiclient.DefaultFineTuneModel, Usage: "base `MODEL`"},
		&cli.IntFlag{Name: "epochs", Destination: &o.Start.Epochs, Usage: "training epochs", DefaultText: "the API chooses"},
		&cli.IntFlag{Name: "batch-size", Destination: &o.Start.BatchSize, Usage: "batch size", DefaultText: "the API chooses"},
		&cli.Float64Flag{Name: "lr-multiplier", Destination: &o.Start.LRMultiplier, Usage: "learning-rate multiplier", DefaultText: "the API chooses"},
		&cli.StringFlag{Name: "suffix", Destination: &o.Start.Suffix, Usage: "`SUFFIX` in the fine-tuned model's name"},
		&cli.Int64Flag{Name: "seed", Destination: &o.Start.Seed, Value: 42, Usage: "training seed"},
		&cli.BoolFlag{Name: "wait", Destination: &o.Wait, Usage: "follow the job until it ends"},
		&cli.BoolFlag{Name: "text-only", Destination: &o.Start.TextOnly, Usage: "use the *_text_only.jsonl files beside --train and --val"},
		&cli.BoolFlag{Name: "force", Destination: &o.Start.Force, Usage: "upload image files even when the model is not known to accept them"},
	}
}

// client is the fine-tuning client of the provider: the flag's, else the
// recorded job's (when the command is about it), else OpenAI.
func (o finetuneOptions) client() (*openaiclient.FineTuning, error) {
	provider, endpoint, version := o.Provider, o.BaseURL, o.APIVersion
	if provider == "" {
		provider = "openai"
		if in, err := openaiclient.ReadInfo(o.Info); err == nil && in.Provider == "azure" && (o.Job == "" || o.Job == in.JobID) {
			provider = "azure"
			if endpoint == "" {
				endpoint = in.Endpoint
			}
			if version == "" {
				version = in.APIVersion
			}
		}
	}
	var ft *openaiclient.FineTuning
	var err error
	switch provider {
	case "openai":
		if o.APIVersion != "" {
			return nil, usage.Errorf("--api-version", "--api-version is Azure's: give --provider azure")
		}
		ft, err = openaiclient.NewFineTuning(o.config(o.Log))
	case "azure":
		ft, err = openaiclient.NewAzureFineTuning(openaiclient.AzureConfig{Endpoint: endpoint, APIVersion: version, APIKeyFile: o.APIKeyFile,
			Options: openaiclient.Config{Logger: o.Log}})
	default:
		return nil, usage.Errorf("--provider", "--provider %q is not openai or azure", provider)
	}
	if err == nil && o.Poll > 0 {
		ft.Poll = o.Poll
	}
	return ft, err
}

func runFinetuneStart(ctx context.Context, s *streams, opts finetuneOptions) error {
	if opts.Start.Train == "" {
		return usage.Errorf("--train", "--train is required")
	}
	if opts.Provider == "" {
		opts.Provider = "openai" // a new job: not the recorded one's provider
	}
	ft, err := opts.client()
	if err != nil {
		return err
	}
	so := opts.Start
	so.Info = opts.Info
	so.Upload = func(path string) openaiclient.Progress {
		fmt.Fprintf(s.Err, "uploading %s\n", path)
		return progress.NewBytes(s.Err, "uploading "+filepath.Base(path), 4, 1<<20).Update
	}
	so.Uploaded = func(path, id string, n int) {
		fmt.Fprintf(s.Err, "uploaded %s as %s (%d bytes); waiting for the API to process it\n", path, id, n)
	}
	job, info, err := finetune.Start(ctx, ft, so)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "job %s created (%s, base %s); recorded in %s\n", job.ID, job.Status, job.Model, opts.Info)
	if !opts.Wait {
		fmt.Fprintln(s.Err, "follow it with: vlmcmp finetune wait")
		return nil
	}
	return followJob(ctx, s, ft, job.ID, info, opts.Info, opts.APIKeyFile)
}

func runFinetuneWait(ctx context.Context, s *streams, opts finetuneOptions) error {
	id, info, err := finetune.Resolve(opts.Info, opts.Job)
	if err != nil {
		return err
	}
	ft, err := opts.client()
	if err != nil {
		return err
	}
	path := opts.Info
	if info == nil {
		// Another job than the recorded one: follow it without touching the
		// record of the first.
		info, path = &openaiclient.Info{JobID: id}, ""
	}
	return followJob(ctx, s, ft, id, info, path, opts.APIKeyFile)
}

// followJob follows a job with finetune.Follow, printing its events and
// progress, and at its success what makes the model usable (on Azure, its
// deployment and the models entry; keyFile is named in the entry).
func followJob(ctx context.Context, s *streams, ft *openaiclient.FineTuning, id string, info *openaiclient.Info, path, keyFile string) error {
	var bar *progressbar.ProgressBar
	obs := finetune.Observer{
		Warn:   func(err error) { fmt.Fprintf(s.Err, "warning: %v\n", err) },
		Status: func(j *openaiclient.Job) { fmt.Fprintf(s.Err, "job %s: %s\n", j.ID, j.Status) },
		Event: func(e openaiclient.Event) {
			m, ok, _ := e.Metrics()
			switch {
			case ok && progress.IsTerminal(s.Err) && m.TotalSteps > 0:
				if bar == nil {
					bar = progressbar.NewOptions(m.TotalSteps, progressbar.OptionSetWriter(s.Err), progressbar.OptionShowCount())
				}
				bar.Describe(m.Losses())
				bar.Set(m.Step)
			case ok:
				fmt.Fprintf(s.Err, "step %d/%d %s\n", m.Step, m.TotalSteps, m.Losses())
			default:
				fmt.Fprintf(s.Err, "%s %s: %s\n", time.Unix(e.CreatedAt, 0).UTC().Format("15:04:05"), e.Level, e.Message)
			}
		},
	}
	job, err := finetune.Follow(ctx, ft, id, info, path, obs)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(s.Err)
	}
	if err != nil && ctx.Err() != nil {
		fmt.Fprintf(s.Err, "stopped following %s; the job goes on: resume with vlmcmp finetune wait\n", id)
		return err
	}
	if info.SkippedExamples > 0 {
		fmt.Fprintf(s.Err, "warning: the job's moderation skipped %d training examples (images with people or faces are not trained on)\n", info.SkippedExamples)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "job %s succeeded: fine-tuned model %s\n", job.ID, job.FineTunedModel)
	if ft.Provider() == "azure" {
		if info.Endpoint == "" {
			info.Endpoint, info.APIVersion = ft.BaseURL(), ft.APIVersion()
		}
		d := finetune.DeploymentFor(info, keyFile)
		fmt.Fprintf(s.Out, "Azure serves it once it is deployed (a new deployment may take a few minutes to answer); create the deployment with:\n\n%s\n\n"+
			"then add the model to the models of vlmcmp.yaml:\n\n%s\n", d.Command(), d.YAML())
		return nil
	}
	if path != "" {
		fmt.Fprintf(s.Out, "recorded in %s; vlmcmp compare uses it as gpt4o-mini-ft\n", path)
	}
	return nil
}

// onJob applies call to the job the command is about (the argument, else
// the recorded one) and records its new state when it is the recorded job.
func (o finetuneOptions) onJob(call func(ft *openaiclient.FineTuning, id string) (*openaiclient.Job, error)) (*openaiclient.Job, *openaiclient.Info, *openaiclient.FineTuning, error) {
	id, info, err := finetune.Resolve(o.Info, o.Job)
	if err != nil {
		return nil, nil, nil, err
	}
	ft, err := o.client()
	if err != nil {
		return nil, nil, nil, err
	}
	job, err := call(ft, id)
	if err == nil {
		err = finetune.Record(o.Info, info, job)
	}
	return job, info, ft, err
}

func runFinetuneStatus(ctx context.Context, s *streams, opts finetuneOptions) error {
	job, info, ft, err := opts.onJob(func(ft *openaiclient.FineTuning, id string) (*openaiclient.Job, error) {
		return ft.Job(ctx, id)
	})
	if err != nil {
		return err
	}
	return finetune.WriteStatus(ctx, s.Out, ft, job, info)
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
	}
	return finetune.WriteJobs(s.Out, jobs)
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
