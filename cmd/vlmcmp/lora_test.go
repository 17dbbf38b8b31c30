package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/lora"
	"github.com/vlmcmp/vlmcmp/llm/lora/safetensors"
)

func TestLoRACommandErrors(t *testing.T) {
	dir := t.TempDir()
	adapter := filepath.Join(dir, "adapter")
	os.Mkdir(adapter, 0o755)
	badHeader := filepath.Join(dir, "bad")
	os.Mkdir(badHeader, 0o755)
	os.WriteFile(filepath.Join(badHeader, lora.ConfigFile), []byte(`{"r":4,"lora_alpha":8}`), 0o644)
	os.WriteFile(filepath.Join(badHeader, lora.WeightsFile), []byte("\xff\xff\xff\xff\xff\xff\xff\x7f{}"), 0o644)
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, lora.ConfigFile), []byte(`{"r":1,"base_model_name_or_path":"/data/ckpt"}`), 0o644)
	safetensors.WriteFile(filepath.Join(other, lora.WeightsFile), []safetensors.Data{
		{Name: "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", DType: "F32", Shape: []int64{1, 2}, Values: []float64{1, 2}},
		{Name: "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight", DType: "F32", Shape: []int64{2, 1}, Values: []float64{1, 2}},
	}, nil)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"merge without adapter", []string{"lora", "merge", "--base", "m.gguf", "--out", "o.gguf"}, 2, []string{"give a PEFT adapter with --adapter or adapter GGUFs with --lora", "vlmcmp lora merge --help"}},
		{"merge bad type", []string{"lora", "merge", "--base", "m.gguf", "--out", "o.gguf", "--adapter", adapter, "--type", "q4_0"}, 2, []string{`--type "q4_0"`}},
		{"mmproj without out", []string{"lora", "merge", "--base", "m.gguf", "--out", "o.gguf", "--adapter", adapter, "--mmproj", "p.gguf"}, 2, []string{"--mmproj and --out-mmproj go together"}},
		{"convert missing flag", []string{"lora", "convert", "--adapter", adapter, "--out", "o.gguf"}, 2, []string{"--base is required"}},
		{"missing adapter_config.json", []string{"lora", "convert", "--adapter", adapter, "--base", "m.gguf", "--out", "o.gguf"}, 1, []string{"no adapter_config.json", adapter, "save_pretrained"}},
		{"bad safetensors header", []string{"lora", "convert", "--adapter", badHeader, "--base", "m.gguf", "--out", "o.gguf"}, 1, []string{"adapter_model.safetensors: header length"}},
		{"another architecture", []string{"lora", "convert", "--adapter", other, "--base", "m.gguf", "--out", "o.gguf"}, 1, []string{"transformer.h.0.attn.c_attn", "not an adapter for Qwen2-VL", "same model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"vlmcmp"}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing on failure", stdout.String())
			}
		})
	}
}
