package family

import "fmt"

// Qwen3VL is Qwen3-VL (2B, 4B, 8B, 32B dense): a Qwen3 language model
// (q/k RMS norms, no attention biases, head width stored apart from the
// embedding width) whose first layers also take "deepstack" features from
// intermediate vision layers, and a ViT with 16-pixel patches, a patch
// bias, learnt position embeddings and a fused qkv.
var Qwen3VL = register(&Family{
	Name:      "qwen3vl",
	Title:     "Qwen3-VL",
	Arch:      "qwen3vl",
	Projector: "qwen3vl_merger",
	Patch:     16, Merge: 2,
	// Qwen/Qwen3-VL-*-Instruct preprocessor_config.json (a fast
	// processor's dump, the pixel bounds under "size"): shortest_edge
	// 65536 (256×256, 64 tokens of 32×32) and longest_edge 16777216
	// (4096×4096, 16384 tokens), patch_size 16, merge_size 2.
	MinPixels: 65536, MaxPixels: 16777216,
	ImageMean:    [3]float32{0.5, 0.5, 0.5},
	ImageStd:     [3]float32{0.5, 0.5, 0.5},
	ChatTemplate: qwen3Template,
	LLMKeys: append(append([]string(nil), qwen2LLMKeys...),
		"attention.key_length", "attention.value_length", "n_deepstack_layers"),
	// gelu_pytorch_tanh is ggml's GELU.
	VisionKeys:    map[string]string{"clip.use_gelu": "bool"},
	LLMTensors:    qwen3LLM,
	VisionTensors: qwen3Vision,
	PEFT: PEFTMap{
		Text:     textPEFT,
		Vision:   map[string]string{"attn.proj": "attn_out", "mlp.linear_fc1": "ffn_up", "mlp.linear_fc2": "ffn_down"},
		FusedQKV: true,
		// Deepstack mergers (deepstack_merger_list.K.linear_fc1/2) go to
		// v.deepstack.L.fc1/fc2, L the K-th deepstack vision layer.
		Merger: map[string]string{"merger.linear_fc1": "mm.0", "merger.linear_fc2": "mm.2"},
	},
})

func qwen3LLM(d LLM) []Tensor { return llmCommon(d, false, true) }

// qwen3Vision: the merger's LayerNorm is stored as v.post_ln; each
// deepstack merger (one per deepstack layer, numbered by its vision layer)
// is a LayerNorm over the 2x2-merged features and a two-layer GELU MLP.
func qwen3Vision(d Vision) []Tensor {
	e := d.Embd
	ts := []Tensor{
		conv("v.patch_embd.weight", d.Patch, e), conv("v.patch_embd.weight.1", d.Patch, e),
		bias("v.patch_embd.bias", e),
		{Name: "v.position_embd.weight", Shape: []int64{e, d.Positions}, Kind: Embed},
	}
	for i := range d.Layers {
		b := fmt.Sprintf("v.blk.%d.", i)
		ts = append(ts,
			norm(b+"ln1.weight", e), bias(b+"ln1.bias", e),
			mat(b+"attn_qkv.weight", e, 3*e), bias(b+"attn_qkv.bias", 3*e),
			mat(b+"attn_out.weight", e, e), bias(b+"attn_out.bias", e),
			norm(b+"ln2.weight", e), bias(b+"ln2.bias", e),
			mat(b+"ffn_up.weight", e, d.FF), bias(b+"ffn_up.bias", d.FF),
			mat(b+"ffn_down.weight", d.FF, e), bias(b+"ffn_down.bias", e))
	}
	for _, l := range d.Deepstack {
		b := fmt.Sprintf("v.deepstack.%d.", l)
		ts = append(ts,
			norm(b+"norm.weight", 4*e), bias(b+"norm.bias", 4*e),
			mat(b+"fc1.weight", 4*e, 4*e), bias(b+"fc1.bias", 4*e),
			mat(b+"fc2.weight", 4*e, d.Out), bias(b+"fc2.bias", d.Out))
	}
	return append(ts,
		norm("v.post_ln.weight", e), bias("v.post_ln.bias", e),
		mat("mm.0.weight", 4*e, 4*e), bias("mm.0.bias", 4*e),
		mat("mm.2.weight", 4*e, d.Out), bias("mm.2.bias", d.Out))
}

// qwen3Template follows the published Qwen3-VL Instruct template for
// system, user and assistant messages (tool calls left out): no default
// system prompt, a system message's text parts joined, and an image part
// as <|vision_start|><|image_pad|><|vision_end|>.
const qwen3Template = `{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\n' }}` +
	`{%- if messages[0].content is string %}{{- messages[0].content }}` +
	`{%- else %}{%- for content in messages[0].content %}{%- if 'text' in content %}{{- content.text }}{%- endif %}{%- endfor %}{%- endif %}` +
	`{{- '<|im_end|>\n' }}{%- endif %}` +
	`{%- set image_count = namespace(value=0) %}{%- set video_count = namespace(value=0) %}` +
	`{%- for message in messages %}` +
	`{%- if message.role == 'user' or message.role == 'assistant' %}` +
	`{{- '<|im_start|>' + message.role + '\n' }}` +
	`{%- if message.content is string %}{{- message.content }}` +
	`{%- else %}{%- for content in message.content %}` +
	`{%- if content.type == 'image' or 'image' in content or 'image_url' in content %}` +
	`{%- set image_count.value = image_count.value + 1 %}{%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}` +
	`<|vision_start|><|image_pad|><|vision_end|>` +
	`{%- elif content.type == 'video' or 'video' in content %}` +
	`{%- set video_count.value = video_count.value + 1 %}{%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}` +
	`<|vision_start|><|video_pad|><|vision_end|>` +
	`{%- elif 'text' in content %}{{- content.text }}{%- endif %}{%- endfor %}{%- endif %}` +
	`{{- '<|im_end|>\n' }}{%- endif %}{%- endfor %}` +
	`{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}`
