package finetune

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// PipelineOptions configure [Plan]: the whole loop of prepare, fine-tune,
// compare and analyze.
type PipelineOptions struct {
	// Config is the loaded config; ConfigPath and GPT4Model, when set, are
	// passed on to the steps that read it.
	Config     *config.Config
	ConfigPath string
	GPT4Model  string
	// Data is the ground truth (default: the config's).
	Data string
	// Models are the models compare runs (default: every ready one).
	Models []string
	// APIKeyFile and BaseURL are passed on to the steps that call the API.
	APIKeyFile, BaseURL string
	// Provider runs the fine-tuning job: "" or "openai", or "azure" (an
	// Azure OpenAI resource: BaseURL is its endpoint, APIVersion its
	// data-plane version, APIKeyFile its key). With azure they go to the
	// finetune step only: compare's --base-url and --api-key-file are the
	// OpenAI models', and Azure models take theirs from their entries.
	Provider, APIVersion string
	// Poll is how often the fine-tuning job is checked (0: finetune's).
	Poll time.Duration
	// TextOnly fine-tunes on the text-only files, and FineTuneModel names
	// the base model. By default the pipeline fine-tunes on the image
	// files with a model the config's model table says takes images
	// ([ImageModel]); a FineTuneModel that takes none, or TextOnly, uses
	// the text-only files (default model openaiclient.DefaultFineTuneModel)
	// and the step says what such a model can learn from them.
	TextOnly      bool
	FineTuneModel string
	// SkipPrepare and SkipFinetune leave those steps out (the user has
	// their output from elsewhere), marked skipped by --skip-data-prep and
	// --skip-finetuning.
	SkipPrepare, SkipFinetune bool
}

// Step is one step of the pipeline: the vlmcmp command line it runs, what
// it does, and whether it can be skipped.
type Step struct {
	Name string
	What string
	Args []string // the command line after "vlmcmp"
	// Done says why the step's output already exists ("" when it does
	// not), and Skip why the options skip it ("" when they do not).
	Done, Skip string
	// OnFail says what to do when the step fails.
	OnFail string
	// Note, when set, is called just before the step runs and returns a
	// warning to show ("" for none): it may read what earlier steps wrote.
	Note func() string
}

