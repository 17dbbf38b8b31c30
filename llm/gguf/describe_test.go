package gguf_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// writeHeader writes a GGUF file holding metadata only.
func writeHeader(t *testing.T, path string, kvs ...gguf.KeyValue) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := gguf.NewWriter(f, gguf.Metadata(kvs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDescribeFamily: the FAMILY cell of models for each family's files, and
// for files it cannot place.
func TestDescribeFamily(t *testing.T) {
	dir := t.TempDir()
	files := map[string]synth.Files{}
	for _, name := range []string{"qwen2vl", "qwen2.5vl", "qwen3vl"} {
		fs, err := synth.Write(filepath.Join(dir, name), synth.Options{Family: name, Shape: synth.Tiny, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		files[name] = fs
	}
	text := filepath.Join(dir, "text.gguf")
	if err := os.WriteFile(text, []byte("not a gguf file"), 0o644); err != nil {
		t.Fatal(err)
	}
	llava := filepath.Join(dir, "llava-mmproj.gguf")
	writeHeader(t, llava, gguf.KV("general.architecture", "clip"), gguf.KV("clip.projector_type", "mlp"))
	llama := filepath.Join(dir, "llama.gguf")
	writeHeader(t, llama, gguf.KV("general.architecture", "llama"))
	missing := filepath.Join(dir, "missing.gguf")
	for _, tc := range []struct {
		name, model, mmproj, want string
	}{
		{"qwen2vl", files["qwen2vl"].Model, files["qwen2vl"].Mmproj, "Qwen2-VL"},
		{"qwen2.5vl", files["qwen2.5vl"].Model, files["qwen2.5vl"].Mmproj, "Qwen2.5-VL"},
		{"qwen3vl", files["qwen3vl"].Model, files["qwen3vl"].Mmproj, "Qwen3-VL"},
		{"projector alone tells", missing, files["qwen2.5vl"].Mmproj, "Qwen2.5-VL"},
		{"model alone: two families share qwen2vl", files["qwen2.5vl"].Model, missing, "Qwen2.5-VL or Qwen2-VL"},
		{"model alone: one family", files["qwen3vl"].Model, text, "Qwen3-VL"},
		{"mismatch", files["qwen2vl"].Model, files["qwen3vl"].Mmproj, "mismatch (Qwen3-VL projector, qwen2vl model)"},
		{"unknown projector", files["qwen2vl"].Model, llava, "unknown (projector mlp)"},
		{"unknown architecture", llama, missing, "unknown (architecture llama)"},
		{"unreadable", text, missing, "unknown (unreadable files)"},
		{"no files", "", "", "unknown (unreadable files)"},
	} {
		if got := gguf.DescribeFamily(tc.model, tc.mmproj); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
