package local

import (
	"fmt"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// validateFiles checks the model, projector and adapter files in Go before
// llama.cpp is handed them: llama.cpp aborts the process on some malformed
// files. The errors of package gguf name the file and what is wrong.
func validateFiles(cfg *Config) error {
	model, err := gguf.ValidateModel(cfg.ModelFile)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := gguf.ValidateProjector(cfg.MmprojFile, model); err != nil {
		return fmt.Errorf("mmproj: %w", err)
	}
	for _, l := range cfg.LoRA {
		if err := gguf.ValidateLoRA(l.Path, model); err != nil {
			return fmt.Errorf("lora: %w", err)
		}
	}
	return nil
}
