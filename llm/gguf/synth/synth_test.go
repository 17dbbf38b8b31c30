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

// BenchmarkWrite measures writing each small shape (2b: see the report of
// `vlmcmp synth-model --shape 2b`, about 20 s for 4.4 GB here).
func BenchmarkWrite(b *testing.B) {
	for _, shape := range []Shape{Tiny, Small} {
		b.Run(string(shape), func(b *testing.B) {
			dir := b.TempDir()
			for b.Loop() {
				if _, err := Write(dir, Options{Shape: shape, Seed: 1, LoRA: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestDimsConstraints(t *testing.T) {
	for _, s := range Shapes {
		d, err := DimsOf(s)
		if err != nil {
			t.Fatal(err)
		}
		head := d.Embd / d.Heads
		sum := d.RopeSections[0] + d.RopeSections[1] + d.RopeSections[2] + d.RopeSections[3]
		if d.Embd%d.Heads != 0 || int(sum) != head/2 || d.Heads%d.KVHeads != 0 {
			t.Errorf("%s: width %d, %d heads, %d kv heads, rope sections sum %d", s, d.Embd, d.Heads, d.KVHeads, sum)
		}
		if d.VEmbd%d.VHeads != 0 || (d.VEmbd/d.VHeads)%4 != 0 || d.VFF == d.VEmbd {
			t.Errorf("%s: vision width %d, %d heads, ffn %d", s, d.VEmbd, d.VHeads, d.VFF)
		}
	}
	if _, err := DimsOf("huge"); err == nil {
		t.Error("unknown shape accepted")
	}
}
