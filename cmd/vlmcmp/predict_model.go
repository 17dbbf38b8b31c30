package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
)

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
	if r := backend.Ready(cfg, m, backend.Env{OpenAI: opts.OpenAI.overrides()}); !r.Ready {
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
	b, err := backend.Build(ctx, cfg, m, backend.Env{OpenAI: opts.OpenAI.overrides(), Log: s.Log})
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
