package local

import (
	"fmt"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// validateFiles checks the model, projector and adapter files in Go before
// llama.cpp is handed them: llama.cpp aborts the process on some malformed
// files. The errors of package gguf name the file and what is wrong. It
// returns the projector's model family.
func validateFiles(cfg *Config) (*family.Family, error) {
	model, err := gguf.ValidateModel(cfg.ModelFile)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	fam, err := gguf.ValidateProjectorFamily(cfg.MmprojFile, model)
	if err != nil {
		return nil, fmt.Errorf("mmproj: %w", err)
	}
	for _, l := range cfg.LoRA {
		if err := gguf.ValidateLoRA(l.Path, model); err != nil {
			return nil, fmt.Errorf("lora: %w", err)
		}
	}
	return fam, nil
}

// Resolve is cfg as [New] would run it, without loading anything: checked,
// its files validated in Go (GGUF headers), and its defaults filled in with
// the family of its projector (image-token budget, answer length). What can
// change an answer is then known before a model loads.
func Resolve(cfg Config) (Config, error) {
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	fam, err := validateFiles(&cfg)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.fill(fam); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
