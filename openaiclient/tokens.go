package openaiclient

import (
	"math"
	"strings"
)

// EstimateTextTokens estimates the tokens of s without a tokenizer: one
// token per 4 bytes, rounded up (OpenAI's rule of thumb for English text).
// It is an estimate; the API's usage is the truth.
func EstimateTextTokens(s string) int {
	return (len(s) + 3) / 4
}

// MessageOverhead is the estimated tokens each chat message adds for its
// role and delimiters; ReplyOverhead those that prime the reply.
const (
	MessageOverhead = 4
	ReplyOverhead   = 3
)

// EstimateImageTokens is the prompt tokens of a w×h image at a detail level
// for model, by OpenAI's published formulas:
//
//   - GPT-4o, GPT-4-turbo and older: 85 tokens for low detail; otherwise the
//     image is fitted within 2048×2048, its short side scaled to 768, and it
//     costs 85 + 170 per 512×512 tile;
//   - GPT-4o-mini: the same tiles at 2833 base + 5667 per tile (priced so
//     that an image costs the same as on GPT-4o);
//   - GPT-4.1 family: one token per 32×32 patch, at most 1536 patches, times
//     1.62 for mini and 2.46 for nano; low detail is treated the same.
func EstimateImageTokens(model, detail string, w, h int) int {
	m := strings.TrimPrefix(model, "ft:")
	if strings.HasPrefix(m, "gpt-4.1") {
		pw, ph := math.Ceil(float64(w)/32), math.Ceil(float64(h)/32)
		if pw*ph > 1536 {
			shrink := math.Sqrt(1536 * 32 * 32 / (float64(w) * float64(h)))
			fw, fh := float64(w)*shrink, float64(h)*shrink
			// Scale again so the patch grid fits whole patches.
			fw *= math.Floor(fw/32) / (fw / 32)
			fh *= math.Floor(fh/32) / (fh / 32)
			pw, ph = math.Ceil(fw/32), math.Ceil(fh/32)
		}
		n := math.Min(pw*ph, 1536)
		switch {
		case strings.HasPrefix(m, "gpt-4.1-mini"):
			n *= 1.62
		case strings.HasPrefix(m, "gpt-4.1-nano"):
			n *= 2.46
		}
		return int(math.Ceil(n))
	}
	base, tile := 85, 170
	if strings.HasPrefix(m, "gpt-4o-mini") {
		base, tile = 2833, 5667
	}
	if detail == DetailLow {
		return base
	}
	tw, th := TargetSize(DetailHigh, w, h)
	tiles := int(math.Ceil(float64(tw)/512) * math.Ceil(float64(th)/512))
	return base + tile*tiles
}