// ImageModel is the base model the pipeline fine-tunes on images with:
// gpt-4o-2024-08-06 when the table says it takes images (OpenAI documents
// it), else the first by name the table marks so; "" when none is.
func ImageModel(models openaiclient.Models) string {
	const documented = "gpt-4o-2024-08-06"
	if models.AcceptsImages(documented) {
		return documented
	}
	var names []string
	for name, mi := range models {
		if mi.FineTuneImages && !strings.HasPrefix(name, "ft:") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// Plan returns the pipeline's four steps (prepare, finetune, compare,
// analyze), each marked done when its output exists: the split for
// prepare, a fine-tuned model recorded in the config's fine_tune_info.json
// for finetune (a job recorded but not finished is waited for, not started
// again).
func Plan(opts PipelineOptions) []Step {
	cfg := opts.Config
	data := opts.Data
	if data == "" {
		data = cfg.DataPath()
	}
	split := cfg.SplitPath()
	prepOut := filepath.Dir(split)
	var common, api []string
	common = appendFlag(appendFlag(common, "--config", opts.ConfigPath), "--gpt4-model", opts.GPT4Model)
	api = appendFlag(appendFlag(api, "--api-key-file", opts.APIKeyFile), "--base-url", opts.BaseURL)
	compare := append([]string{"compare", "--data", data}, common...)
	if opts.Provider == "azure" {
		api = appendFlag(append([]string{"--provider", "azure"}, api...), "--api-version", opts.APIVersion)
	} else {
		compare = append(compare, api...)
	}
	compare = appendFlag(compare, "--models", strings.Join(opts.Models, ","))
	info := config.DefaultFineTuneInfo
	for _, m := range cfg.Models {
		if o, ok := m.Spec.(*backend.OpenAISpec); ok && o.Model.From != "" {
			info = o.Model.From
		}
	}
	ftFlags := append([]string{"--info", info}, api...)
	if opts.Poll > 0 {
		ftFlags = append(ftFlags, "--poll", opts.Poll.String())
	}
	ft, model := finetuneStep(opts, prepOut, ftFlags)
	steps := []Step{
		{Name: "prepare", What: "write the fine-tuning files and the train/validation split from " + data,
			// Checks and cost estimate for the model the job will tune.
			Args:   []string{"prepare", "--data", data, "--out", prepOut, "--model", model},
			OnFail: "fix the ground truth named above and rerun, or give --data FILE"},
		ft,
		{Name: "compare", What: "run the models on the held-out images", Args: compare,
			OnFail: "see vlmcmp models for what each model needs; rerun vlmcmp compare --resume to finish the run"},
		{Name: "analyze", What: "rebuild metrics, workbook, plots and reports", Args: append([]string{"analyze"}, common...),
			OnFail: "rerun vlmcmp analyze once the predictions are there"},
	}
	if _, err := os.Stat(split); err == nil {
		steps[0].Done = "split " + split + " exists"
	}
	if rec, err := openaiclient.ReadInfo(info); err == nil && rec.FineTunedModel != "" {
		steps[1].Done = "fine-tuned model " + rec.FineTunedModel + " recorded in " + info
	} else if _, statErr := os.Stat(info); statErr == nil {
		// A job was started: follow it instead of starting another.
		steps[1].Args = append([]string{"finetune", "wait"}, ftFlags...)
		steps[1].What, steps[1].Note = "wait for the fine-tuning job recorded in "+info, nil
	}
	if opts.Provider == "azure" {
		steps[2].Note = func() string { return azureCompareNote(opts.Config) }
	}
	if opts.SkipPrepare {
		steps[0].Skip = "--skip-data-prep"
	}
	if opts.SkipFinetune {
		steps[1].Skip = "--skip-finetuning"
	}
	return steps
}

// finetuneStep is the step that starts the fine-tuning job: on the image
// files with a model that takes images, unless the options ask for text.
// It returns the step and the base model.
func finetuneStep(opts PipelineOptions, prepOut string, ftFlags []string) (Step, string) {
	models := openaiclient.MergeModels(openaiclient.DefaultModels(), opts.Config.OpenAIModels)
	model := opts.FineTuneModel
	if model == "" && !opts.TextOnly {
		model = ImageModel(models)
	}
	if model == "" {
		model = openaiclient.DefaultFineTuneModel
	}
	textOnly := opts.TextOnly || !models.AcceptsImages(model)
	args := []string{"finetune", "start", "--model", model,
		"--train", filepath.Join(prepOut, TrainImagesFile), "--val", filepath.Join(prepOut, ValImagesFile)}
	where := "OpenAI"
	if opts.Provider == "azure" {
		where = "Azure OpenAI"
	}
	st := Step{Name: "finetune", What: "fine-tune " + model + " on " + where + " (image files) and wait for the job",
		OnFail: "check the job with vlmcmp finetune status; rerun with --skip-finetuning to compare the other models"}
	if textOnly {
		args = append(args, "--text-only")
		st.What = "fine-tune " + model + " on " + where + " (text-only files: it takes no images in fine-tuning) and wait for the job"
		st.Note = func() string { return TextOnlyNote(prepOut, model) }
	}
	st.Args = append(append(args, "--wait"), ftFlags...)
	return st, model
}

// azureCompareNote reminds, before compare, that an Azure fine-tuned model
// answers only once deployed and added to the config as an azure entry
// (finetune printed both); "" when the config has an azure model.
func azureCompareNote(cfg *config.Config) string {
	for _, m := range cfg.Models {
		if m.Backend == "azure" {
			return ""
		}
	}
	return "the config has no azure model: the fine-tuned model answers only once deployed (the az command finetune printed) and added to vlmcmp.yaml's models (the entry it printed); compare runs the other models now"
}

// TextOnlyNote says what a model fine-tuned on the text-only files that
// [PrepareData] wrote into dir can learn, from its summary.json: only the
// score distribution when they carry no text about their images.
func TextOnlyNote(dir, model string) string {
	rep, err := ReadReport(dir)
	if err == nil && rep.Summary != nil && !rep.TextOnlyLearnsScoresOnly {
		return fmt.Sprintf("%s fine-tunes on the text-only files: it learns from what they say of each image (%s), not from the images",
			model, strings.Join(rep.TextFields, ", "))
	}
	return fmt.Sprintf("%s fine-tunes on the text-only files, which say nothing about their images: every example has the same prompt, "+
		"so the model can only learn how often each score occurs, which the mean baseline does for free; "+
		"fine-tune on the image files with a model that takes images (%s) to learn from the pictures", model, TrainImagesFile)
}

func appendFlag(args []string, name, value string) []string {
	if value == "" {
		return args
	}
	return append(args, name, value)
}

// ErrQuit is returned by [RunPipeline] when the user quits at a question.
var ErrQuit = errors.New("pipeline stopped at your request")

// RunOptions configure [RunPipeline].
type RunOptions struct {
	// Auto runs every step not done without asking; otherwise each step
	// is asked about on In (y runs it, n skips it, q stops, an empty
	// answer takes the default: run, or skip when done).
	Auto bool
	In   io.Reader
	// Status receives the questions and what the pipeline does.
	Status io.Writer
	// Exec runs one step's command line.
	Exec func(ctx context.Context, args []string) error
}

// RunPipeline runs the steps in order with opts.Exec. A failed step stops
// the pipeline with an error that says what to do next; ctx's end stops it
// with ctx's error.
func RunPipeline(ctx context.Context, steps []Step, opts RunOptions) error {
	in := bufio.NewReader(opts.In)
	w := opts.Status
	for i, st := range steps {
		head := fmt.Sprintf("step %d/%d %s", i+1, len(steps), st.Name)
		if st.Skip != "" {
			fmt.Fprintf(w, "%s: skipped (%s)\n", head, st.Skip)
			continue
		}
		run := st.Done == ""
		if !opts.Auto {
			ok, err := ask(w, in, head, st)
			if err != nil {
				return err
			}
			run = ok
		} else if !run {
			fmt.Fprintf(w, "%s: skipped, %s\n", head, st.Done)
		}
		if !run {
			continue
		}
		if st.Note != nil {
			if note := st.Note(); note != "" {
				fmt.Fprintf(w, "%s: warning: %s\n", head, note)
			}
		}
		fmt.Fprintf(w, "%s: vlmcmp %s\n", head, strings.Join(st.Args, " "))
		if err := opts.Exec(ctx, st.Args); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("pipeline stopped at %s: %w\nnext: %s", st.Name, err, st.OnFail)
		}
	}
	fmt.Fprintln(w, "pipeline: done")
	return nil
}

// ask asks whether to run a step.
func ask(w io.Writer, in *bufio.Reader, head string, st Step) (bool, error) {
	def, choices := true, "[Y/n/q]"
	if st.Done != "" {
		def, choices = false, "[y/N/q]"
		fmt.Fprintf(w, "%s: %s (%s; skip it?)\n", head, st.What, st.Done)
	} else {
		fmt.Fprintf(w, "%s: %s\n", head, st.What)
	}
	for {
		fmt.Fprintf(w, "run %s? %s ", st.Name, choices)
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
			return false, ErrQuit
		}
		fmt.Fprintln(w, "answer y (run it), n (skip it) or q (stop)")
	}
}
