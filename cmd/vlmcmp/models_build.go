package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// buildEnv is what building a predictor may need besides the model's config.
type buildEnv struct {
	// TrainScores are the training split's scores, for the baselines.
	TrainScores []float64
	// Cache, when set, wraps every non-baseline predictor.
	Cache *llm.Cache
	// OpenAI are the --api-key-file and --base-url flags; they win over
	// the models' config.
	OpenAI openaiFlags
	// Concurrency is the --concurrency flag (0: the model's, else the
	// backend's default).
	Concurrency int
}

// builtModel is a configured model ready to answer.
type builtModel struct {
	Predictor llm.Predictor
	// Closer releases the backend (a loaded local model); may be nil.
	Closer io.Closer
	// Identity names everything that determines its answers (cache key).
	Identity string
}

func (b *builtModel) Close() error {
	if b == nil || b.Closer == nil {
		return nil
	}
	return b.Closer.Close()
}

// buildPredictor builds the predictor of one configured model, local or
// remote. It is shared by compare and predict --model.
func buildPredictor(ctx context.Context, cfg *config.Config, m *config.Model, env buildEnv) (*builtModel, error) {
	var b *builtModel
	var err error
	switch m.Backend {
	case config.BackendBaseline:
		bl, err := eval.NewBaseline(m.Model.Name, env.TrainScores)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w (the baselines need the training split)", m.Name, err)
		}
		return &builtModel{Predictor: bl, Identity: "baseline/" + m.Model.Name}, nil
	case config.BackendOpenAI:
		b, err = buildOpenAI(ctx, cfg, m, env)
	case config.BackendLocal:
		b, err = buildLocal(ctx, cfg, m, env)
	default:
		err = fmt.Errorf("backend %q is not one of local, openai, baseline", m.Backend)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	if env.Cache != nil {
		b.Predictor = llm.WithCache(b.Predictor, env.Cache, b.Identity)
	}
	return b, nil
}

// readiness says whether a model can run here and, when not, why.
type readiness struct {
	Ready  bool
	Reason string // why not, or what it will use
}

// modelReadiness checks what a model needs without loading it: files
// present, a key present, the fine-tuned model known, llama.cpp built in.
// flags are the command line's OpenAI flags.
func modelReadiness(cfg *config.Config, m *config.Model, flags openaiFlags) readiness {
	switch m.Backend {
	case config.BackendBaseline:
		split := cfg.SplitPath()
		if _, err := os.Stat(split); err != nil {
			return readiness{true, "needs the training split (" + split + ", from vlmcmp prepare) or --split all"}
		}
		return readiness{true, m.Model.Name + " of the training scores in " + split}
	case config.BackendOpenAI:
		st, err := resolveOpenAI(m, flags)
		if err != nil {
			return readiness{false, err.Error()}
		}
		what := st.Model
		if st.BaseURL != openaiclient.DefaultBaseURL {
			what += " at " + st.BaseURL
		}
		return readiness{true, what + ", key from " + st.KeySource}
	case config.BackendLocal:
		files := []string{m.ModelFile, m.Mmproj}
		for _, l := range m.LoRA {
			files = append(files, l.Path)
		}
		for _, f := range files {
			if f == "" {
				return readiness{false, "model_file and mmproj must both be set"}
			}
			if _, err := os.Stat(f); err != nil {
				return readiness{false, "missing " + f}
			}
		}
		if err := localAvailable(); err != nil {
			return readiness{false, err.Error()}
		}
		return readiness{true, m.ModelFile}
	}
	return readiness{false, "unknown backend " + m.Backend}
}

// fineTunedModel reads the fine-tuned model's name from the record vlmcmp
// finetune writes, or says why there is none yet.
func fineTunedModel(path string) (string, error) {
	info, err := openaiclient.ReadInfo(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("no fine-tuned model: %s not found (run vlmcmp finetune start)", path)
	case err != nil:
		return "", fmt.Errorf("no fine-tuned model: %w", err)
	}
	if info.FineTunedModel == "" {
		st := info.Status
		if st == "" {
			st = "unknown"
		}
		return "", fmt.Errorf("fine-tuning job %s not finished (status %s): run vlmcmp finetune wait", info.JobID, st)
	}
	return info.FineTunedModel, nil
}

