package openaiclient

import (
	"math"
	"sort"
	"strings"
)

// ImageRule is how a model counts an image's prompt tokens (OpenAI vision
// guide, "calculating costs"). Two kinds exist:
//
//   - "tiles": Base tokens for low detail; for high and auto the image is
//     fitted within 2048×2048, its short side scaled to 768, and it costs
//     Base + Tile per 512×512 tile;
//   - "patches": one token per 32×32 patch, at most MaxPatches (default
//     1536) after scaling down, times Multiplier (default 1); low detail
//     counts the same.
type ImageRule struct {
	Kind       string  `json:"kind" yaml:"kind"`
	Base       int     `json:"base,omitempty" yaml:"base,omitempty"`
	Tile       int     `json:"tile,omitempty" yaml:"tile,omitempty"`
	Multiplier float64 `json:"multiplier,omitempty" yaml:"multiplier,omitempty"`
	MaxPatches int     `json:"max_patches,omitempty" yaml:"max_patches,omitempty"`
}

// Kinds of ImageRule.
const (
	ImageTiles   = "tiles"
	ImagePatches = "patches"
)

// Tokens is the prompt tokens of a w×h image at detail under the rule.
func (r ImageRule) Tokens(detail string, w, h int) int {
	if r.Kind == ImagePatches {
		limit := float64(r.MaxPatches)
		if limit <= 0 {
			limit = 1536
		}
		pw, ph := math.Ceil(float64(w)/32), math.Ceil(float64(h)/32)
		if pw*ph > limit {
			shrink := math.Sqrt(limit * 32 * 32 / (float64(w) * float64(h)))
			fw, fh := float64(w)*shrink, float64(h)*shrink
			// Scale again so the patch grid fits whole patches.
			fw *= math.Floor(fw/32) / (fw / 32)
			fh *= math.Floor(fh/32) / (fh / 32)
			pw, ph = math.Ceil(fw/32), math.Ceil(fh/32)
		}
		n := math.Min(pw*ph, limit)
		if r.Multiplier > 0 {
			n *= r.Multiplier
		}
		return int(math.Ceil(n))
	}
	base, tile := r.Base, r.Tile
	if base == 0 && tile == 0 {
		base, tile = 85, 170
	}
	if detail == DetailLow {
		return base
	}
	tw, th := TargetSize(DetailHigh, w, h)
	tiles := int(math.Ceil(float64(tw)/512) * math.Ceil(float64(th)/512))
	return base + tile*tiles
}

// ModelInfo is what vlmcmp knows of a chat model: what it accepts, how it
// counts image tokens and what it costs.
type ModelInfo struct {
	// Vision: the model takes images in chat.
	Vision bool `json:"vision" yaml:"vision"`
	// Structured: the model takes a strict json_schema response format.
	Structured bool `json:"structured" yaml:"structured"`
	// Reasoning: an o-series or gpt-5-family model. It takes
	// max_completion_tokens only, and temperature and top_p only at their
	// default (1), so they are left out; its completion tokens include the
	// hidden reasoning, so it gets a larger default answer budget.
	Reasoning bool `json:"reasoning" yaml:"reasoning"`
	// ReasoningEffort is sent as reasoning_effort for a reasoning model
	// (minimal, low, medium, high); empty sends none (the API's default).
	ReasoningEffort string `json:"reasoning_effort,omitempty" yaml:"reasoning_effort,omitempty"`
	// FineTuneImages: the base model accepts images in fine-tuning data.
	FineTuneImages bool `json:"fine_tune_images,omitempty" yaml:"fine_tune_images,omitempty"`
	// ImageTokens is the image-token rule; empty means tiles 85/170.
	ImageTokens ImageRule `json:"image_tokens" yaml:"image_tokens"`
	// Price is in USD per million tokens; zero means unknown.
	Price Price `json:"price" yaml:"price"`
	// Like names the entry whose image rule and price an entry that leaves
	// them out takes (for a new name of a known model, in vlmcmp.yaml).
	Like string `json:"like,omitempty" yaml:"like,omitempty"`
}

