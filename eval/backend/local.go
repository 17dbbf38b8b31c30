package backend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
)

// localBackend builds local Qwen2-VL models (llm/local, llama.cpp).
var localBackend = Backend{Build: buildLocal, Ready: localReady, Cached: true}

// localScoreSchema is the JSON schema a local model with structured: true
// answers in: an integer score 1..10 and nothing else. llm/local turns it
// into a grammar, so even a model that knows no JSON answers with a score.
const localScoreSchema = `{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":10}},"required":["score"]}`

// buildLocal loads a local Qwen2-VL with its projector and adapters, once
// per replica.
func buildLocal(ctx context.Context, cfg *config.Config, m *config.Model, _ Env) (*Built, error) {
	if err := native.Built(); err != nil {
		return nil, err
	}
	if _, err := local.DeviceNames(m.Devices); err != nil {
		return nil, fmt.Errorf("%s: model %q: %w", configAt(cfg, m), m.Name, err)
	}
	lc := local.Config{
		ModelFile:  m.ModelFile,
		MmprojFile: m.Mmproj,
		GPULayers:  -1, // gpu_layers unset: every layer that fits (none without a GPU)
		Parallel:   m.Parallel,
		Threads:    m.Threads,
		MaxTokens:  m.MaxTokens,
		Replicas:   m.ReplicaCount(),
		Devices:    m.Devices,
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
	// part of the identity as the predictor resolved them. Replicas and
	// devices are not: answers are the same on any number of replicas, so
	// a run may resume with another.
	got := p.Config()
	fmt.Fprintf(&id, " structured=%t image_tokens=%d..%d max_tokens=%d", m.Structured, got.ImageMinTokens, got.ImageMaxTokens, got.MaxTokens)
	return &Built{Predictor: p, Closer: p, Identity: id.String()}, nil
}

// configAt names a model's entry in its config file for errors: FILE:LINE.
func configAt(cfg *config.Config, m *config.Model) string {
	switch {
	case cfg == nil || cfg.Path == "":
		return "default config"
	case m.Line > 0:
		return fmt.Sprintf("%s:%d", cfg.Path, m.Line)
	}
	return cfg.Path
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

func localReady(_ *config.Config, m *config.Model, _ Env) Readiness {
	files := []string{m.ModelFile, m.Mmproj}
	for _, l := range m.LoRA {
		files = append(files, l.Path)
	}
	for _, f := range files {
		if f == "" {
			return Readiness{false, "model_file and mmproj must both be set"}
		}
		if _, err := os.Stat(f); err != nil {
			return Readiness{false, "missing " + f}
		}
	}
	if err := native.Built(); err != nil {
		return Readiness{false, err.Error()}
	}
	return Readiness{true, m.ModelFile}
}
