//go:build llamacpp

package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
)

// freshEmbeddings gives the test an empty process cache of mib MiB and puts
// the old one back after it.
func freshEmbeddings(t *testing.T) *embedCache {
	t.Helper()
	old := processEmbeddings
	processEmbeddings = &embedCache{m: map[embedKey]embedding{}}
	t.Cleanup(func() { processEmbeddings = old })
	return processEmbeddings
}

// scoreAll answers reqs with p and returns the answers by request ID.
func scoreAll(t *testing.T, p *Predictor, reqs []*llm.Request) map[string]string {
	t.Helper()
	return texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
}

// TestEmbeddingCacheSharedAcrossModels: the base model and its LoRA
// fine-tune share the projector file, so the second model encodes none of
// the images the first one did, and its answers equal those it gives with
// the cache off. A projector that is another file (same bytes, other path)
// or other image settings does not share the first one's embeddings.
func TestEmbeddingCacheSharedAcrossModels(t *testing.T) {
	c := freshEmbeddings(t)
	reqs := requests(t, 6)
	base := tinyConfig(t, 2)
	base.EmbeddingCacheMiB = 0
	ft := base
	ft.LoRA = []LoRA{{Path: tiny.files.LoRA, Scale: 1}}

	pb := newTiny(t, base)
	scoreAll(t, pb, reqs)
	if st := pb.Stats(); st.Images != len(reqs) || st.EmbeddingHits != 0 {
		t.Fatalf("base model, empty cache: %d encoded, %d from the cache, want %d and 0", st.Images, st.EmbeddingHits, len(reqs))
	}
	// Encoded ahead by the preparer, or by the owner when it admits the
	// request: both look in the cache first.
	var got map[string]string
	for _, ahead := range []string{"on", "off"} {
		ft.EncodeAhead = ahead
		pf := newTiny(t, ft)
		got = scoreAll(t, pf, reqs)
		if st := pf.Stats(); st.Images != 0 || st.EmbeddingHits != len(reqs) {
			t.Errorf("fine-tuned model after the base, encode ahead %s: %d encoded, %d from the cache, want 0 and %d",
				ahead, st.Images, st.EmbeddingHits, len(reqs))
		}
	}
	off := ft
	off.EmbeddingCacheMiB = -1
	po := newTiny(t, off)
	want := scoreAll(t, po, reqs)
	if st := po.Stats(); st.Images != len(reqs) || st.EmbeddingHits != 0 {
		t.Errorf("cache off: %d encoded, %d from the cache, want %d and 0", st.Images, st.EmbeddingHits, len(reqs))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q with cached embeddings, %q encoded", id, got[id], w)
		}
	}

	// Another projector file, or other image token bounds: no hits.
	data, err := os.ReadFile(tiny.files.Mmproj)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "mmproj-copy.gguf")
	if err := os.WriteFile(copyPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	other := base
	other.MmprojFile = copyPath
	bounds := base
	bounds.ImageMaxTokens = 64
	for name, cfg := range map[string]Config{"another file": other, "other image bounds": bounds} {
		p := newTiny(t, cfg)
		scoreAll(t, p, reqs[:2])
		if st := p.Stats(); st.EmbeddingHits != 0 || st.Images != 2 {
			t.Errorf("%s: %d encoded, %d from the cache, want 2 and 0", name, st.Images, st.EmbeddingHits)
		}
	}
	if c.used == 0 || len(c.m) != len(reqs)+4 {
		t.Errorf("cache holds %d embeddings (%d bytes), want %d", len(c.m), c.used, len(reqs)+4)
	}
}

// TestEmbeddingCacheBudget: once the budget is spent nothing more is kept,
// and what was kept stays.
func TestEmbeddingCacheBudget(t *testing.T) {
	c := freshEmbeddings(t)
	reqs := requests(t, 4)
	cfg := tinyConfig(t, 1)
	cfg.EmbeddingCacheMiB = 0
	p := newTiny(t, cfg)
	scoreAll(t, p, reqs[:1])
	one := c.used
	c.budget = 2*one + one/2 // room for two
	scoreAll(t, p, reqs)
	if len(c.m) != 2 || c.used != 2*one {
		t.Fatalf("budget of 2.5 embeddings: %d kept (%d bytes), want 2 (%d)", len(c.m), c.used, 2*one)
	}
	p.ResetStats()
	scoreAll(t, p, reqs)
	if st := p.Stats(); st.EmbeddingHits != 2 || st.Images != 2 {
		t.Errorf("second pass: %d from the cache, %d encoded, want 2 and 2 (the first two images)", st.EmbeddingHits, st.Images)
	}
}
