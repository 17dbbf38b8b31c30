package lora

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenGGUFErrors(t *testing.T) {
	dir := t.TempDir()
	model, _ := fakeModel(t, dir, typeF16, "qwen2vl")
	good, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a GGUF file: too short"},
		{"text", []byte("hello, this is not a model"), "bad magic"},
		{"truncated header", good[:40], "past the end of the file"},
		{"truncated data", good[:len(good)-100], "lies outside the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.gguf")
			os.WriteFile(p, tt.data, 0o644)
			g, err := openGGUF(p)
			if err == nil {
				g.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), p) {
				t.Errorf("error %q, want it to start with the file name and contain %q", err, tt.want)
			}
		})
	}
}

func FuzzOpenGGUF(f *testing.F) {
	dir := f.TempDir()
	model, _ := fakeModel(f, dir, typeF16, "qwen2vl")
	mm, _ := fakeMmproj(f, dir, typeF32)
	for _, p := range []string{model, mm} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.gguf")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := openGGUF(p)
		if err != nil {
			return
		}
		defer g.Close()
		// Every tensor of a file that opens can be read.
		for _, ti := range g.tensors {
			if ti.size > 1<<20 {
				continue
			}
			if _, err := rowBytes(ti.typ, int(ti.ne[0])); err == nil {
				if _, err := g.readFloat64s(ti); err != nil {
					t.Fatalf("tensor %s: %v", ti.name, err)
				}
			}
		}
	})
}
