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

func TestDefaultImageTokens(t *testing.T) {
	for _, tc := range []struct {
		f        *Family
		min, max int
	}{
		{Qwen2VL, 4, 1024},  // 3136/784; BudgetMaxPixels/784
		{Qwen25VL, 4, 1024}, // same processor
		{Qwen3VL, 64, 784},  // 65536/1024; 802816/1024 rounded down
	} {
		lo, hi := tc.f.DefaultImageTokens()
		if lo != tc.min || hi != tc.max {
			t.Errorf("%s: default image tokens %d..%d, want %d..%d", tc.f.Name, lo, hi, tc.min, tc.max)
		}
		if hi*tc.f.TokenPixels() > BudgetMaxPixels {
			t.Errorf("%s: default max %d tokens is over the %d-pixel budget", tc.f.Name, hi, BudgetMaxPixels)
		}
	}
}

// TestResizedTokens follows smart_resize by hand for each case.
func TestResizedTokens(t *testing.T) {
	for _, tc := range []struct {
		f              *Family
		w, h, min, max int
		want           int
	}{
		// 112×84 rounds to 112×84 (28-multiples): 4×3 tokens, inside 4..1024.
		{Qwen2VL, 112, 84, 4, 1024, 12},
		// 32×32 rounds to 28×28 (1 token) < 4: scaled by sqrt(3136/1024)=1.75
		// to 56×56: 2×2.
		{Qwen2VL, 32, 32, 4, 1024, 4},
		// Qwen3: 32×32 is one token < 64: scaled by 8 to 256×256: 8×8.
		{Qwen3VL, 32, 32, 64, 784, 64},
		// 1400×1050 rounds to 1400×1064 = 1900 tokens > 1024: beta =
		// sqrt(1470000/802816) = 1.3532; floor(1050/1.3532/28) = 27,
		// floor(1400/1.3532/28) = 36: 972 tokens.
		{Qwen2VL, 1400, 1050, 4, 1024, 972},
		// Qwen3: beta = sqrt(1470000/802816) = 1.3532; floor(775.9/32) =
		// 24, floor(1034.6/32) = 32: 768 tokens.
		{Qwen3VL, 1400, 1050, 64, 784, 768},
		// A user budget: 64 tokens max of 28×28 for 112×84 (12 tokens): as is.
		{Qwen25VL, 112, 84, 0, 64, 12},
		// Very wide: 4000×10 rounds to 4004×28 (never under one aligned row):
		// 143 tokens.
		{Qwen2VL, 4000, 10, 4, 1024, 143},
	} {
		if got := tc.f.ResizedTokens(tc.w, tc.h, tc.min, tc.max); got != tc.want {
			t.Errorf("%s %dx%d in %d..%d: %d tokens, want %d", tc.f.Name, tc.w, tc.h, tc.min, tc.max, got, tc.want)
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
