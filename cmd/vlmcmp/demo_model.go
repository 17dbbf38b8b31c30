package main

import "errors"

// demoModelFiles are the GGUF files of the demo's local model.
type demoModelFiles struct{ Model, Mmproj, LoRA string }

// writeDemoModel writes the tiny synthetic Qwen2-VL of the demo.
//
// TODO(integration): llm/gguf/synth.
func writeDemoModel(dir string, seed uint64) (demoModelFiles, error) {
	return demoModelFiles{}, errors.New("synthetic models not built in yet")
}
