package synth

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// hfConfig holds the fields of a published Hugging Face config.json that
// the real shapes follow; text and vision as Qwen3-VL nests them
// (text_config, vision_config), Qwen2-VL and Qwen2.5-VL's top-level text
// fields moved under "text".
type hfConfig struct {
	Text struct {
		Hidden, Layers, Heads, KVHeads, HeadDim, FF, MaxPos, Vocab int
		Tied                                                       bool
		MropeSection                                               []int32
	}
	Vision struct {
		Hidden, Depth, Heads, FF, Out, Positions, Patch int
		EmbedDim, MLPRatio                              int // Qwen2-VL
		Deepstack, FullAtt                              []int
	}
}

// The published values (Qwen/<model>/config.json on Hugging Face),
// written in hfConfig's field names.
var published = map[string]string{
	"qwen2vl 2b Qwen2-VL-2B-Instruct": `{"Text": {"Hidden": 1536, "Layers": 28, "Heads": 12, "KVHeads": 2, "FF": 8960,
		"MaxPos": 32768, "Vocab": 151936, "Tied": true, "MropeSection": [16, 24, 24]},
		"Vision": {"EmbedDim": 1280, "MLPRatio": 4, "Depth": 32, "Heads": 16, "Out": 1536, "Patch": 14}}`,
	"qwen2.5vl 3b Qwen2.5-VL-3B-Instruct": `{"Text": {"Hidden": 2048, "Layers": 36, "Heads": 16, "KVHeads": 2, "FF": 11008,
		"MaxPos": 128000, "Vocab": 151936, "Tied": true, "MropeSection": [16, 24, 24]},
		"Vision": {"Hidden": 1280, "Depth": 32, "Heads": 16, "FF": 3420, "Out": 2048, "Patch": 14, "FullAtt": [7, 15, 23, 31]}}`,
	"qwen3vl 2b Qwen3-VL-2B-Instruct": `{"Text": {"Hidden": 2048, "Layers": 28, "Heads": 16, "KVHeads": 8, "HeadDim": 128, "FF": 6144,
		"MaxPos": 262144, "Vocab": 151936, "Tied": true, "MropeSection": [24, 20, 20]},
		"Vision": {"Hidden": 1024, "Depth": 24, "Heads": 16, "FF": 4096, "Out": 2048, "Positions": 2304, "Patch": 16,
		"Deepstack": [5, 11, 17]}}`,
	"qwen3vl 4b Qwen3-VL-4B-Instruct": `{"Text": {"Hidden": 2560, "Layers": 36, "Heads": 32, "KVHeads": 8, "HeadDim": 128, "FF": 9728,
		"MaxPos": 262144, "Vocab": 151936, "Tied": true, "MropeSection": [24, 20, 20]},
		"Vision": {"Hidden": 1024, "Depth": 24, "Heads": 16, "FF": 4096, "Out": 2560, "Positions": 2304, "Patch": 16,
		"Deepstack": [5, 11, 17]}}`,
}

// TestRealShapes: every real shape has the dimensions of its published
// config.json.
func TestRealShapes(t *testing.T) {
	shapes := map[string]Shape{"2b": TwoB, "3b": ThreeB, "4b": FourB}
	for key, js := range published {
		f := strings.Fields(key) // family, shape, model
		fam, shape, model := f[0], f[1], f[2]
		var c hfConfig
		if err := json.Unmarshal([]byte(js), &c); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		d, err := DimsFor(fam, shapes[shape])
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		vHidden, vFF := c.Vision.Hidden, c.Vision.FF
		if c.Vision.EmbedDim > 0 {
			vHidden, vFF = c.Vision.EmbedDim, c.Vision.EmbedDim*c.Vision.MLPRatio
		}
		headDim := c.Text.HeadDim
		if headDim == 0 {
			headDim = c.Text.Hidden / c.Text.Heads
		}
		window := 0
		if n := len(c.Vision.FullAtt); n > 1 {
			window = c.Vision.FullAtt[1] - c.Vision.FullAtt[0]
		}
		for _, x := range []struct {
			what      string
			got, want int
		}{
			{"hidden_size", d.Embd, c.Text.Hidden},
			{"num_hidden_layers", d.Layers, c.Text.Layers},
			{"num_attention_heads", d.Heads, c.Text.Heads},
			{"num_key_value_heads", d.KVHeads, c.Text.KVHeads},
			{"head_dim", d.headDim(), headDim},
			{"intermediate_size", d.FF, c.Text.FF},
			{"max_position_embeddings", d.Context, c.Text.MaxPos},
			{"vocab_size", d.Vocab, c.Text.Vocab},
			{"vision hidden_size", d.VEmbd, vHidden},
			{"vision depth", d.VLayers, c.Vision.Depth},
			{"vision num_heads", d.VHeads, c.Vision.Heads},
			{"vision intermediate_size", d.VFF, vFF},
			{"vision out_hidden_size", d.Embd, c.Vision.Out},
			{"vision num_position_embeddings", d.Positions, c.Vision.Positions},
			{"vision patch_size", d.Patch, c.Vision.Patch},
			{"fullatt_block_indexes spacing", d.WindowPattern, window},
		} {
			if x.got != x.want {
				t.Errorf("%s: %s %d, config.json says %d", model, x.what, x.got, x.want)
			}
		}
		if d.Tied != c.Text.Tied {
			t.Errorf("%s: tied %t, config.json says %t", model, d.Tied, c.Text.Tied)
		}
		if got := d.RopeSections[:3]; !slices.Equal(got, c.Text.MropeSection) {
			t.Errorf("%s: rope sections %v, config.json says %v", model, got, c.Text.MropeSection)
		}
		if !slices.Equal(d.Deepstack, c.Vision.Deepstack) {
			t.Errorf("%s: deepstack layers %v, config.json says %v", model, d.Deepstack, c.Vision.Deepstack)
		}
		if d.Positions > 0 {
			side := 1
			for side*side < d.Positions {
				side++
			}
			if d.ImageSize != side*d.Patch {
				t.Errorf("%s: image size %d, want sqrt(num_position_embeddings)×patch = %d", model, d.ImageSize, side*d.Patch)
			}
		}
	}
}
