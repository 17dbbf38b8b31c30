package lora

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/family"
)

// Target is where the weight of one Hugging Face Qwen2-VL module lives in
// the GGUF files published for llama.cpp.
type Target struct {
	// Module is the Hugging Face module name within the base model, as PEFT
	// matches it against rank_pattern ("model.layers.0.self_attn.q_proj").
	Module string
	// Vision is true for the vision tower and merger, which live in the
	// mmproj file; false for the language model.
	Vision bool
	// Names are the GGUF weight tensors, one per part: the vision tower's
	// fused qkv is stored split into attn_q, attn_k and attn_v, so B's output
	// rows go in thirds to Names[0..2].
	Names []string
	// Fused is the single GGUF tensor a projector may hold instead of the
	// split Names (v.blk.N.attn_qkv.weight); empty for unfused modules.
	Fused string
	// Embedding is true for embed_tokens: PEFT stores its LoRA as
	// lora_embedding_A [r, vocab] and lora_embedding_B [dim, r], and llama.cpp
	// wants A transposed.
	Embedding bool
	// Deepstack is K for the K-th Qwen3-VL deepstack merger, whose GGUF
	// tensor v.deepstack.L.* is named by its vision layer L: Names holds a
	// placeholder that ResolveDeepstack replaces against the projector.
	Deepstack int
}

// deepstackPlaceholder starts a deepstack target's name until the
// projector says which vision layer it is.
const deepstackPlaceholder = "v.deepstack.?."

// resolveDeepstack names the K-th deepstack merger's tensor in a projector
// whose tensors are names: the K-th vision layer with v.deepstack tensors.
func resolveDeepstack(name string, k int, names []string) (string, bool) {
	rest, ok := strings.CutPrefix(name, deepstackPlaceholder)
	if !ok {
		return name, true
	}
	var layers []int
	seen := map[int]bool{}
	for _, n := range names {
		var l int
		var tail string
		if c, _ := fmt.Sscanf(n, "v.deepstack.%d.%s", &l, &tail); c == 2 && !seen[l] {
			seen[l] = true
			layers = append(layers, l)
		}
	}
	sort.Ints(layers)
	if k >= len(layers) {
		return name, false
	}
	return fmt.Sprintf("v.deepstack.%d.%s", layers[k], rest), true
}

// Naming is the scheme of the PEFT tensor names.
type Naming int

const (
	// NamingLegacy is transformers before 4.52: "model.layers.N…",
	// "visual.blocks.N…".
	NamingLegacy Naming = iota + 1
	// NamingNested is transformers 4.52 and later: "model.language_model.layers.N…",
	// "model.visual.blocks.N…".
	NamingNested
)

func (n Naming) String() string {
	switch n {
	case NamingLegacy:
		return "transformers < 4.52 (model.layers, visual)"
	case NamingNested:
		return "transformers >= 4.52 (model.language_model, model.visual)"
	}
	return "unknown"
}

var (
	reText = regexp.MustCompile(`^model\.(language_model\.)?layers\.(\d+)\.(self_attn|mlp)\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$`)
	reEmbd = regexp.MustCompile(`^model\.(language_model\.)?embed_tokens$`)
	reVis  = regexp.MustCompile(`^(model\.)?visual\.blocks\.(\d+)\.(` + alternatives(visionNames) + `)$`)
	reMrg  = regexp.MustCompile(`^(model\.)?visual\.(` + alternatives(mergerNames) + `)$`)
	// reDeep is a Qwen3-VL deepstack merger: the K-th of the vision layers
	// that feed the language model, whose GGUF name carries the layer.
	reDeep = regexp.MustCompile(`^(model\.)?visual\.deepstack_merger_list\.(\d+)\.linear_fc(1|2)$`)
)

// textNames are llama.cpp's names for the language model's linear layers
// (the same in every family).
var textNames = map[string]string{
	"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
	"gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}

// visionNames and mergerNames are the union of the families' maps
// (package family): Qwen2-VL's fc1/fc2, Qwen2.5-VL's gate/up/down and
// Qwen3-VL's linear_fc1/linear_fc2 do not collide. "attn.qkv" is handled
// apart: split into attn_q, attn_k, attn_v or fused, as the projector
// holds it.
var visionNames, mergerNames = func() (v, m map[string]string) {
	v, m = map[string]string{"attn.qkv": ""}, map[string]string{}
	for _, f := range family.All() {
		for k, n := range f.PEFT.Vision {
			if old, ok := v[k]; ok && old != n && k != "attn.qkv" {
				panic("lora: families map " + k + " differently")
			}
			v[k] = n
		}
		for k, n := range f.PEFT.Merger {
			m[k] = n
		}
	}
	return v, m
}()

func alternatives(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, regexp.QuoteMeta(k))
	}
	sort.Strings(keys)
	return strings.Join(keys, "|")
}

// MapModule maps a Qwen2-VL module name in either naming scheme to its GGUF
// target. ok is false for modules llama.cpp's files have no place for.
func MapModule(module string) (t Target, naming Naming, ok bool) {
	naming = NamingLegacy
	if m := reText.FindStringSubmatch(module); m != nil {
		if m[1] != "" {
			naming = NamingNested
		}
		return Target{Module: module, Names: []string{fmt.Sprintf("blk.%s.%s.weight", m[2], textNames[m[4]])}}, naming, true
	}
	if m := reEmbd.FindStringSubmatch(module); m != nil {
		if m[1] != "" {
			naming = NamingNested
		}
		return Target{Module: module, Names: []string{"token_embd.weight"}, Embedding: true}, naming, true
	}
	if module == "lm_head" {
		return Target{Module: module, Names: []string{"output.weight"}}, 0, true
	}
	if m := reVis.FindStringSubmatch(module); m != nil {
		if m[1] != "" {
			naming = NamingNested
		}
		n := m[2]
		if m[3] == "attn.qkv" {
			return Target{
				Module: module, Vision: true,
				Names: []string{
					"v.blk." + n + ".attn_q.weight",
					"v.blk." + n + ".attn_k.weight",
					"v.blk." + n + ".attn_v.weight",
				},
				Fused: "v.blk." + n + ".attn_qkv.weight",
			}, naming, true
		}
		return Target{Module: module, Vision: true, Names: []string{"v.blk." + n + "." + visionNames[m[3]] + ".weight"}}, naming, true
	}
	if m := reMrg.FindStringSubmatch(module); m != nil {
		if m[1] != "" {
			naming = NamingNested
		}
		return Target{Module: module, Vision: true, Names: []string{mergerNames[m[2]] + ".weight"}}, naming, true
	}
	if m := reDeep.FindStringSubmatch(module); m != nil {
		if m[1] != "" {
			naming = NamingNested
		}
		k, _ := strconv.Atoi(m[2])
		return Target{Module: module, Vision: true, Deepstack: k, Names: []string{deepstackPlaceholder + "fc" + m[3] + ".weight"}}, naming, true
	}
	return Target{}, 0, false
}
