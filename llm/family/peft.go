package family

// PEFTMap says where the weight of each Hugging Face module a PEFT adapter
// may target lives in the GGUF files. Module names are given relative to a
// layer or block; the naming scheme's prefix ("model.layers.N." or
// "model.language_model.layers.N.", "visual.blocks.N." or
// "model.visual.blocks.N.") is the caller's.
type PEFTMap struct {
	// Text maps a language model layer's modules to GGUF names
	// ("self_attn.q_proj" to "attn_q").
	Text map[string]string
	// Vision maps a vision block's modules ("attn.proj" to "attn_out").
	// "attn.qkv" is special: see FusedQKV.
	Vision map[string]string
	// FusedQKV is true when the projector stores the vision attention's
	// qkv as one tensor attn_qkv; false when llama.cpp's files split it
	// into attn_q, attn_k and attn_v.
	FusedQKV bool
	// Merger maps the merger's modules, relative to "visual.", to GGUF
	// tensor base names ("merger.mlp.0" to "mm.0").
	Merger map[string]string
}

// textPEFT is the language model map every Qwen family shares.
var textPEFT = map[string]string{
	"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
	"self_attn.o_proj": "attn_output",
	"mlp.gate_proj":    "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}
