//go:build llamacpp

package lora

// These tests run the real llama.cpp engine (package native) on the tiny
// synthetic Qwen2-VL that llm/gguf/synth writes, with a PEFT adapter the
// test writes for it: the converted adapter applied at load time and the
// merged model answer alike, scale 0 changes nothing, and the vision part of
// a merge changes the image embedding while the text part does not.

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// tinyAdapter writes a PEFT adapter targeting every linear layer of the
// synthetic model's language model (and, with vision, of its vision tower
// and merger), with shapes read from the model files, in the given naming.
func tinyAdapter(t *testing.T, model, mmproj string, vision bool, lang, vis string) string {
	t.Helper()
	g, err := gguf.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var mods []peftModule
	hf := map[string]string{"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
		"attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
	for _, ti := range g.Tensors {
		parts := strings.Split(ti.Name, ".")
		if len(parts) == 4 && parts[0] == "blk" && parts[3] == "weight" && hf[parts[2]] != "" {
			rank := 0 // the config's r
			if parts[2] == "ffn_down" {
				rank = 2 // rank_pattern below
			}
			mods = append(mods, peftModule{module: lang + "layers." + parts[1] + "." + hf[parts[2]], in: int(ti.Shape[0]), out: int(ti.Shape[1]), rank: rank})
		}
	}
	if te, ok := g.Tensor("token_embd.weight"); ok {
		mods = append(mods, peftModule{module: lang + "embed_tokens", in: int(te.Shape[1]), out: int(te.Shape[0])})
	}
	if out, ok := g.Tensor("output.weight"); ok {
		mods = append(mods, peftModule{module: "lm_head", in: int(out.Shape[0]), out: int(out.Shape[1])})
	}
	if vision {
		mm, err := gguf.Open(mmproj)
		if err != nil {
			t.Fatal(err)
		}
		defer mm.Close()
		pt, _ := mm.Metadata.String("clip.projector_type")
		fam, ok := family.ByProjector(pt)
		if !ok {
			t.Fatalf("projector type %q", pt)
		}
		vn := map[string]string{} // GGUF name to the family's Hugging Face name
		for hf, g := range fam.PEFT.Vision {
			vn[g] = hf
		}
		merger := map[string]string{}
		for hf, g := range fam.PEFT.Merger {
			merger[g] = hf
		}
		var deep []string
		for _, ti := range mm.Tensors {
			parts := strings.Split(ti.Name, ".")
			switch {
			case len(parts) == 5 && parts[0] == "v" && parts[1] == "blk" && parts[3] == "attn_q" && parts[4] == "weight":
				mods = append(mods, peftModule{module: vis + "blocks." + parts[2] + ".attn.qkv", in: int(ti.Shape[0]), out: 3 * int(ti.Shape[1])})
			case len(parts) == 5 && parts[0] == "v" && parts[1] == "blk" && parts[3] == "attn_qkv" && parts[4] == "weight":
				mods = append(mods, peftModule{module: vis + "blocks." + parts[2] + ".attn.qkv", in: int(ti.Shape[0]), out: int(ti.Shape[1])})
			case len(parts) == 5 && parts[0] == "v" && parts[1] == "blk" && vn[parts[3]] != "" && parts[4] == "weight":
				rank := 0
				if strings.HasSuffix(vn[parts[3]], "down_proj") {
					rank = 2 // rank_pattern below matches Qwen2.5-VL's vision down_proj too
				}
				mods = append(mods, peftModule{module: vis + "blocks." + parts[2] + "." + vn[parts[3]], in: int(ti.Shape[0]), out: int(ti.Shape[1]), rank: rank})
			case len(parts) == 3 && merger[parts[0]+"."+parts[1]] != "" && parts[2] == "weight":
				mods = append(mods, peftModule{module: vis + merger[parts[0]+"."+parts[1]], in: int(ti.Shape[0]), out: int(ti.Shape[1])})
			case len(parts) == 5 && parts[0] == "v" && parts[1] == "deepstack" && (parts[3] == "fc1" || parts[3] == "fc2") && parts[4] == "weight":
				if !slices.Contains(deep, parts[2]) {
					deep = append(deep, parts[2]) // tensors come layer by layer
				}
				k := slices.Index(deep, parts[2])
				mods = append(mods, peftModule{module: fmt.Sprintf("%sdeepstack_merger_list.%d.linear_%s", vis, k, parts[3]), in: int(ti.Shape[0]), out: int(ti.Shape[1])})
			}
		}
	}
	cfg := map[string]any{"peft_type": "LORA", "r": 4, "lora_alpha": 16, "use_rslora": true,
		"rank_pattern": map[string]any{"down_proj": 2}, "base_model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct"}
	return writePEFT(t, cfg, mods, 21)
}

// run is one model configuration: model, projector, optional adapter GGUF
// with its scale.
type run struct {
	model, mmproj string
	lora          string
	scale         float32
}

// answer is what one run produced for the test prompt: the logits after the
// prompt, the greedy continuation and the image embedding.
type answer struct {
	logits []float32
	text   string
	embd   []float32
}

func (r run) answer(t *testing.T) answer {
	t.Helper()
	m, err := native.LoadModel(r.model, native.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var a *native.LoRA // closed after the context that applies it, before the model
	if r.lora != "" {
		if a, err = native.LoadLoRA(m, r.lora); err != nil {
			t.Fatal(err)
		}
		defer a.Close()
	}
	ctx, err := native.NewContext(m, native.ContextParams{NCtx: 1024, NBatch: 512, NUBatch: 512, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if a != nil {
		if err := ctx.SetLoRA([]native.LoRAScale{{Adapter: a, Scale: r.scale}}); err != nil {
			t.Fatal(err)
		}
	}
	proj, err := native.LoadProjector(r.mmproj, m, native.ProjectorParams{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer proj.Close()
	const w, h = 56, 56
	rgb := make([]byte, w*h*3)
	for i := range rgb {
		rgb[i] = byte(i * 7 % 251)
	}
	bm, err := native.NewBitmap(w, h, rgb)
	if err != nil {
		t.Fatal(err)
	}
	defer bm.Close()
	ch, err := proj.Tokenize("<|im_start|>user\n"+native.MediaMarker+"Rate the safety.<|im_end|>\n<|im_start|>assistant\n", []*native.Bitmap{bm}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var out answer
	for i := range ch.Len() {
		if ch.Kind(i) == native.ChunkImage {
			emb, err := proj.Encode(ch, i)
			if err != nil {
				t.Fatal(err)
			}
			out.embd = append([]float32(nil), emb.Floats()...)
		}
	}
	nPast, err := proj.EvalChunks(ctx, ch, 0, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if out.logits, err = ctx.Logits(-1, nil); err != nil {
		t.Fatal(err)
	}
	out.logits = append([]float32(nil), out.logits...)
	s, err := native.NewSampler(m, native.SamplerParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := native.NewBatch(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var toks []native.Token
	for range 12 {
		tok, err := s.Sample(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		if m.IsEOG(tok) {
			break
		}
		toks = append(toks, tok)
		b.Clear()
		if _, err := b.Add(tok, nPast, true, 0); err != nil {
			t.Fatal(err)
		}
		nPast++
		if err := ctx.Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	if out.text, err = m.Detokenize(toks, false, true); err != nil {
		t.Fatal(err)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// validate checks the files with package gguf as vlmcmp predict does before
// llama.cpp sees them.
func validate(t *testing.T, model, mmproj, adapter string) {
	t.Helper()
	m, err := gguf.ValidateModel(model)
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.ValidateProjector(mmproj, m); err != nil {
		t.Fatal(err)
	}
	if adapter != "" {
		if err := gguf.ValidateLoRA(adapter, m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEngineConvertedEqualsMerged runs a PEFT adapter on every linear layer,
// the embeddings and the output (rsLoRA, a rank_pattern) through both roads,
// in both transformers namings: converted and applied at load time, and
// merged. Merged into F32 weights, the answers are the same to the token and
// the logits agree to float rounding. Merged into the base's own F16, the
// weights carry F16 rounding that llama.cpp's F32 LoRA path does not, so
// the logits agree within that and the first token is the same; the random
// model's later tokens sit on near-ties and may part.
func TestEngineConvertedEqualsMerged(t *testing.T) {
	for _, f := range family.All() {
		t.Run(f.Name, func(t *testing.T) { testConvertedEqualsMerged(t, f) })
	}
}

// visionMerged are tensors a vision merge must change, per family.
var visionMerged = map[string][]string{
	"qwen2vl": {"v.blk.0.attn_q.weight", "v.blk.0.attn_k.weight", "v.blk.1.attn_v.weight", "v.blk.1.attn_out.weight",
		"v.blk.0.ffn_up.weight", "v.blk.1.ffn_down.weight", "mm.0.weight", "mm.2.weight"},
	"qwen2.5vl": {"v.blk.0.attn_q.weight", "v.blk.0.attn_k.weight", "v.blk.1.attn_v.weight", "v.blk.1.attn_out.weight",
		"v.blk.0.ffn_gate.weight", "v.blk.0.ffn_up.weight", "v.blk.1.ffn_down.weight", "mm.0.weight", "mm.2.weight"},
	"qwen3vl": {"v.blk.0.attn_qkv.weight", "v.blk.2.attn_qkv.weight", "v.blk.1.attn_out.weight",
		"v.blk.0.ffn_up.weight", "v.blk.1.ffn_down.weight", "mm.0.weight", "mm.2.weight",
		"v.deepstack.0.fc1.weight", "v.deepstack.1.fc2.weight"},
}

func testConvertedEqualsMerged(t *testing.T, fam *family.Family) {
	dir := t.TempDir()
	// Qwen2-VL's tiny model in F16, as this test was first written; the
	// others in F32: ggml rounds activations to F16 before an F16 matrix
	// product, and their larger image embeddings make that rounding alone
	// move the logits past the tolerance below.
	files, err := synth.Write(dir, synth.Options{Family: fam.Name, Shape: synth.Tiny, Seed: 1, F32: fam != family.Qwen2VL})
	if err != nil {
		t.Fatal(err)
	}
	base := run{model: files.Model, mmproj: files.Mmproj}.answer(t)
	var first answer
	for _, naming := range []struct{ lang, vis string }{{"model.", "visual."}, {"model.language_model.", "model.visual."}} {
		t.Run(naming.lang, func(t *testing.T) {
			textOnly := tinyAdapter(t, files.Model, files.Mmproj, false, naming.lang, naming.vis)
			full := tinyAdapter(t, files.Model, files.Mmproj, true, naming.lang, naming.vis)
			adGGUF := filepath.Join(t.TempDir(), "adapter.gguf")
			cres, err := Convert(t.Context(), ConvertOptions{Adapter: textOnly, Base: files.Model, Out: adGGUF})
			if err != nil {
				t.Fatal(err)
			}
			if len(cres.NotConverted) != 0 || len(cres.Folded) == 0 {
				t.Errorf("not converted %v, folded %v: want all converted and down_proj folded", cres.NotConverted, cres.Folded)
			}
			validate(t, files.Model, files.Mmproj, adGGUF)
			atLoad := run{model: files.Model, mmproj: files.Mmproj, lora: adGGUF, scale: 1}.answer(t)
			if d := maxAbsDiff(atLoad.logits, base.logits); d < 1 {
				t.Fatalf("the adapter moved the logits by only %g: the comparisons below would prove nothing", d)
			}
			if atLoad.text == base.text {
				t.Fatalf("the adapter left the answer %q as it was: the comparisons below would prove nothing", base.text)
			}
			// Both namings are the same adapter: the same answer.
			if first.text == "" {
				first = atLoad
			} else if atLoad.text != first.text || maxAbsDiff(atLoad.logits, first.logits) != 0 {
				t.Errorf("naming %s: answer %q, the other naming %q", naming.lang, atLoad.text, first.text)
			}
			for _, typ := range []string{"f32", "same"} {
				merged, mergedMM := filepath.Join(t.TempDir(), "merged.gguf"), filepath.Join(t.TempDir(), "merged-mmproj.gguf")
				res, err := Merge(t.Context(), MergeOptions{Base: files.Model, Mmproj: files.Mmproj, Adapter: textOnly, AdapterScale: 1,
					Out: merged, OutMmproj: mergedMM, Type: typ})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.NotMerged) != 0 || len(res.Merged[merged]) != len(cres.Tensors) || len(res.Merged[mergedMM]) != 0 {
					t.Errorf("%s: merged %v, not merged %v; converted %v", typ, res.Merged, res.NotMerged, cres.Tensors)
				}
				validate(t, merged, mergedMM, "")
				viaMerge := run{model: merged, mmproj: mergedMM}.answer(t)
				d := maxAbsDiff(atLoad.logits, viaMerge.logits)
				t.Logf("merged %s: logits differ from load time by %g (adapter moved them by %g; largest %g); answers %q and %q",
					typ, d, maxAbsDiff(atLoad.logits, base.logits), maxAbs(atLoad.logits), atLoad.text, viaMerge.text)
				if d > 1e-3*(1+maxAbs(atLoad.logits)) {
					t.Errorf("%s: logits at load time and merged differ by %g", typ, d)
				}
				if typ == "f32" && atLoad.text != viaMerge.text {
					t.Errorf("%s: answers differ: at load time %q, merged %q", typ, atLoad.text, viaMerge.text)
				}
				if argmax(atLoad.logits) != argmax(viaMerge.logits) {
					t.Errorf("%s: first token %d at load time, %d merged", typ, argmax(atLoad.logits), argmax(viaMerge.logits))
				}
				// The text part alone leaves the image embedding as it was.
				if d := maxAbsDiff(viaMerge.embd, base.embd); d != 0 {
					t.Errorf("%s: a text-only merge changed the image embedding by %g", typ, d)
				}
			}

			// The vision part changes it: the fused qkv lands on the
			// projector's split attn_q, attn_k and attn_v.
			fullOut, fullMM := filepath.Join(t.TempDir(), "m.gguf"), filepath.Join(t.TempDir(), "mm.gguf")
			res, err := Merge(t.Context(), MergeOptions{Base: files.Model, Mmproj: files.Mmproj, Adapter: full, AdapterScale: 1,
				Out: fullOut, OutMmproj: fullMM})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.NotMerged) != 0 {
				t.Errorf("vision merge left out %v", res.NotMerged)
			}
			for _, name := range visionMerged[fam.Name] {
				if !slices.Contains(res.Merged[fullMM], name) {
					t.Errorf("vision merge did not change %s (changed %v)", name, res.Merged[fullMM])
				}
			}
			validate(t, fullOut, fullMM, "")
			withVision := run{model: fullOut, mmproj: fullMM}.answer(t)
			d := maxAbsDiff(withVision.embd, base.embd)
			t.Logf("vision merge: image embedding moved by %g (largest value %g)", d, maxAbs(base.embd))
			if d < 1e-2 {
				t.Errorf("merging the vision modules changed the image embedding by only %g", d)
			}
		})
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func TestEngineScaleZero(t *testing.T) {
	for _, f := range family.All() {
		t.Run(f.Name, func(t *testing.T) { testScaleZero(t, f) })
	}
}

func testScaleZero(t *testing.T, fam *family.Family) {
	dir := t.TempDir()
	files, err := synth.Write(dir, synth.Options{Family: fam.Name, Shape: synth.Tiny, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ad := tinyAdapter(t, files.Model, files.Mmproj, true, "model.", "visual.")
	adGGUF := filepath.Join(t.TempDir(), "adapter.gguf")
	if _, err := Convert(t.Context(), ConvertOptions{Adapter: ad, Base: files.Model, Out: adGGUF}); err != nil {
		t.Fatal(err)
	}
	merged, mergedMM := filepath.Join(t.TempDir(), "merged.gguf"), filepath.Join(t.TempDir(), "mmproj.gguf")
	if _, err := Merge(t.Context(), MergeOptions{Base: files.Model, Mmproj: files.Mmproj, Adapter: ad, AdapterScale: 0,
		Out: merged, OutMmproj: mergedMM}); err != nil {
		t.Fatal(err)
	}
	base := run{model: files.Model, mmproj: files.Mmproj}.answer(t)
	for name, r := range map[string]run{
		"adapter at scale 0": {model: files.Model, mmproj: files.Mmproj, lora: adGGUF, scale: 0},
		"merged at scale 0":  {model: merged, mmproj: mergedMM},
	} {
		got := r.answer(t)
		if got.text != base.text || maxAbsDiff(got.logits, base.logits) > 1e-6 || maxAbsDiff(got.embd, base.embd) != 0 {
			t.Errorf("%s: answer %q (logits off by %g), base %q", name, got.text, maxAbsDiff(got.logits, base.logits), base.text)
		}
	}
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}
