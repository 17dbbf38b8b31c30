//go:build !llamacpp

package native

import (
	"errors"
	"testing"
)

func TestStubSaysHowToBuild(t *testing.T) {
	calls := []struct {
		name string
		err  error
	}{
		{"Init", func() error { _, err := Init(InitOptions{}); return err }()},
		{"Devices", func() error { _, err := Devices(); return err }()},
		{"LoadModel", func() error { _, err := LoadModel("m.gguf", ModelParams{}); return err }()},
		{"LoadProjector", func() error { _, err := LoadProjector("p.gguf", nil, ProjectorParams{}); return err }()},
		{"NewBatch", func() error { _, err := NewBatch(8, 1); return err }()},
		{"NewBitmap", func() error { _, err := NewBitmap(1, 1, []byte{1, 2, 3}); return err }()},
		{"NewSampler", func() error { _, err := NewSampler(nil, SamplerParams{}); return err }()},
		{"LoadLoRA", func() error { _, err := LoadLoRA(nil, "a.gguf"); return err }()},
	}
	for _, c := range calls {
		if !errors.Is(c.err, ErrNotBuilt) {
			t.Errorf("%s: got %v, want ErrNotBuilt", c.name, c.err)
		}
	}
	if got, want := ErrNotBuilt.Error(), "built without llama.cpp: run make"; got != want {
		t.Errorf("ErrNotBuilt = %q, want %q", got, want)
	}
}