// Models maps model names to what vlmcmp knows of them. Names are looked
// up as prices are ([Models.Lookup]).
type Models map[string]ModelInfo

var (
	tiles4o     = ImageRule{Kind: ImageTiles, Base: 85, Tile: 170}
	tiles4oMini = ImageRule{Kind: ImageTiles, Base: 2833, Tile: 5667}
	tilesO      = ImageRule{Kind: ImageTiles, Base: 75, Tile: 150}
	tiles5      = ImageRule{Kind: ImageTiles, Base: 70, Tile: 140}
)

func patches(mult float64) ImageRule {
	return ImageRule{Kind: ImagePatches, Multiplier: mult, MaxPatches: 1536}
}

// DefaultModels is the built-in table: OpenAI's published capabilities,
// image-token rules and standard-tier prices of the models vlmcmp is used
// with, as they stood when it was written. Prices change: override them
// with [MergeModels] (vlmcmp.yaml) or a prices file ([LoadPrices]).
//
// Images in fine-tuning data are marked only for gpt-4o-2024-08-06, the
// model OpenAI's vision fine-tuning guide documents; give others
// fine_tune_images: true in the table when your account's docs say so.
//
// gpt-4.1 (the full model) is billed by 512-pixel tiles like gpt-4o, while
// gpt-4.1-mini, gpt-4.1-nano and o4-mini are billed by 32-pixel patches
// times a multiplier. Usage reported by the API on OpenAI's developer forum
// agrees: a 1024×1024 image costs gpt-4.1 the same ~770 prompt tokens as
// gpt-4o (85 + 4×170 plus the text), not the 1024 a patch rule would give,
// and 1536 × 1.62 for gpt-4.1-mini at its cap.
func DefaultModels() Models {
	m := Models{
		"gpt-4o":            {Vision: true, Structured: true, ImageTokens: tiles4o, Price: Price{Input: 2.50, Output: 10.00, Training: 25.00}},
		"gpt-4o-2024-08-06": {Vision: true, Structured: true, FineTuneImages: true, ImageTokens: tiles4o, Price: Price{Input: 2.50, Output: 10.00, Training: 25.00}},
		"gpt-4o-2024-05-13": {Vision: true, ImageTokens: tiles4o, Price: Price{Input: 5.00, Output: 15.00}},
		"gpt-4o-mini":       {Vision: true, Structured: true, ImageTokens: tiles4oMini, Price: Price{Input: 0.15, Output: 0.60, Training: 3.00}},
		"gpt-4-turbo":       {Vision: true, ImageTokens: tiles4o, Price: Price{Input: 10.00, Output: 30.00}},
		"gpt-4.1":           {Vision: true, Structured: true, ImageTokens: tiles4o, Price: Price{Input: 2.00, Output: 8.00, Training: 25.00}},
		"gpt-4.1-mini":      {Vision: true, Structured: true, ImageTokens: patches(1.62), Price: Price{Input: 0.40, Output: 1.60, Training: 5.00}},
		"gpt-4.1-nano":      {Vision: true, Structured: true, ImageTokens: patches(2.46), Price: Price{Input: 0.10, Output: 0.40, Training: 1.50}},
		"gpt-5":             {Vision: true, Structured: true, Reasoning: true, ReasoningEffort: "minimal", ImageTokens: tiles5, Price: Price{Input: 1.25, Output: 10.00}},
		"gpt-5-mini":        {Vision: true, Structured: true, Reasoning: true, ReasoningEffort: "minimal", ImageTokens: patches(1.62), Price: Price{Input: 0.25, Output: 2.00}},
		"gpt-5-nano":        {Vision: true, Structured: true, Reasoning: true, ReasoningEffort: "minimal", ImageTokens: patches(2.46), Price: Price{Input: 0.05, Output: 0.40}},
		"o1":                {Vision: true, Structured: true, Reasoning: true, ReasoningEffort: "low", ImageTokens: tilesO, Price: Price{Input: 15.00, Output: 60.00}},
		"o3":                {Vision: true, Structured: true, Reasoning: true, ReasoningEffort: "low", ImageTokens: tilesO, Price: Price{Input: 2.00, Output: 8.00}},
		"o3-mini":           {Structured: true, Reasoning: true, ReasoningEffort: "low", Price: Price{Input: 1.10, Output: 4.40}},
		"o4-mini":           {Vision: true, Structured: true, Reasoning: true, ReasoningEffort: "low", ImageTokens: patches(1.72), Price: Price{Input: 1.10, Output: 4.40}},
	}
	// Fine-tuned models answer like their base at their own prices.
	for base, pr := range map[string]Price{
		"gpt-4o":       {Input: 3.75, Output: 15.00},
		"gpt-4o-mini":  {Input: 0.30, Output: 1.20},
		"gpt-4.1":      {Input: 3.00, Output: 12.00},
		"gpt-4.1-mini": {Input: 0.80, Output: 3.20},
		"gpt-4.1-nano": {Input: 0.20, Output: 0.80},
	} {
		ft := m[base]
		ft.Price, ft.FineTuneImages = pr, false
		m["ft:"+base] = ft
	}
	return m
}

