//go:build llamacpp

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/llm/lora"
	"github.com/vlmcmp/vlmcmp/llm/lora/safetensors"
)

// runLoRACLI runs vlmcmp with args and fails the test on a non-zero exit.
func runLoRACLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(t.Context(), append([]string{"vlmcmp"}, args...), strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("vlmcmp %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String(), errb.String()
}

// writeTinyPEFT writes a PEFT adapter for the synthetic tiny Qwen2-VL as
// transformers 4.52 and later names it (model.language_model.…,
// model.visual.…): the attention and MLP of every language layer, lm_head,
// the vision tower's fused qkv and fc1, and the merger's last layer, with
// F32, F16 and BF16 tensors and a rank_pattern. Shapes come from the model
// files; values are seeded random (B is not zero, as it is after training).
func writeTinyPEFT(t *testing.T, files synth.Files) string {
	t.Helper()
	type module struct {
		name    string
		in, out int64
		rank    int
	}
	var mods []module
	shape := func(f *gguf.File, name string) (int64, int64) {
		ti, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("%s has no tensor %s", f.Path, name)
		}
		return ti.Shape[0], ti.Shape[1]
	}
	m, err := gguf.Open(files.Model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	layers, err := m.Metadata.Int("qwen2vl.block_count")
	if err != nil {
		t.Fatal(err)
	}
	for l := range layers {
		for gg, hf := range map[string]string{"attn_q": "self_attn.q_proj", "attn_v": "self_attn.v_proj", "ffn_down": "mlp.down_proj"} {
			in, out := shape(m, fmt.Sprintf("blk.%d.%s.weight", l, gg))
			rank := 4
			if gg == "ffn_down" {
				rank = 2
			}
			mods = append(mods, module{fmt.Sprintf("model.language_model.layers.%d.%s", l, hf), in, out, rank})
		}
	}
	in, out := shape(m, "output.weight")
	mods = append(mods, module{"lm_head", in, out, 4})
	mm, err := gguf.Open(files.Mmproj)
	if err != nil {
		t.Fatal(err)
	}
	defer mm.Close()
	in, out = shape(mm, "v.blk.0.attn_q.weight")
	mods = append(mods, module{"model.visual.blocks.0.attn.qkv", in, 3 * out, 4})
	in, out = shape(mm, "v.blk.1.ffn_up.weight")
	mods = append(mods, module{"model.visual.blocks.1.mlp.fc1", in, out, 4})
	in, out = shape(mm, "mm.2.weight")
	mods = append(mods, module{"model.visual.merger.mlp.2", in, out, 4})

	r := rand.New(rand.NewPCG(7, 11))
	rnd := func(n int64, std float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64() * std
		}
		return v
	}
	dtypes := []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16}
	var ts []safetensors.Data
	for i, md := range mods {
		rank := int64(md.rank)
		dt := dtypes[i%len(dtypes)]
		pre := "base_model.model." + md.name + "."
		ts = append(ts,
			safetensors.Data{Name: pre + "lora_A.weight", DType: dt, Shape: []int64{rank, md.in}, Values: rnd(rank*md.in, 0.3)},
			safetensors.Data{Name: pre + "lora_B.weight", DType: dt, Shape: []int64{md.out, rank}, Values: rnd(md.out*rank, 0.3)},
		)
	}
	dir := filepath.Join(t.TempDir(), "adapter")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, lora.WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"peft_type": "LORA", "r": 4, "lora_alpha": 8, "rank_pattern": map[string]any{"down_proj": 2},
		"base_model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct",
	})
	if err := os.WriteFile(filepath.Join(dir, lora.ConfigFile), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeLoRATestImage(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 80, 56))
	for y := range 56 {
		for x := range 80 {
			img.Set(x, y, color.RGBA{R: uint8(3 * x), G: uint8(4 * y), B: uint8(x * y), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoRAConvertMergePredict takes a PEFT adapter through both roads of
// the command line: lora convert (adapter GGUF applied by predict --lora,
// vision modules merged into a projector copy) and lora merge (model and
// projector with everything merged), and checks that predict answers the
// same on both, and differently from the base model. The merge is stored
// as F32 so that the only difference between the roads is float rounding
// order (merging into F16 adds F16 rounding of the weights, which llama.cpp's
// LoRA path does not have; package lora's engine tests measure that).
func TestLoRAConvertMergePredict(t *testing.T) {
	dir := t.TempDir()
	files, err := synth.Write(filepath.Join(dir, "tiny"), synth.Options{Shape: synth.Tiny, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	adapter := writeTinyPEFT(t, files)
	img := filepath.Join(dir, "street.png")
	writeLoRATestImage(t, img)
	p := func(name string) string { return filepath.Join(dir, name) }

	out, errOut := runLoRACLI(t, "lora", "convert", "--adapter", adapter, "--base", files.Model, "--mmproj", files.Mmproj,
		"--out", p("adapter.gguf"), "--out-mmproj", p("adapter-mmproj.gguf"))
	if out != p("adapter.gguf")+"\n"+p("adapter-mmproj.gguf")+"\n" {
		t.Errorf("convert stdout %q, want the two files written", out)
	}
	if !strings.Contains(errOut, "merged 3 vision modules") || strings.Contains(errOut, "warning") {
		t.Errorf("convert stderr:\n%s", errOut)
	}
	out, errOut = runLoRACLI(t, "lora", "merge", "--adapter", adapter, "--base", files.Model, "--mmproj", files.Mmproj,
		"--out", p("merged.gguf"), "--out-mmproj", p("merged-mmproj.gguf"), "--type", "f32")
	if out != p("merged.gguf")+"\n"+p("merged-mmproj.gguf")+"\n" {
		t.Errorf("merge stdout %q, want the two files written", out)
	}
	if !strings.Contains(errOut, "merging: 100%") || strings.Contains(errOut, "warning") {
		t.Errorf("merge stderr:\n%s", errOut)
	}

	predict := func(args ...string) string {
		t.Helper()
		args = append([]string{"predict", "--image", img, "--prompt", "How safe is this street, from 1 to 10?",
			"--threads", "2", "--max-tokens", "16"}, args...)
		out, _ := runLoRACLI(t, args...)
		return out
	}
	base := predict("--model-file", files.Model, "--mmproj", files.Mmproj)
	atLoad := predict("--model-file", files.Model, "--mmproj", p("adapter-mmproj.gguf"), "--lora", p("adapter.gguf"))
	merged := predict("--model-file", p("merged.gguf"), "--mmproj", p("merged-mmproj.gguf"))
	textOnly := predict("--model-file", files.Model, "--mmproj", files.Mmproj, "--lora", p("adapter.gguf"))
	// The default merge keeps the base's F16: it loads and runs too, and
	// carries the adapter.
	runLoRACLI(t, "lora", "merge", "--adapter", adapter, "--base", files.Model, "--mmproj", files.Mmproj,
		"--out", p("merged16.gguf"), "--out-mmproj", p("merged16-mmproj.gguf"))
	if merged16 := predict("--model-file", p("merged16.gguf"), "--mmproj", p("merged16-mmproj.gguf")); merged16 == base {
		t.Errorf("the F16 merge answers %q, as the base model does", merged16)
	} else {
		t.Logf("F16 merge:           %q", merged16)
	}
	t.Logf("base:                %q\nconverted at load:   %q\nmerged:              %q\nlanguage part only:  %q", base, atLoad, merged, textOnly)
	if atLoad == "" || atLoad == "\n" {
		t.Fatal("no answer")
	}
	if atLoad != merged {
		t.Errorf("converted adapter at load time answers %q, merged model %q", atLoad, merged)
	}
	if atLoad == base {
		t.Errorf("the adapter left the answer %q unchanged: the comparison proves nothing", base)
	}
	if textOnly == atLoad {
		t.Errorf("the merged projector did not change the answer %q: the vision part is not exercised", textOnly)
	}
}