// runPredictModel is vlmcmp predict --model NAME: one image scored by a
// configured model, local or OpenAI, with its configured prompt unless
// --prompt is given. The answer goes to stdout, its score to stderr.
func runPredictModel(ctx context.Context, s *streams, opts predictOptions) error {
	e := opts.Engine
	switch {
	case e.ModelFile != "" || e.Mmproj != "" || len(e.LoRA) > 0:
		return usagef("give --model NAME or --model-file/--mmproj/--lora, not both")
	case opts.RawPrompt:
		return usagef("--raw-prompt needs --model-file: a configured model uses its chat template")
	case opts.Image == "":
		return usagef("--image is required")
	case opts.MaxTokens < 0:
		return usagef("--max-tokens is %d, want 0 or more", opts.MaxTokens)
	case opts.GrammarFile != "" && opts.SchemaFile != "":
		return usagef("give --grammar or --json-schema, not both")
	}
	cfg, err := config.Find(opts.Config)
	if err != nil {
		return err
	}
	m, err := cfg.Lookup(opts.Model)
	if err != nil {
		return usageError{err}
	}
	if m.Backend == config.BackendBaseline {
		return fmt.Errorf("model %s is a baseline: it predicts the training split's %s for every image; vlmcmp compare runs it", m.Name, m.Model.Name)
	}
	if r := modelReadiness(cfg, m, opts.OpenAI); !r.Ready {
		return fmt.Errorf("model %s is not ready: %s", m.Name, r.Reason)
	}
	req := &llm.Request{ID: opts.Image, ImagePath: opts.Image, Options: llm.Options{MaxTokens: opts.MaxTokens}}
	if req.Image, err = os.ReadFile(opts.Image); err != nil { // before the model loads
		return fmt.Errorf("read image: %w", err)
	}
	req.Prompt, req.System = cfg.PromptFor(m)
	if opts.Prompt != "" {
		req.Prompt = opts.Prompt
	}
	if opts.System != "" {
		req.System = opts.System
	}
	if req.Prompt == "" {
		// No prompt of its own and no ground-truth record to take one from.
		req.Prompt = llm.DefaultPrompt
		if req.System == "" {
			req.System = llm.DefaultSystem
		}
	}
	if opts.GrammarFile != "" {
		if m.Backend != config.BackendLocal {
			return usagef("--grammar works with local models only; %s is %s (use --json-schema)", m.Name, m.Backend)
		}
		b, err := os.ReadFile(opts.GrammarFile)
		if err != nil {
			return fmt.Errorf("grammar: %w", err)
		}
		req.Options.Grammar = string(b)
	}
	if opts.SchemaFile != "" {
		b, err := os.ReadFile(opts.SchemaFile)
		if err != nil {
			return fmt.Errorf("json schema: %w", err)
		}
		req.Options.JSONSchema = string(b)
	}
	b, err := buildPredictor(ctx, cfg, m, buildEnv{OpenAI: opts.OpenAI})
	if err != nil {
		return err
	}
	defer b.Close()
	pred, err := b.Predictor.Predict(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Out, pred.Text)
	score := "no score"
	if pred.Score != nil {
		score = fmt.Sprintf("score %g", *pred.Score)
	} else if pred.ScoreError != "" {
		score = "no score (" + pred.ScoreError + ")"
	}
	fmt.Fprintf(s.Err, "%s: %s, %s", m.Name, score, pred.Latency.Round(time.Millisecond))
	if pred.CostUSD > 0 {
		fmt.Fprintf(s.Err, ", $%.5f", pred.CostUSD)
	}
	fmt.Fprintln(s.Err)
	if opts.Timings && pred.Timings != nil {
		t := pred.Timings
		fmt.Fprintf(s.Err, "timings: image encode %.1f ms, prefill %.1f ms, decode %.1f ms, first token %.1f ms\n",
			t.ImageEncodeMS, t.PrefillMS, t.DecodeMS, t.FirstTokenMS)
	}
	return nil
}
