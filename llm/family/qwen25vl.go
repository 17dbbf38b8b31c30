package family

// Qwen25VL is Qwen2.5-VL (3B, 7B, 32B, 72B): the qwen2vl language model
// with a vision tower of RMSNorm, a gated SiLU MLP and window attention
// (full attention every n_wa_pattern-th block).
var Qwen25VL = register(&Family{
	Name:      "qwen2.5vl",
	Title:     "Qwen2.5-VL",
	Arch:      "qwen2vl",
	Projector: "qwen2.5vl_merger",
	Patch:     14, Merge: 2,
	// Qwen/Qwen2.5-VL-*-Instruct preprocessor_config.json: the same
	// min_pixels 3136 and max_pixels 12845056 as Qwen2-VL.
	MinPixels: 3136, MaxPixels: 12845056,
	ImageMean:    clipMean,
	ImageStd:     clipStd,
	ChatTemplate: qwen2Template,
	LLMKeys:      qwen2LLMKeys,
	// llama.cpp requires n_wa_pattern for this projector type only; the
	// MLP is SiLU (Hugging Face hidden_act "silu").
	VisionKeys:    map[string]string{"clip.vision.n_wa_pattern": "u32", "clip.use_silu": "bool"},
	LLMTensors:    qwen2LLM,
	VisionTensors: func(d Vision) []Tensor { return qwen2Vision(d, true) },
	PEFT: PEFTMap{
		Text: textPEFT,
		Vision: map[string]string{"attn.proj": "attn_out",
			"mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"},
		Merger: map[string]string{"merger.mlp.0": "mm.0", "merger.mlp.2": "mm.2"},
	},
})
