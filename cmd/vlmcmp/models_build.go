package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

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
// finetune writes.
func fineTunedModel(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no fine-tuned model: %s not found (run vlmcmp finetune start)", path)
		}
		return "", fmt.Errorf("fine-tune info: %w", err)
	}
	var info struct {
		FineTunedModel string `json:"fine_tuned_model"`
		Status         string `json:"status"`
		JobID          string `json:"job_id"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return "", fmt.Errorf("fine-tune info %s: %w", path, err)
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
