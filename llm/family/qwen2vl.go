package family

import "fmt"

// Qwen2VL is Qwen2-VL (2B, 7B): a ViT with LayerNorm and a GELU MLP,
// 14-pixel patches, merged 2x2 into one token.
var Qwen2VL = register(&Family{
	Name:      "qwen2vl",
	Title:     "Qwen2-VL",
	Arch:      "qwen2vl",
	Projector: "qwen2vl_merger",
	Patch:     14, Merge: 2,
	// Qwen/Qwen2-VL-*-Instruct preprocessor_config.json: min_pixels 3136
	// (56×56, 4 tokens), max_pixels 12845056 (28×28×16384: 16384 tokens).
	// The model card's 1280×28×28 is a suggested override, not the default.
	MinPixels: 3136, MaxPixels: 12845056,
	ImageMean:    clipMean,
	ImageStd:     clipStd,
	ChatTemplate: qwen2Template,
	LLMKeys:      qwen2LLMKeys,
	VisionKeys:   map[string]string{},
	LLMTensors:   qwen2LLM,
	VisionTensors: func(d Vision) []Tensor {
		return qwen2Vision(d, false)
	},
	PEFT: PEFTMap{
		Text:   textPEFT,
		Vision: map[string]string{"attn.proj": "attn_out", "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down"},
		Merger: map[string]string{"merger.mlp.0": "mm.0", "merger.mlp.2": "mm.2"},
	},
})

// OpenAI CLIP's image normalisation, which Qwen2-VL and Qwen2.5-VL use.
var (
	clipMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// qwen2LLMKeys are read by llama.cpp for the qwen2vl architecture.
var qwen2LLMKeys = []string{"context_length", "embedding_length", "block_count", "feed_forward_length",
	"attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "rope.dimension_sections"}

// qwen2LLM: the loader takes the q/k/v biases as optional, but the qwen2vl
// graph adds them unconditionally and crashes without them, so they are
// required here.
func qwen2LLM(d LLM) []Tensor { return llmCommon(d, true, false) }

// qwen2Vision lists a qwen2vl_merger (rms false: LayerNorm with biases,
// GELU MLP fc1/fc2) or qwen2.5vl_merger (rms true: RMSNorm without biases,
// gated SiLU MLP) projector.
func qwen2Vision(d Vision, rms bool) []Tensor {
	e := d.Embd
	ts := []Tensor{conv("v.patch_embd.weight", d.Patch, e), conv("v.patch_embd.weight.1", d.Patch, e)}
	for i := range d.Layers {
		b := fmt.Sprintf("v.blk.%d.", i)
		ts = append(ts, norm(b+"ln1.weight", e))
		if !rms {
			ts = append(ts, bias(b+"ln1.bias", e))
		}
		for _, n := range []string{"attn_q", "attn_k", "attn_v"} {
			ts = append(ts, mat(b+n+".weight", e, e), bias(b+n+".bias", e))
		}
		ts = append(ts, mat(b+"attn_out.weight", e, e), bias(b+"attn_out.bias", e), norm(b+"ln2.weight", e))
		if !rms {
			ts = append(ts, bias(b+"ln2.bias", e))
		} else {
			ts = append(ts, mat(b+"ffn_gate.weight", e, d.FF), bias(b+"ffn_gate.bias", d.FF))
		}
		ts = append(ts,
			mat(b+"ffn_up.weight", e, d.FF), bias(b+"ffn_up.bias", d.FF),
			mat(b+"ffn_down.weight", d.FF, e), bias(b+"ffn_down.bias", e))
	}
	ts = append(ts, norm("v.post_ln.weight", e))
	if !rms {
		ts = append(ts, bias("v.post_ln.bias", e))
	}
	return append(ts,
		mat("mm.0.weight", 4*e, 4*e), bias("mm.0.bias", 4*e),
		mat("mm.2.weight", 4*e, d.Out), bias("mm.2.bias", d.Out))
}

// qwen2Template renders Qwen2-VL's and Qwen2.5-VL's chat: ChatML, a default
// system prompt when the first message is not a system message, and
// <|vision_start|><|image_pad|><|vision_end|> for each image part.
const qwen2Template = `{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}` +
	`{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system
You are a helpful assistant.<|im_end|>
{% endif %}<|im_start|>{{ message['role'] }}
{% if message['content'] is string %}{{ message['content'] }}<|im_end|>
{% else %}{% for content in message['content'] %}` +
	`{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}` +
	`{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}` +
	`<|vision_start|><|image_pad|><|vision_end|>` +
	`{% elif content['type'] == 'video' or 'video' in content %}` +
	`{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}` +
	`<|vision_start|><|video_pad|><|vision_end|>` +
	`{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>
{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}`
