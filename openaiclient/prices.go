package openaiclient

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 `json:"input" yaml:"input"`
	Output float64 `json:"output" yaml:"output"`
	// Training is the fine-tuning price per million training tokens, for
	// base models that can be fine-tuned.
	Training float64 `json:"training,omitempty" yaml:"training,omitempty"`
}

// Prices maps model names to prices. A fine-tuned model is priced under
// "ft:" + its base model ("ft:gpt-4o-mini"); dated names fall back to the
// undated one ("gpt-4o-2024-08-06" to "gpt-4o").
type Prices map[string]Price

// DefaultPrices are the prices of [DefaultModels]: OpenAI's published
// standard-tier prices for the models vlmcmp uses, as they stood when the
// table was written (USD per 1M tokens). They change: override them with a
// prices file ([LoadPrices]) or the model table.
func DefaultPrices() Prices {
	return DefaultModels().Prices()
}

// LoadPrices reads a YAML or JSON file mapping model names to
// {input, output, training} and returns the defaults overridden by it.
func LoadPrices(path string) (Prices, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	var m map[string]Price
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("prices %s: %w", path, err)
	}
	p := DefaultPrices()
	for k, v := range m {
		if v.Input < 0 || v.Output < 0 || v.Training < 0 {
			return nil, fmt.Errorf("prices %s: %s: negative price", path, k)
		}
		p[k] = v
	}
	return p, nil
}

var dateSuffix = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}$`)

// Lookup finds the price of model: the exact name, then for "ft:BASE:..."
// names "ft:BASE", then without a date suffix, then the longest known name
// model starts with.
func (p Prices) Lookup(model string) (Price, bool) {
	if pr, ok := p[model]; ok {
		return pr, true
	}
	name := model
	prefix := ""
	if rest, ok := strings.CutPrefix(model, "ft:"); ok {
		base, _, _ := strings.Cut(rest, ":")
		if pr, ok := p["ft:"+base]; ok {
			return pr, true
		}
		name, prefix = base, "ft:"
	}
	if pr, ok := p[prefix+dateSuffix.ReplaceAllString(name, "")]; ok {
		return pr, true
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		if strings.HasPrefix(prefix+name, k+"-") {
			return p[k], true
		}
	}
	return Price{}, false
}

// Cost prices usage for model; 0 when the model is not in the table.
func (p Prices) Cost(model string, u llm.Usage) float64 {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0
	}
	return (float64(u.PromptTokens)*pr.Input + float64(u.CompletionTokens)*pr.Output) / 1e6
}
