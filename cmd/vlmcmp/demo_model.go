package main

import (
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// demoModelFiles are the GGUF files of the demo's local model.
type demoModelFiles struct{ Model, Mmproj, LoRA string }

// writeDemoModel writes the tiny synthetic Qwen2-VL of the demo into dir:
// random weights from seed (a few MB), its projector and a LoRA adapter.
func writeDemoModel(dir string, seed uint64) (demoModelFiles, error) {
	f, err := synth.Write(dir, synth.Options{Shape: synth.Tiny, Seed: int64(seed), LoRA: true})
	if err != nil {
		return demoModelFiles{}, err
	}
	return demoModelFiles{Model: f.Model, Mmproj: f.Mmproj, LoRA: f.LoRA}, nil
}
