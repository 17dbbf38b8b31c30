package anthropicclient

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Price is what a model costs, in US dollars per million tokens, at the
// standard tier (no batch discount, no prompt caching).
type Price struct {
	Input  float64 `json:"input" yaml:"input"`
	Output float64 `json:"output" yaml:"output"`
	// LongAbove, when above 0, is the prompt length in tokens over which a
	// request is billed at LongInput and LongOutput instead, on every token
	// of that request (Claude Haiku 5.5 is priced this way).
	LongAbove  int     `json:"long_above,omitempty" yaml:"long_above,omitempty"`
	LongInput  float64 `json:"long_input,omitempty" yaml:"long_input,omitempty"`
	LongOutput float64 `json:"long_output,omitempty" yaml:"long_output,omitempty"`
}

// Cost prices usage.
func (p Price) Cost(u llm.Usage) float64 {
	in, out := p.Input, p.Output
	if p.LongAbove > 0 && u.PromptTokens > p.LongAbove {
		in, out = p.LongInput, p.LongOutput
	}
	return (float64(u.PromptTokens)*in + float64(u.CompletionTokens)*out) / 1e6
}

// ModelInfo is what vlmcmp knows of a Claude model.
type ModelInfo struct {
	// Vision: the model takes images. A model without it is refused
	// before anything is sent.
	Vision bool `json:"vision" yaml:"vision"`
	// Thinking: the model always thinks before it answers (adaptive
	// thinking that cannot be turned off), and its thinking is billed as
	// output tokens within max_tokens, so it gets a larger default answer
	// budget.
	Thinking bool `json:"thinking,omitempty" yaml:"thinking,omitempty"`
	// Price is in USD per million tokens; zero means unknown.
	Price Price `json:"price" yaml:"price"`
	// Like names the entry whose price and capabilities an entry that leaves
	// out its price takes (a new alias of a known model, in vlmcmp.yaml).
	Like string `json:"like,omitempty" yaml:"like,omitempty"`
}

// Models maps Claude API model IDs to what vlmcmp knows of them. Names are
// looked up with [Models.Lookup].
type Models map[string]ModelInfo

// DefaultModels is the built-in table: the Claude models of the Claude API
// as anthropic-sdk-go v2.18.0 lists them (plus Claude Sonnet 4.5), with the
// standard-tier input and output prices of Anthropic's pricing and models
// pages as they stood in December 2026. Every current Claude model takes
// text and images; the retired Claude 2 models were text-only and stay in
// the table as such, so that a configuration naming one is refused before
// any request. Prices change: override entries with [MergeModels] (the
// model table of vlmcmp.yaml).
func DefaultModels() Models {
	opus45 := ModelInfo{Vision: true, Price: Price{Input: 5, Output: 25}}
	opus4 := ModelInfo{Vision: true, Price: Price{Input: 15, Output: 75}}
	sonnet4 := ModelInfo{Vision: true, Price: Price{Input: 3, Output: 15}}
	fable := ModelInfo{Vision: true, Thinking: true, Price: Price{Input: 10, Output: 50}}
	return Models{
		"claude-fable-5-2":   {Vision: true, Thinking: true, Price: Price{Input: 8, Output: 40}},
		"claude-mythos-5-2":  {Vision: true, Thinking: true, Price: Price{Input: 8, Output: 40}},
		"claude-fable-5-1":   fable,
		"claude-mythos-5-1":  fable,
		"claude-fable-5":     {Vision: true, Price: Price{Input: 10, Output: 50}},
		"claude-mythos-5":    {Vision: true, Price: Price{Input: 10, Output: 50}},
		"claude-opus-5-5":    {Vision: true, Thinking: true, Price: Price{Input: 4, Output: 20}},
		"claude-opus-5":      opus45,
		"claude-opus-4-8":    opus45,
		"claude-opus-4-7":    opus45,
		"claude-opus-4-6":    opus45,
		"claude-opus-4-5":    opus45,
		"claude-opus-4-1":    opus4,
		"claude-opus-4-0":    opus4,
		"claude-sonnet-5-5":  {Vision: true, Price: Price{Input: 2, Output: 10}},
		"claude-sonnet-5":    {Vision: true, Price: Price{Input: 2, Output: 10}},
		"claude-sonnet-4-6":  sonnet4,
		"claude-sonnet-4-5":  sonnet4,
		"claude-sonnet-4-0":  sonnet4,
		"claude-haiku-5-5":   {Vision: true, Price: Price{Input: 0.10, Output: 0.50, LongAbove: 100_000, LongInput: 0.50, LongOutput: 2.50}},
		"claude-haiku-4-5":   {Vision: true, Price: Price{Input: 1, Output: 5}},
		"claude-2.1":         {Price: Price{Input: 8, Output: 24}},
		"claude-2.0":         {Price: Price{Input: 8, Output: 24}},
		"claude-instant-1.2": {Price: Price{Input: 0.80, Output: 2.40}},
	}
}

// MergeModels returns base with over's entries added or replacing base's
// entries of the same name. An entry that leaves out its price (all zero)
// takes it, and Thinking, from the entry its Like names, else from base's
// entry of the same name. Neither map is changed.
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
		if ok && v.Price == (Price{}) {
			v.Price = from.Price
			v.Thinking = v.Thinking || from.Thinking
		}
		out[k] = v
	}
	return out
}

// dated matches the snapshot suffix of a model ID: claude-haiku-4-5-20251001.
var dated = regexp.MustCompile(`-\d{8}$`)

// aliasOf maps the short aliases of the Claude 4 models to their table
// names.
var aliasOf = map[string]string{"claude-opus-4": "claude-opus-4-0", "claude-sonnet-4": "claude-sonnet-4-0"}

// Lookup finds what is known of model: the exact ID, then without a dated
// snapshot suffix ("claude-opus-4-5-20251101" is "claude-opus-4-5"), then
// the short alias of a Claude 4 model. Prefixes are not guessed, so that
// "claude-sonnet-5-5-…" can never land on "claude-sonnet-5". ok is false
// when nothing matches.
func (m Models) Lookup(model string) (ModelInfo, bool) {
	if mi, ok := m[model]; ok {
		return mi, true
	}
	name := dated.ReplaceAllString(model, "")
	if mi, ok := m[name]; ok {
		return mi, true
	}
	if a, ok := aliasOf[name]; ok {
		mi, ok := m[a]
		return mi, ok
	}
	return ModelInfo{}, false
}

// Cost prices usage for model; 0 when the model has no price.
func (m Models) Cost(model string, u llm.Usage) float64 {
	mi, ok := m.Lookup(model)
	if !ok {
		return 0
	}
	return mi.Price.Cost(u)
}

// Names are the table's model IDs, sorted.
func (m Models) Names() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Check reports the first entry with a negative price, or a Like naming
// no entry.
func (m Models) Check() error {
	for _, k := range m.Names() {
		v := m[k]
		p := v.Price
		if p.Input < 0 || p.Output < 0 || p.LongInput < 0 || p.LongOutput < 0 || p.LongAbove < 0 {
			return fmt.Errorf("anthropic model table: %s has a negative price", k)
		}
		if v.Like != "" {
			if _, ok := m.Lookup(v.Like); !ok {
				return fmt.Errorf("anthropic model table: %s is like %s, which the table lacks", k, v.Like)
			}
		}
	}
	return nil
}

// visionModels lists the vision models of m, for error messages.
func (m Models) visionModels() string {
	var names []string
	for _, k := range m.Names() {
		if m[k].Vision {
			names = append(names, k)
		}
	}
	return strings.Join(names, ", ")
}