// MergeModels returns base with over's entries added or replacing base's
// entries of the same name. An entry that leaves out its image rule or
// price (all zero) takes them from the entry its Like names, else from
// base's entry of the same name. Neither map is changed.
func MergeModels(base, over Models) Models {
	out := make(Models, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		from, ok := base[k]
		if v.Like != "" {
			from, ok = out.Lookup(v.Like)
		}
		if ok {
			if v.ImageTokens == (ImageRule{}) {
				v.ImageTokens = from.ImageTokens
			}
			if v.Price == (Price{}) {
				v.Price = from.Price
			}
		}
		out[k] = v
	}
	return out
}

// Lookup finds what is known of model: the exact name, then for
// "ft:BASE:..." names "ft:BASE", then without a date suffix, then the
// longest known name model starts with followed by "-". ok is false when
// nothing matches.
func (m Models) Lookup(model string) (ModelInfo, bool) {
	if mi, ok := m[model]; ok {
		return mi, true
	}
	name, prefix := model, ""
	if rest, ok := strings.CutPrefix(model, "ft:"); ok {
		base, _, _ := strings.Cut(rest, ":")
		if mi, ok := m["ft:"+base]; ok {
			return mi, true
		}
		name, prefix = base, "ft:"
	}
	if mi, ok := m[prefix+dateSuffix.ReplaceAllString(name, "")]; ok {
		return mi, true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return len(keys[i]) > len(keys[j]) || len(keys[i]) == len(keys[j]) && keys[i] < keys[j]
	})
	for _, k := range keys {
		if strings.HasPrefix(prefix+name, k+"-") {
			return m[k], true
		}
	}
	if prefix != "" {
		// A fine-tuned model of a base known only without "ft:".
		if mi, ok := m.Lookup(name); ok {
			return mi, true
		}
	}
	return ModelInfo{}, false
}

// Info is what is known of model, with a guess for names the table lacks:
// OpenAI's reasoning families (o1, o3, o4, gpt-5 and their versions) are
// reasoning models; anything else (a model on an OpenAI-compatible server)
// is taken to see images, take a json_schema, and count image tokens as
// GPT-4o does.
func (m Models) Info(model string) ModelInfo {
	if mi, ok := m.Lookup(model); ok {
		return mi
	}
	name := strings.TrimPrefix(model, "ft:")
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	mi := ModelInfo{Vision: true, Structured: true, ImageTokens: tiles4o}
	for _, fam := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(name, fam) {
			mi.Reasoning = true
		}
	}
	return mi
}

// Prices is the table's prices, for the models with one.
func (m Models) Prices() Prices {
	p := Prices{}
	for k, v := range m {
		if v.Price != (Price{}) {
			p[k] = v.Price
		}
	}
	return p
}
