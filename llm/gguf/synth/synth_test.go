package synth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

func writeTinyOf(t *testing.T, fam string, seed int64) Files {
	t.Helper()
	files, err := Write(t.TempDir(), Options{Family: fam, Shape: Tiny, Seed: seed, LoRA: true})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestTinyValid(t *testing.T) {
	for _, fam := range family.Names() {
		t.Run(fam, func(t *testing.T) { testTinyValid(t, fam) })
	}
}

func testTinyValid(t *testing.T, fam string) {
	files := writeTinyOf(t, fam, 1)
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
	if f, err := gguf.ValidateProjectorFamily(files.Mmproj, m); err != nil {
		t.Error(err)
	} else if f.Name != fam {
		t.Errorf("projector of family %s, want %s", f.Name, fam)
	}
	if err := gguf.ValidateLoRA(files.LoRA, m); err != nil {
		t.Error(err)
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	for _, fam := range family.Names() {
		t.Run(fam, func(t *testing.T) { testSameSeedSameBytes(t, fam) })
	}
}

func testSameSeedSameBytes(t *testing.T, fam string) {
	a, b, c := writeTinyOf(t, fam, 7), writeTinyOf(t, fam, 7), writeTinyOf(t, fam, 8)
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
	for _, fam := range family.Names() {
		for _, s := range ShapesOf(fam) {
			d, err := DimsFor(fam, s)
			if err != nil {
				t.Fatal(err)
			}
			checkDims(t, fam+" "+string(s), d)
		}
	}
	if _, err := DimsFor("qwen2vl", ThreeB); err == nil {
		t.Error("qwen2vl 3b accepted")
	}
	if _, err := DimsFor("llava", Tiny); err == nil {
		t.Error("unknown family accepted")
	}
	if _, err := DimsOf("huge"); err == nil {
		t.Error("unknown shape accepted")
	}
}

func checkDims(t *testing.T, s string, d Dims) {
	t.Helper()
	{
		head := d.headDim()
		sum := d.RopeSections[0] + d.RopeSections[1] + d.RopeSections[2] + d.RopeSections[3]
		if (d.HeadDim == 0 && d.Embd%d.Heads != 0) || int(sum) != head/2 || d.Heads%d.KVHeads != 0 || len(d.Deepstack) > d.Layers {
			t.Errorf("%s: width %d, %d heads, %d kv heads, rope sections sum %d", s, d.Embd, d.Heads, d.KVHeads, sum)
		}
		if d.VEmbd%d.VHeads != 0 || (d.VEmbd/d.VHeads)%4 != 0 || d.VFF == d.VEmbd {
			t.Errorf("%s: vision width %d, %d heads, ffn %d", s, d.VEmbd, d.VHeads, d.VFF)
		}
	}
}

// TestBadPairings: a projector goes with a model of its family's
// architecture only, and the refusal names both files.
func TestBadPairings(t *testing.T) {
	files := map[string]Files{}
	for _, fam := range family.Names() {
		files[fam] = writeTinyOf(t, fam, 1)
	}
	for _, mf := range family.Names() {
		m, err := gguf.ValidateModel(files[mf].Model)
		if err != nil {
			t.Fatal(err)
		}
		for _, pf := range family.Names() {
			fm, _ := family.ByName(mf)
			fp, _ := family.ByName(pf)
			err := gguf.ValidateProjector(files[pf].Mmproj, m)
			if want := fm.Arch == fp.Arch; (err == nil) != want {
				t.Errorf("%s projector with %s model: %v", pf, mf, err)
			}
			if err != nil && (!errors.Is(err, gguf.ErrUnsupported) || !strings.Contains(err.Error(), files[pf].Mmproj) || !strings.Contains(err.Error(), files[mf].Model)) {
				t.Errorf("%s projector with %s model: error does not name both files: %v", pf, mf, err)
			}
			if err != nil {
				t.Logf("%s projector, %s model: %v", pf, mf, err)
			}
		}
	}
}
