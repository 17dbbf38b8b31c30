package lora

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// TestMergeBadBaseFile gives convert and merge broken base and adapter
// GGUFs: each fails with one error that starts with the file's name and
// says what is wrong, and leaves no output behind.
func TestMergeBadBaseFile(t *testing.T) {
	dir := t.TempDir()
	model, _ := fakeModel(t, dir, gguf.F16, "qwen2vl")
	good, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	adapter := writePEFT(t, fakeConfig(false), fakeModules("model.", "visual."), 5)
	adGGUF := filepath.Join(dir, "adapter.gguf")
	if _, err := Convert(t.Context(), ConvertOptions{Adapter: adapter, Base: model, Out: adGGUF}); err != nil {
		t.Fatal(err)
	}
	goodAd, err := os.ReadFile(adGGUF)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		adapter bool // the broken file is the adapter GGUF, not the base
		want    string
	}{
		{"empty", nil, false, "too short for a gguf header"},
		{"text", []byte("hello, this is not a model"), false, "not a gguf file"},
		{"truncated header", good[:40], false, "truncated"},
		{"truncated data", good[:len(good)-100], false, "runs past the end of the file"},
		{"adapter truncated", goodAd[:len(goodAd)-10], true, "runs past the end of the file"},
		{"adapter is the model", good, true, `general.type is "", not a LoRA adapter`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			bad := filepath.Join(tmp, "bad.gguf")
			if err := os.WriteFile(bad, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(tmp, "out.gguf")
			opts := MergeOptions{Base: bad, Adapter: adapter, AdapterScale: 1, Out: out}
			if tt.adapter {
				opts = MergeOptions{Base: model, LoRAs: []LoRAFile{{bad, 1}}, Out: out}
			}
			_, err := Merge(t.Context(), opts)
			if err == nil {
				t.Fatal("merge: no error")
			}
			if !strings.HasPrefix(err.Error(), bad+":") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("merge error %q, want it to start with %s and contain %q", err, bad, tt.want)
			}
			if !tt.adapter {
				_, err := Convert(t.Context(), ConvertOptions{Adapter: adapter, Base: bad, Out: out})
				if err == nil || !strings.HasPrefix(err.Error(), bad+":") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("convert error %v, want it to start with %s and contain %q", err, bad, tt.want)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed merge left its output behind")
			}
		})
	}
}

// FuzzReadFloats reads every mergeable tensor of any file package gguf
// accepts: decoding never fails or panics on a file that opened.
func FuzzReadFloats(f *testing.F) {
	dir := f.TempDir()
	model, _ := fakeModel(f, dir, gguf.F16, "qwen2vl")
	mm, _ := fakeMmproj(f, dir, gguf.F32)
	q8 := filepath.Join(dir, "q8.gguf")
	writeFakeGGUF(f, q8, map[string]string{"general.architecture": "qwen2vl"}, []fakeTensor{
		{name: "a", ne: []int64{64, 2}, typ: gguf.Q8_0}, {name: "b", ne: []int64{8, 3}, typ: gguf.BF16}}, 1)
	for _, p := range []string{model, mm, q8} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := gguf.Read(bytes.NewReader(data), int64(len(data)), "fuzz.gguf")
		if err != nil {
			return
		}
		for _, ti := range g.Tensors {
			if ti.Size() > 1<<20 {
				continue
			}
			if _, err := rowBytes(ti.Type, int(ti.Shape[0])); err != nil {
				continue
			}
			v, err := readFloat64s(g, ti)
			if err != nil {
				t.Fatalf("tensor %s: %v", ti.Name, err)
			}
			if int64(len(v)) != ti.Elements() {
				t.Fatalf("tensor %s: %d values, want %d", ti.Name, len(v), ti.Elements())
			}
		}
	})
}
