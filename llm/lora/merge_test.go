package lora

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/lora/floats"
	"github.com/vlmcmp/vlmcmp/llm/lora/safetensors"
)

// fakeTensor is a tensor of a hand-made base file, with the values the
// test wrote (after rounding to its type).
type fakeTensor struct {
	name string
	ne   []int64
	typ  gguf.TensorType
	vals []float64
}

// writeFakeGGUF writes a GGUF with the given string metadata and tensors
// (random values rounded to each type) and returns the tensors by name.
// These files are for the pure-Go merge math; llama.cpp never loads them.
func writeFakeGGUF(t testing.TB, path string, meta map[string]string, ts []fakeTensor, seed uint64) map[string]fakeTensor {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var md gguf.Metadata
	for _, k := range []string{"general.architecture", "clip.projector_type"} {
		if v, ok := meta[k]; ok {
			md = append(md, gguf.KV(k, v))
		}
	}
	var infos []gguf.TensorInfo
	out := map[string]fakeTensor{}
	for i := range ts {
		ft := &ts[i]
		if _, err := rowBytes(ft.typ, int(ft.ne[0])); err != nil {
			t.Fatal(err)
		}
		ti := gguf.TensorInfo{Name: ft.name, Type: ft.typ, Shape: ft.ne}
		infos = append(infos, ti)
		ft.vals = make([]float64, ti.Elements())
		for j := range ft.vals {
			ft.vals[j] = r.NormFloat64()
		}
	}
	err := gguf.Create(path, md, infos, func(i int, w io.Writer) error {
		ft := ts[i]
		rb, _ := rowBytes(ft.typ, int(ft.ne[0]))
		buf := make([]byte, rb)
		for row := range infos[i].Rows() {
			vals := ft.vals[row*ft.ne[0] : (row+1)*ft.ne[0]]
			encodeRow(ft.typ, vals, buf)
			decodeRow(ft.typ, buf, vals) // keep what the file holds
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		out[ft.name] = ft
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Dimensions of the hand-made Qwen2-VL-like files.
const (
	fDim, fVocab, fFF     = 16, 40, 32
	fVDim, fVFF, fVMerged = 32, 64, 128
)

func fakeModel(t testing.TB, dir string, typ gguf.TensorType, arch string) (string, map[string]fakeTensor) {
	path := filepath.Join(dir, "model.gguf")
	return path, writeFakeGGUF(t, path, map[string]string{"general.architecture": arch}, []fakeTensor{
		{name: "token_embd.weight", ne: []int64{fDim, fVocab}, typ: typ},
		{name: "blk.0.attn_norm.weight", ne: []int64{fDim}, typ: gguf.F32},
		{name: "blk.0.attn_q.weight", ne: []int64{fDim, fDim}, typ: typ},
		{name: "blk.0.attn_k.weight", ne: []int64{fDim, fDim / 2}, typ: typ},
		{name: "blk.0.ffn_down.weight", ne: []int64{fFF, fDim}, typ: typ},
		{name: "output.weight", ne: []int64{fDim, fVocab}, typ: typ},
	}, 11)
}

func fakeMmproj(t testing.TB, dir string, typ gguf.TensorType) (string, map[string]fakeTensor) {
	path := filepath.Join(dir, "mmproj.gguf")
	return path, writeFakeGGUF(t, path, map[string]string{"general.architecture": "clip", "clip.projector_type": "qwen2vl_merger"}, []fakeTensor{
		{name: "v.blk.0.attn_q.weight", ne: []int64{fVDim, fVDim}, typ: typ},
		{name: "v.blk.0.attn_k.weight", ne: []int64{fVDim, fVDim}, typ: typ},
		{name: "v.blk.0.attn_v.weight", ne: []int64{fVDim, fVDim}, typ: typ},
		{name: "v.blk.0.ffn_up.weight", ne: []int64{fVDim, fVFF}, typ: typ},
		{name: "mm.2.weight", ne: []int64{fVMerged, fDim}, typ: typ},
	}, 12)
}

// fakeModules are the adapter modules for the fake files, in a naming.
func fakeModules(lang, vis string) []peftModule {
	return []peftModule{
		{module: lang + "embed_tokens", in: fVocab, out: fDim},
		{module: lang + "layers.0.self_attn.q_proj", in: fDim, out: fDim},
		{module: lang + "layers.0.self_attn.k_proj", in: fDim, out: fDim / 2, rank: 2},
		{module: lang + "layers.0.mlp.down_proj", in: fFF, out: fDim},
		{module: "lm_head", in: fDim, out: fVocab},
		{module: vis + "blocks.0.attn.qkv", in: fVDim, out: 3 * fVDim},
		{module: vis + "blocks.0.mlp.fc1", in: fVDim, out: fVFF},
		{module: vis + "merger.mlp.2", in: fVMerged, out: fDim},
	}
}

func fakeConfig(rslora bool) map[string]any {
	return map[string]any{
		"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": rslora,
		"rank_pattern":            map[string]any{"k_proj": 2},
		"alpha_pattern":           map[string]any{"down_proj": 3, "qkv": 5},
		"base_model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct",
	}
}

// wantScale is PEFT's scale for a module of the fake adapter, written out
// independently of Config.ModuleScale.
func wantScale(module string, rslora bool) float64 {
	rank, alpha := 4.0, 8.0
	if strings.HasSuffix(module, "k_proj") {
		rank = 2
	}
	if strings.HasSuffix(module, "down_proj") {
		alpha = 3
	}
	if strings.HasSuffix(module, "qkv") {
		alpha = 5
	}
	if rslora {
		return alpha / math.Sqrt(rank)
	}
	return alpha / rank
}

// refDelta computes s·B·A for a module of adapter dir from its safetensors
// file directly, as [out][in] (for the embedding: [vocab][dim]).
func refDelta(t *testing.T, dir, module string, scale float64) [][]float64 {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	emb := strings.HasSuffix(module, "embed_tokens")
	an, bn := ".lora_A.weight", ".lora_B.weight"
	if emb {
		an, bn = ".lora_embedding_A", ".lora_embedding_B"
	}
	ta, _ := f.Lookup("base_model.model." + module + an)
	tb, _ := f.Lookup("base_model.model." + module + bn)
	A, _ := f.Float64s(ta)
	B, _ := f.Float64s(tb)
	r, in, out := int(ta.Shape[0]), int(ta.Shape[1]), int(tb.Shape[0])
	d := make([][]float64, out)
	for o := range out {
		d[o] = make([]float64, in)
		for i := range in {
			var s float64
			for k := range r {
				s += B[o*r+k] * A[k*in+i]
			}
			d[o][i] = scale * s
		}
	}
	if !emb {
		return d
	}
	tr := make([][]float64, in)
	for v := range in {
		tr[v] = make([]float64, out)
		for e := range out {
			tr[v][e] = d[e][v]
		}
	}
	return tr
}

func readTensor(t *testing.T, path, name string) (gguf.TensorInfo, []float64, []byte) {
	t.Helper()
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ti, ok := g.Tensor(name)
	if !ok {
		t.Fatalf("%s: no tensor %s", path, name)
	}
	raw, err := g.ReadTensor(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rowBytes(ti.Type, int(ti.Shape[0])); err != nil {
		return ti, nil, raw
	}
	v, err := readFloat64s(g, ti)
	if err != nil {
		t.Fatal(err)
	}
	return ti, v, raw
}

// ulps is the distance in units of the last place of F16 between a and b.
func halfULPs(a, b float64) int {
	ha, hb := int(floats.Float64ToHalf(a)), int(floats.Float64ToHalf(b))
	if ha&0x8000 != 0 {
		ha = 0x8000 - ha
	}
	if hb&0x8000 != 0 {
		hb = 0x8000 - hb
	}
	return max(ha-hb, hb-ha)
}

// TestMergeExact merges a PEFT adapter (language and vision targets, both
// namings, rank_pattern, alpha_pattern, with and without rsLoRA) into F32
// and F16 bases and compares every merged weight with W + s·B·A computed
// here in float64 and rounded once: exactly for F32, within one F16 ulp.
func TestMergeExact(t *testing.T) {
	for _, tt := range []struct {
		name      string
		typ       gguf.TensorType
		lang, vis string
		rslora    bool
		scale     float64
	}{
		{"f32 legacy", gguf.F32, "model.", "visual.", false, 1},
		{"f32 nested rslora", gguf.F32, "model.language_model.", "model.visual.", true, 1},
		{"f16 legacy scaled", gguf.F16, "model.", "visual.", false, 0.5},
		{"f16 nested rslora", gguf.F16, "model.language_model.", "model.visual.", true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			modelPath, model := fakeModel(t, dir, tt.typ, "qwen2vl")
			mmPath, mm := fakeMmproj(t, dir, tt.typ)
			adapter := writePEFT(t, fakeConfig(tt.rslora), fakeModules(tt.lang, tt.vis), 5)
			out, outMM := filepath.Join(dir, "merged.gguf"), filepath.Join(dir, "merged-mmproj.gguf")
			var calls int
			res, err := Merge(t.Context(), MergeOptions{Base: modelPath, Mmproj: mmPath, Adapter: adapter, AdapterScale: tt.scale,
				Out: out, OutMmproj: outMM, Progress: func(done, total int64) { calls++ }})
			if err != nil {
				t.Fatal(err)
			}
			if calls != len(model)+len(mm) {
				t.Errorf("progress called %d times, want once per tensor (%d)", calls, len(model)+len(mm))
			}
			if len(res.NotMerged) != 0 {
				t.Errorf("not merged: %+v", res.NotMerged)
			}
			check := func(path string, base map[string]fakeTensor, target, module string, row0 int) {
				t.Helper()
				ti, got, _ := readTensor(t, path, target)
				delta := refDelta(t, adapter, module, tt.scale*wantScale(module, tt.rslora))
				w := base[target]
				if ti.Type != tt.typ {
					t.Fatalf("%s: type %s, want %s", target, ti.Type, tt.typ)
				}
				n := int(ti.Shape[0])
				for r := range int(ti.Rows()) {
					for c := range n {
						ref := w.vals[r*n+c] + delta[row0+r][c]
						g := got[r*n+c]
						switch tt.typ {
						case gguf.F32:
							if g != float64(float32(ref)) {
								t.Fatalf("%s[%d][%d] = %.9g, want %.9g", target, r, c, g, float32(ref))
							}
						case gguf.F16:
							if u := halfULPs(g, ref); u > 1 {
								t.Fatalf("%s[%d][%d] = %g, want %g (%d ulps)", target, r, c, g, ref, u)
							}
						}
					}
				}
			}
			check(out, model, "token_embd.weight", tt.lang+"embed_tokens", 0)
			check(out, model, "blk.0.attn_q.weight", tt.lang+"layers.0.self_attn.q_proj", 0)
			check(out, model, "blk.0.attn_k.weight", tt.lang+"layers.0.self_attn.k_proj", 0)
			check(out, model, "blk.0.ffn_down.weight", tt.lang+"layers.0.mlp.down_proj", 0)
			check(out, model, "output.weight", "lm_head", 0)
			check(outMM, mm, "v.blk.0.attn_q.weight", tt.vis+"blocks.0.attn.qkv", 0)
			check(outMM, mm, "v.blk.0.attn_k.weight", tt.vis+"blocks.0.attn.qkv", fVDim)
			check(outMM, mm, "v.blk.0.attn_v.weight", tt.vis+"blocks.0.attn.qkv", 2*fVDim)
			check(outMM, mm, "v.blk.0.ffn_up.weight", tt.vis+"blocks.0.mlp.fc1", 0)
			check(outMM, mm, "mm.2.weight", tt.vis+"merger.mlp.2", 0)

			// Untouched tensors are copied byte for byte.
			_, _, before := readTensor(t, modelPath, "blk.0.attn_norm.weight")
			_, _, after := readTensor(t, out, "blk.0.attn_norm.weight")
			if !bytes.Equal(before, after) {
				t.Error("blk.0.attn_norm.weight changed")
			}
			// The merged files say what was merged.
			for _, p := range []string{out, outMM} {
				g, err := gguf.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				g.Close()
				recJSON, _ := g.Metadata.String(MergeKey)
				var rec MergeRecord
				if err := json.Unmarshal([]byte(recJSON), &rec); err != nil {
					t.Fatalf("%s: %s: %v", p, MergeKey, err)
				}
				if len(rec.Sources) != 1 || rec.Sources[0].Kind != "peft" || rec.Sources[0].Scale != tt.scale || len(rec.Tensors) == 0 {
					t.Errorf("%s: merge record %+v", p, rec)
				}
				if g.Architecture() == "" {
					t.Errorf("%s lost general.architecture", p)
				}
			}
		})
	}
}

// TestConvertMatchesMerge converts the adapter to llama.cpp's format and
// merges that GGUF: the weights equal the PEFT merge up to the F32 rounding
// of the adapter's tensors, so scales (rank_pattern, alpha_pattern, rsLoRA)
// survive the conversion.
func TestConvertMatchesMerge(t *testing.T) {
	for _, rslora := range []bool{false, true} {
		dir := t.TempDir()
		modelPath, _ := fakeModel(t, dir, gguf.F32, "qwen2vl")
		mmPath, _ := fakeMmproj(t, dir, gguf.F32)
		adapter := writePEFT(t, fakeConfig(rslora), fakeModules("model.", "visual."), 9)
		adGGUF := filepath.Join(dir, "adapter.gguf")
		cres, err := Convert(t.Context(), ConvertOptions{Adapter: adapter, Base: modelPath, Out: adGGUF})
		if err != nil {
			t.Fatal(err)
		}
		if len(cres.Vision) != 3 || cres.VisionMerged {
			t.Errorf("vision modules %v merged %v, want 3 listed and not merged", cres.Vision, cres.VisionMerged)
		}
		if len(cres.Tensors) != 5 {
			t.Errorf("converted %v, want 5 language tensors", cres.Tensors)
		}
		if len(cres.Folded) == 0 {
			t.Error("no module folded, though k_proj and down_proj have their own scale")
		}
		viaPEFT, viaGGUF := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
		if _, err := Merge(t.Context(), MergeOptions{Base: modelPath, Adapter: adapter, AdapterScale: 1, Out: viaPEFT}); err != nil {
			t.Fatal(err)
		}
		if _, err := Merge(t.Context(), MergeOptions{Base: modelPath, LoRAs: []LoRAFile{{adGGUF, 1}}, Out: viaGGUF}); err != nil {
			t.Fatal(err)
		}
		_ = mmPath
		for _, name := range []string{"token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_down.weight", "output.weight"} {
			_, base, _ := readTensor(t, modelPath, name)
			_, a, _ := readTensor(t, viaPEFT, name)
			_, b, _ := readTensor(t, viaGGUF, name)
			var maxDelta float64
			for i := range a {
				maxDelta = max(maxDelta, math.Abs(a[i]-base[i]))
				if d := math.Abs(a[i] - b[i]); d > 1e-5*max(1, math.Abs(a[i])) {
					t.Fatalf("rslora %v: %s[%d]: PEFT merge %g, converted merge %g", rslora, name, i, a[i], b[i])
				}
			}
			if maxDelta < 1e-3 {
				t.Errorf("%s: merge changed it by at most %g: the test would not see a wrong scale", name, maxDelta)
			}
		}
	}
}

func TestMergeZeroScaleIsIdentity(t *testing.T) {
	dir := t.TempDir()
	modelPath, _ := fakeModel(t, dir, gguf.F16, "qwen2vl")
	adapter := writePEFT(t, fakeConfig(false), fakeModules("model.", "visual."), 5)
	out := filepath.Join(dir, "merged.gguf")
	res, err := Merge(t.Context(), MergeOptions{Base: modelPath, Adapter: adapter, AdapterScale: 0, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NotMerged) != 3 {
		t.Errorf("not merged %+v, want the 3 vision modules listed (no mmproj given)", res.NotMerged)
	}
	for _, name := range []string{"token_embd.weight", "blk.0.attn_q.weight", "output.weight"} {
		_, _, a := readTensor(t, modelPath, name)
		_, _, b := readTensor(t, out, name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s changed at scale 0", name)
		}
	}
}

func TestMergeErrors(t *testing.T) {
	dir := t.TempDir()
	modelPath, _ := fakeModel(t, dir, gguf.F32, "qwen2vl")
	llamaPath, _ := fakeModel(t, t.TempDir(), gguf.F32, "llama")
	mmPath, _ := fakeMmproj(t, dir, gguf.F32)
	good := writePEFT(t, fakeConfig(false), fakeModules("model.", "visual."), 5)
	wrongShape := writePEFT(t, fakeConfig(false), []peftModule{{module: "model.layers.0.self_attn.q_proj", in: fDim + 1, out: fDim}}, 5)
	wrongVision := writePEFT(t, fakeConfig(false), []peftModule{{module: "visual.blocks.0.mlp.fc1", in: fVDim, out: fVFF * 2}}, 5)
	noLayer := writePEFT(t, fakeConfig(false), []peftModule{{module: "model.layers.7.self_attn.q_proj", in: fDim, out: fDim}}, 5)
	q4 := filepath.Join(t.TempDir(), "model.gguf")
	writeFakeGGUF(t, q4, map[string]string{"general.architecture": "qwen2vl"}, []fakeTensor{{name: "blk.0.attn_q.weight", ne: []int64{32, 16}, typ: gguf.Q8_0}}, 1)
	q4Bytes, _ := os.ReadFile(q4)
	// Turn the tensor's type into q4_0 (2, same block size) in place: a quantised base Merge
	// cannot requantise in Go, only through ggml in a build with llama.cpp (merge_quant_test.go).
	idx := bytes.Index(q4Bytes, []byte("blk.0.attn_q.weight")) + len("blk.0.attn_q.weight") + 4 + 16
	q4Bytes[idx] = 2
	os.WriteFile(q4, q4Bytes, 0o644)
	tests := []struct {
		name string
		opts MergeOptions
		want string
		is   error
	}{
		{"another architecture", MergeOptions{Base: llamaPath, Adapter: good, Out: "x"}, `architecture "llama"`, ErrArchitecture},
		{"shape", MergeOptions{Base: modelPath, Adapter: wrongShape, Out: "x"}, "model.layers.0.self_attn.q_proj → blk.0.attn_q.weight: adapter is for 17 inputs × 16 outputs", ErrShape},
		{"vision shape", MergeOptions{Base: modelPath, Mmproj: mmPath, OutMmproj: "y", Adapter: wrongVision, Out: "x"}, "visual.blocks.0.mlp.fc1 → v.blk.0.ffn_up.weight", ErrShape},
		{"no such layer", MergeOptions{Base: modelPath, Adapter: noLayer, Out: "x"}, "has no tensor blk.7.attn_q.weight", nil},
		{"mmproj as base", MergeOptions{Base: mmPath, Adapter: good, Out: "x"}, `architecture "clip"`, ErrArchitecture},
		{"model as mmproj", MergeOptions{Base: modelPath, Mmproj: modelPath, OutMmproj: "y", Adapter: good, Out: "x"}, "not a vision projector", nil},
		{"bad type", MergeOptions{Base: modelPath, Adapter: good, Out: "x", Type: "q4_0"}, `type "q4_0" is not one of`, nil},
		{"quantised base", MergeOptions{Base: q4, Adapter: writePEFT(t, fakeConfig(false), []peftModule{{module: "model.layers.0.self_attn.q_proj", in: 32, out: 16}}, 5), Out: "x"}, "type q4_0 cannot be merged into by a build without llama.cpp (f32, f16, bf16 and q8_0 can): run make", nil},
		{"missing adapter config", MergeOptions{Base: modelPath, Adapter: t.TempDir(), Out: "x"}, "no adapter_config.json", ErrNoConfig},
		{"not gguf", MergeOptions{Base: filepath.Join(good, ConfigFile), Adapter: good, Out: "x"}, "not a gguf file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "quantised base" && ggmlBuilt() {
				t.Skip("built with llama.cpp, which merges q4_0 bases")
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			if tt.opts.Out != "" {
				tt.opts.Out = out
			}
			tt.opts.AdapterScale = 1
			_, err := Merge(t.Context(), tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed merge left its output behind")
			}
		})
	}
}

// bigModel writes a base whose token embedding is 16 MiB of F32, the
// largest tensor by far, and an adapter for it.
func bigModel(t testing.TB) (model, adapter string, largest int64) {
	dir := t.TempDir()
	model = filepath.Join(dir, "model.gguf")
	const dim, vocab = 64, 65536
	writeFakeGGUF(t, model, map[string]string{"general.architecture": "qwen2vl"}, []fakeTensor{
		{name: "token_embd.weight", ne: []int64{dim, vocab}, typ: gguf.F32},
		{name: "blk.0.attn_q.weight", ne: []int64{dim, dim}, typ: gguf.F32},
		{name: "output.weight", ne: []int64{dim, vocab}, typ: gguf.F16},
	}, 3)
	adapter = writePEFT(t, map[string]any{"r": 8, "lora_alpha": 16}, []peftModule{
		{module: "model.embed_tokens", in: vocab, out: dim},
		{module: "model.layers.0.self_attn.q_proj", in: dim, out: dim},
		{module: "lm_head", in: dim, out: vocab},
	}, 4)
	return model, adapter, 4 * dim * vocab
}

// TestMergeStreams checks that a merge allocates less than the largest
// tensor of the model, all allocations counted: it streams rows instead of
// loading tensors.
func TestMergeStreams(t *testing.T) {
	model, adapter, largest := bigModel(t)
	out := filepath.Join(t.TempDir(), "merged.gguf")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := Merge(t.Context(), MergeOptions{Base: model, Adapter: adapter, AdapterScale: 1, Out: out}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := int64(after.TotalAlloc - before.TotalAlloc); alloc > largest {
		t.Errorf("merge allocated %d bytes in all, more than the largest tensor (%d bytes)", alloc, largest)
	} else {
		t.Logf("merge allocated %d bytes in all; largest tensor %d bytes", alloc, largest)
	}
}

func BenchmarkMerge(b *testing.B) {
	model, adapter, _ := bigModel(b)
	out := filepath.Join(b.TempDir(), "merged.gguf")
	st, _ := os.Stat(model)
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := Merge(b.Context(), MergeOptions{Base: model, Adapter: adapter, AdapterScale: 1, Out: out}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMergeType stores merged tensors as q8_0 where their rows allow, keeps
// the base type where not, and leaves untouched tensors as they were.
func TestMergeType(t *testing.T) {
	dir := t.TempDir()
	modelPath, _ := fakeModel(t, dir, gguf.F16, "qwen2vl")
	adapter := writePEFT(t, fakeConfig(false), fakeModules("model.", "visual."), 5)
	out := filepath.Join(dir, "q8.gguf")
	res, err := Merge(t.Context(), MergeOptions{Base: modelPath, Adapter: adapter, AdapterScale: 1, Out: out, Type: "q8_0"})
	if err != nil {
		t.Fatal(err)
	}
	// ffn_down has rows of 32 values; the others rows of 16.
	if ti, _, _ := readTensor(t, out, "blk.0.ffn_down.weight"); ti.Type != gguf.Q8_0 {
		t.Errorf("ffn_down stored as %s, want q8_0", ti.Type)
	}
	if ti, _, _ := readTensor(t, out, "blk.0.attn_q.weight"); ti.Type != gguf.F16 {
		t.Errorf("attn_q stored as %s, want f16 kept", ti.Type)
	}
	if !slices.Contains(res.KeptType, "blk.0.attn_q.weight") || slices.Contains(res.KeptType, "blk.0.ffn_down.weight") {
		t.Errorf("kept type %v", res.KeptType)
	}
	if ti, _, _ := readTensor(t, out, "blk.0.attn_norm.weight"); ti.Type != gguf.F32 {
		t.Errorf("untouched attn_norm became %s", ti.Type)
	}
}
