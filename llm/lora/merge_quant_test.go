//go:build llamacpp

package lora

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestMergeQuantisedBase merges a PEFT adapter into quantised base tensors,
// which go through ggml's dequantiser and quantiser, and checks that each
// merged tensor keeps its type and dequantises to W + s·B·A, computed here
// from the base file's own values and the adapter's safetensors, within the
// type's quantisation error: per block, frac·max|W + s·B·A| of that block.
func TestMergeQuantisedBase(t *testing.T) {
	const in, out = 256, 12
	for _, tt := range []struct {
		name string
		typ  gguf.TensorType
		blk  int
		frac float64 // as in native's round-trip test
	}{
		{"q4_k", gguf.Q4_K, 256, 2.0 / 15 * 1.1},
		{"q4_0", gguf.Q4_0, 32, 1.0 / 8 * 1.01},
		{"q6_k", gguf.Q6_K, 256, 1.0 / 32 * 1.5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			modelPath := filepath.Join(dir, "model.gguf")
			writeFakeGGUF(t, modelPath, map[string]string{"general.architecture": "qwen2vl"}, []fakeTensor{
				{name: "blk.0.attn_norm.weight", ne: []int64{in}, typ: gguf.F32},
				{name: "blk.0.attn_q.weight", ne: []int64{in, out}, typ: tt.typ},
				{name: "blk.0.attn_k.weight", ne: []int64{in, out}, typ: tt.typ},
			}, 3)
			module := "model.layers.0.self_attn.q_proj"
			adapter := writePEFT(t, fakeConfig(false), []peftModule{{module: module, in: in, out: out}}, 9)
			merged := filepath.Join(dir, "merged.gguf")
			res, err := Merge(t.Context(), MergeOptions{Base: modelPath, Adapter: adapter, AdapterScale: 1, Out: merged})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Merged[merged]; !slices.Equal(got, []string{"blk.0.attn_q.weight"}) {
				t.Fatalf("merged %v, want blk.0.attn_q.weight", got)
			}
			_, w, _ := readTensor(t, modelPath, "blk.0.attn_q.weight")
			ti, got, _ := readTensor(t, merged, "blk.0.attn_q.weight")
			if ti.Type != tt.typ {
				t.Fatalf("merged tensor stored as %s, want %s", ti.Type, tt.typ)
			}
			delta := refDelta(t, adapter, module, wantScale(module, false))
			want := make([]float64, len(w))
			for o := range out {
				for i := range in {
					want[o*in+i] = w[o*in+i] + delta[o][i]
				}
			}
			var errMerged, errBase, sumDelta float64
			for b := 0; b < len(want); b += tt.blk {
				var amax float64
				for _, v := range want[b : b+tt.blk] {
					amax = max(amax, math.Abs(v))
				}
				for i := b; i < b+tt.blk; i++ {
					if e := math.Abs(got[i] - want[i]); e > tt.frac*amax {
						t.Fatalf("value %d: merged %g, want %g ± %g", i, got[i], want[i], tt.frac*amax)
					}
					errMerged += (got[i] - want[i]) * (got[i] - want[i])
					errBase += (got[i] - w[i]) * (got[i] - w[i])
					sumDelta += (want[i] - w[i]) * (want[i] - w[i])
				}
			}
			nv := float64(len(want))
			rmsMerged, rmsBase := math.Sqrt(errMerged/nv), math.Sqrt(errBase/nv)
			t.Logf("%s: rms |merged - (W+ΔW)| = %.4f, rms |merged - W| = %.4f, rms ΔW = %.4f", tt.name, rmsMerged, rmsBase, math.Sqrt(sumDelta/nv))
			// The update must show through the quantisation noise.
			if rmsMerged*1.5 >= rmsBase {
				t.Errorf("merged tensor is %g from W+ΔW and %g from W: the update does not show", rmsMerged, rmsBase)
			}
			// The untouched quantised tensor is copied byte for byte.
			_, _, kRaw := readTensor(t, modelPath, "blk.0.attn_k.weight")
			_, _, kOut := readTensor(t, merged, "blk.0.attn_k.weight")
			if string(kRaw) != string(kOut) {
				t.Error("untouched blk.0.attn_k.weight changed")
			}
		})
	}
}

// TestQ8MatchesGGML checks that the Go Q8_0 codec gives exactly the bytes
// and values ggml's quantize_q8_0 and dequantize_row_q8_0 give.
func TestQ8MatchesGGML(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 32 * 64
	row := make([]float64, n)
	for i := range row {
		row[i] = r.NormFloat64() * math.Pow(10, float64(i%7-3))
	}
	row[5], row[40] = 0, 2.5 // a zero and an exact tie
	clear(row[64:96])        // an all-zero block
	goBytes := make([]byte, n/32*34)
	if err := encodeRow(gguf.Q8_0, row, goBytes); err != nil {
		t.Fatal(err)
	}
	f := make([]float32, n)
	for i, v := range row {
		f[i] = float32(v)
	}
	ggmlBytes, err := native.Quantize(uint32(gguf.Q8_0), f, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	if string(goBytes) != string(ggmlBytes) {
		for i := range goBytes {
			if goBytes[i] != ggmlBytes[i] {
				t.Fatalf("byte %d: go %#x, ggml %#x", i, goBytes[i], ggmlBytes[i])
			}
		}
	}
	back, err := native.Dequantize(uint32(gguf.Q8_0), goBytes, n)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, n)
	if err := decodeRow(gguf.Q8_0, goBytes, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != float64(back[i]) {
			t.Fatalf("value %d: go %g, ggml %g", i, got[i], back[i])
		}
	}
}
