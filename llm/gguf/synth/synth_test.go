package synth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

func writeTiny(t *testing.T, seed int64) Files {
	t.Helper()
	files, err := Write(t.TempDir(), Options{Shape: Tiny, Seed: seed, LoRA: true})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestTinyValid(t *testing.T) {
	files := writeTiny(t, 1)
	for _, p := range []string{files.Model, files.Mmproj, files.LoRA} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", filepath.Base(p), st.Size())
	}
	m, err := gguf.ValidateModel(files.Model)
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.ValidateProjector(files.Mmproj, m); err != nil {
		t.Error(err)
	}
	if err := gguf.ValidateLoRA(files.LoRA, m); err != nil {
		t.Error(err)
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	a, b, c := writeTiny(t, 7), writeTiny(t, 7), writeTiny(t, 8)
	for _, f := range []func(Files) string{
		func(f Files) string { return f.Model },
		func(f Files) string { return f.Mmproj },
		func(f Files) string { return f.LoRA },
	} {
		da, db, dc := read(t, f(a)), read(t, f(b)), read(t, f(c))
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs between two runs with seed 7", filepath.Base(f(a)))
		}
		if bytes.Equal(da, dc) {
			t.Errorf("%s is the same for seeds 7 and 8", filepath.Base(f(a)))
		}
	}
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
