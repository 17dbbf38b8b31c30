package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// localScoreSchema is the JSON schema a local model with structured: true
// answers in: an integer score 1..10 and nothing else. llm/local turns it
// into a grammar, so even a model that knows no JSON answers with a score.
const localScoreSchema = `{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":10}},"required":["score"]}`

// openAISettings are the settings of an OpenAI model after the command
// line, the config and the environment are combined: the command line wins,
// then the model's config, then OPENAI_BASE_URL / OPENAI_API_KEY.
type openAISettings struct {
	Model     string // API model name (a fine-tuned one resolved from its record)
	BaseURL   string
	Key       string
	KeySource string // where the key came from, for display; never the key
	Detail    string
}

func resolveOpenAI(m *config.Model, flags openaiFlags) (*openAISettings, error) {
	st := &openAISettings{Model: m.Model.Name, Detail: m.Detail}
	if m.Model.From != "" {
		name, err := fineTunedModel(m.Model.From)
		if err != nil {
			return nil, err
		}
		st.Model = name
	}
	if st.Model == "" {
		return nil, errors.New("no OpenAI model: set model: NAME or model: {from: fine_tune_info.json}")
	}
	if st.Detail == "" {
		st.Detail = openaiclient.DefaultDetail
	}
	if !openaiclient.ValidDetail(st.Detail) {
		return nil, fmt.Errorf("detail %q is not one of low, high, auto", st.Detail)
	}
	base := flags.BaseURL
	if base == "" {
		base = m.BaseURL
	}
	st.BaseURL = openaiclient.ResolveBaseURL(base)
	keyFile := flags.APIKeyFile
	if keyFile == "" {
		keyFile = m.APIKeyFile
	}
	var err error
	// A server other than the OpenAI API, given by --base-url or the
	// model's base_url, may need no key.
	if st.Key, st.KeySource, err = openaiclient.ResolveKeyFor(keyFile, base); err != nil {
		return nil, err
	}
	return st, nil
}

// buildOpenAI builds the predictor of an OpenAI (or OpenAI-compatible)
// model. concurrency, when positive, is the --concurrency flag.
func buildOpenAI(ctx context.Context, cfg *config.Config, m *config.Model, env buildEnv) (*builtModel, error) {
	st, err := resolveOpenAI(m, env.OpenAI)
	if err != nil {
		return nil, err
	}
	conc := env.Concurrency
	if conc <= 0 {
		conc = m.Concurrency
	}
	p, err := openaiclient.New(openaiclient.Config{
		Model:       st.Model,
		BaseURL:     st.BaseURL,
		APIKey:      st.Key,
		Detail:      st.Detail,
		Structured:  m.Structured,
		MaxTokens:   m.MaxTokens,
		Concurrency: conc,
	})
	if err != nil {
		return nil, err
	}
	maxTokens := m.MaxTokens
	if maxTokens == 0 {
		maxTokens = openaiclient.DefaultMaxTokens
	}
	// Temperature 0 and seed 42 are the client's fixed defaults; they are
	// named so that changing them would change the key.
	id := fmt.Sprintf("openai model=%s base_url=%s detail=%s structured=%t max_tokens=%d temperature=0 seed=%d",
		st.Model, st.BaseURL, st.Detail, m.Structured, maxTokens, openaiclient.DefaultSeed)
	if info := p.Info(); info.Reasoning {
		// A reasoning model takes no temperature and has its own budget.
		if m.MaxTokens == 0 {
			maxTokens = openaiclient.DefaultReasoningMaxTokens
		}
		id = fmt.Sprintf("openai model=%s base_url=%s detail=%s structured=%t max_completion_tokens=%d reasoning_effort=%s seed=%d",
			st.Model, st.BaseURL, st.Detail, m.Structured, maxTokens, info.ReasoningEffort, openaiclient.DefaultSeed)
	}
	return &builtModel{Predictor: p, Identity: id}, nil
}

// buildLocal loads a local Qwen2-VL with its projector and adapters.
func buildLocal(ctx context.Context, cfg *config.Config, m *config.Model, env buildEnv) (*builtModel, error) {
	if err := localAvailable(); err != nil {
		return nil, err
	}
	lc := local.Config{
		ModelFile:  m.ModelFile,
		MmprojFile: m.Mmproj,
		GPULayers:  -1, // gpu_layers unset: every layer that fits (none without a GPU)
		Parallel:   m.Parallel,
		Threads:    m.Threads,
		MaxTokens:  m.MaxTokens,
	}
	if m.GPULayers != nil {
		lc.GPULayers = *m.GPULayers
	}
	if m.Structured {
		lc.JSONSchema = localScoreSchema
	}
	var id strings.Builder
	fmt.Fprintf(&id, "local model=%s mmproj=%s", fileIdentity(m.ModelFile), fileIdentity(m.Mmproj))
	for _, l := range m.LoRA {
		lc.LoRA = append(lc.LoRA, local.LoRA{Path: l.Path, Scale: float32(l.ScaleOr1())})
		fmt.Fprintf(&id, " lora=%s*%g", fileIdentity(l.Path), l.ScaleOr1())
	}
	p, err := local.New(ctx, lc)
	if err != nil {
		return nil, err
	}
	// The defaults that shape answers (image tokens, answer length) are
	// part of the identity as the predictor resolved them.
	got := p.Config()
	fmt.Fprintf(&id, " structured=%t image_tokens=%d..%d max_tokens=%d", m.Structured, got.ImageMinTokens, got.ImageMaxTokens, got.MaxTokens)
	return &builtModel{Predictor: p, Closer: p, Identity: id.String()}, nil
}

// fileIdentity names a model file by its absolute path, size and
// modification time, so that a rewritten file does not answer from the cache.
func fileIdentity(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fi, err := os.Stat(path)
	if err != nil {
		return abs
	}
	return fmt.Sprintf("%s(%d bytes, %s)", abs, fi.Size(), fi.ModTime().UTC().Format("2006-01-02T15:04:05.000000000Z"))
}

// localAvailable reports whether this binary can run local models: it
// fails with native.ErrNotBuilt ("built without llama.cpp: run make") in a
// build without the llamacpp tag.
func localAvailable() error {
	if _, err := native.SystemInfo(); errors.Is(err, native.ErrNotBuilt) {
		return err
	}
	return nil
}
