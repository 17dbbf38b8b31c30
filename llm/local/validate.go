package local

import (
	"fmt"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// validateFiles checks the model, projector and adapter files in Go before
// llama.cpp is handed them: llama.cpp aborts the process on some malformed
// files.
func validateFiles(cfg *Config) error {
	model, err := gguf.Open(cfg.ModelFile)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer model.Close()
	if arch, _ := model.Metadata.String("general.architecture"); arch != "qwen2vl" {
		return fmt.Errorf("model %s: architecture %q, want qwen2vl (Qwen2-VL)", cfg.ModelFile, arch)
	}
	proj, err := gguf.Open(cfg.MmprojFile)
	if err != nil {
		return fmt.Errorf("mmproj: %w", err)
	}
	proj.Close()
	for _, l := range cfg.LoRA {
		a, err := gguf.Open(l.Path)
		if err != nil {
			return fmt.Errorf("lora: %w", err)
		}
		a.Close()
	}
	return nil
}
