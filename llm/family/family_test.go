package family

import (
	"strings"
	"testing"
)

func TestImageTokens(t *testing.T) {
	for _, tc := range []struct {
		f        *Family
		min, max int
	}{
		{Qwen2VL, 4, 16384},  // 3136/784, 12845056/784
		{Qwen25VL, 4, 16384}, // same processor
		{Qwen3VL, 64, 16384}, // 65536/1024, 16777216/1024
	} {
		lo, hi := tc.f.ImageTokens()
		if lo != tc.min || hi != tc.max {
			t.Errorf("%s: image tokens %d..%d, want %d..%d", tc.f.Name, lo, hi, tc.min, tc.max)
		}
	}
}

func TestLookups(t *testing.T) {
	if got := strings.Join(Names(), ","); got != "qwen2.5vl,qwen2vl,qwen3vl" {
		t.Errorf("names %s", got)
	}
	if got := strings.Join(Architectures(), ","); got != "qwen2vl,qwen3vl" {
		t.Errorf("architectures %s", got)
	}
	for _, f := range All() {
		g, err := ByName(f.Name)
		if err != nil || g != f {
			t.Errorf("ByName(%q) = %v, %v", f.Name, g, err)
		}
		if g, ok := ByProjector(f.Projector); !ok || g != f {
			t.Errorf("ByProjector(%q) = %v", f.Projector, g)
		}
	}
	if _, err := ByName("llava"); err == nil {
		t.Error("ByName(llava) gave no error")
	}
}

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		f    *Family
		arch string
		ok   bool
	}{
		{Qwen2VL, "qwen2vl", true}, {Qwen25VL, "qwen2vl", true}, {Qwen3VL, "qwen3vl", true},
		{Qwen3VL, "qwen2vl", false}, {Qwen2VL, "qwen3vl", false}, {Qwen25VL, "qwen3vl", false}, {Qwen2VL, "llama", false},
	} {
		err := tc.f.Pairs(tc.arch, "m.gguf", "p.gguf")
		if (err == nil) != tc.ok {
			t.Errorf("%s with %s: %v", tc.f.Name, tc.arch, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "m.gguf") || !strings.Contains(err.Error(), "p.gguf") || strings.Count(err.Error(), ". ") > 0) {
			t.Errorf("error is not one sentence naming both files: %v", err)
		}
	}
}

func TestTensorsUnique(t *testing.T) {
	for _, f := range All() {
		ts := append(f.LLMTensors(LLM{Embd: 64, Layers: 2, FF: 96, Heads: 4, KVHeads: 2, HeadDim: 16, Vocab: 300}),
			f.VisionTensors(Vision{Embd: 32, FF: 64, Layers: 2, Heads: 2, Patch: int64(f.Patch), Out: 64, Positions: 16, Deepstack: []int64{0}})...)
		seen := map[string]bool{}
		for _, x := range ts {
			if seen[x.Name] {
				t.Errorf("%s: tensor %s listed twice", f.Name, x.Name)
			}
			seen[x.Name] = true
		}
	}
}
