package local

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
)

// TestFillImageTokens: the image-token budget defaults to the family's,
// a bound the user sets wins, and a defaulted bound yields to it.
func TestFillImageTokens(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fam          *family.Family
		min, max     int // set by the user
		wantMin      int
		wantMax      int
		wantCtx      int
		wantErrorHas string
	}{
		{name: "no family", wantMin: 0, wantMax: DefaultImageMaxTokens, wantCtx: DefaultImageMaxTokens + defaultTextTokens},
		{name: "qwen2vl", fam: family.Qwen2VL, wantMin: 4, wantMax: 1024, wantCtx: 1024 + defaultTextTokens},
		{name: "qwen2.5vl", fam: family.Qwen25VL, wantMin: 4, wantMax: 1024, wantCtx: 1024 + defaultTextTokens},
		{name: "qwen3vl", fam: family.Qwen3VL, wantMin: 64, wantMax: 784, wantCtx: 784 + defaultTextTokens},
		{name: "user max wins", fam: family.Qwen3VL, max: 2048, wantMin: 64, wantMax: 2048, wantCtx: 2048 + defaultTextTokens},
		{name: "default min yields to a lower user max", fam: family.Qwen3VL, max: 32, wantMin: 32, wantMax: 32, wantCtx: 32 + defaultTextTokens},
		{name: "user min wins", fam: family.Qwen2VL, min: 256, wantMin: 256, wantMax: 1024, wantCtx: 1024 + defaultTextTokens},
		{name: "default max yields to a higher user min", fam: family.Qwen3VL, min: 1000, wantMin: 1000, wantMax: 1000, wantCtx: 1000 + defaultTextTokens},
		{name: "both set", fam: family.Qwen2VL, min: 16, max: 64, wantMin: 16, wantMax: 64, wantCtx: 64 + defaultTextTokens},
		{name: "both set, contradicting", fam: family.Qwen2VL, min: 65, max: 64, wantErrorHas: "image min tokens 65 is above image max tokens 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{ModelFile: "m.gguf", MmprojFile: "p.gguf", ImageMinTokens: tc.min, ImageMaxTokens: tc.max}
			if err := cfg.check(); err != nil {
				t.Fatal(err)
			}
			err := cfg.fill(tc.fam)
			if tc.wantErrorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrorHas) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErrorHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ImageMinTokens != tc.wantMin || cfg.ImageMaxTokens != tc.wantMax {
				t.Errorf("image tokens %d..%d, want %d..%d", cfg.ImageMinTokens, cfg.ImageMaxTokens, tc.wantMin, tc.wantMax)
			}
			if cfg.ContextSize != tc.wantCtx {
				t.Errorf("context size %d, want %d", cfg.ContextSize, tc.wantCtx)
			}
			if cfg.BatchSize < cfg.ImageMaxTokens {
				t.Errorf("batch size %d is under the image max tokens %d", cfg.BatchSize, cfg.ImageMaxTokens)
			}
		})
	}
}
