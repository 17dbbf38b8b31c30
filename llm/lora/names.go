package lora

import (
	"fmt"
	"regexp"
	"strconv"
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
	reVis  = regexp.MustCompile(`^(model\.)?visual\.blocks\.(\d+)\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2|mlp\.gate_proj|mlp\.up_proj|mlp\.down_proj)$`)
	reMrg  = regexp.MustCompile(`^(model\.)?visual\.merger\.mlp\.(0|2)$`)
)

// textNames are llama.cpp's names for the language model's linear layers.
var textNames = map[string]string{
	"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
	"gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}

// visionNames are the projector's names for a vision block's linear layers
// (clip-impl.h; Qwen2-VL's fc1/fc2 are its MLP's up and down, Qwen2.5-VL's
// gated MLP has gate/up/down).
var visionNames = map[string]string{
	"attn.proj": "attn_out", "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down",
	"mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
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
		i, _ := strconv.Atoi(m[2])
		return Target{Module: module, Vision: true, Names: []string{fmt.Sprintf("mm.%d.weight", i)}}, naming, true
	}
	return Target{}, 0, false
}
