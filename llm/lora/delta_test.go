package lora

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/native"
)

func randSlice(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// TestUpdate checks addRow against the dense product written out the
// other way round: ΔW = B·A as a full matrix first.
func TestUpdate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const rank, in, out = 3, 5, 6
	a, b := randSlice(r, rank*in), randSlice(r, out*rank)
	dense := make([][]float64, out)
	for o := range dense {
		dense[o] = make([]float64, in)
		for i := range in {
			for k := range rank {
				dense[o][i] += b[o*rank+k] * a[k*in+i]
			}
		}
	}
	t.Run("linear and split", func(t *testing.T) {
		for _, part := range []struct{ row0, rows int }{{0, out}, {0, 2}, {2, 2}, {4, 2}} {
			u := &update{a: a, b: b, rank: rank, in: in, row0: part.row0, scale: 0.5}
			for o := range part.rows {
				row := make([]float64, in)
				u.addRow(o, row)
				for i := range row {
					if want := 0.5 * dense[part.row0+o][i]; math.Abs(row[i]-want) > 1e-14 {
						t.Fatalf("row0 %d: ΔW[%d][%d] = %g, want %g", part.row0, o, i, row[i], want)
					}
				}
			}
		}
	})
	t.Run("embedding", func(t *testing.T) {
		// PEFT embedding: A [rank][vocab], B [dim][rank]; ΔW[v] = (B·A)ᵀ[v].
		const vocab, dim = in, out
		u := &update{a: a, b: b, rank: rank, in: vocab, embedding: true, scale: 2}
		for v := range vocab {
			row := make([]float64, dim)
			u.addRow(v, row)
			for e := range row {
				if want := 2 * dense[e][v]; math.Abs(row[e]-want) > 1e-14 {
					t.Fatalf("ΔW[%d][%d] = %g, want %g", v, e, row[e], want)
				}
			}
		}
	})
	t.Run("scale zero", func(t *testing.T) {
		u := &update{a: a, b: b, rank: rank, in: in}
		row := []float64{1, 2, 3, 4, 5}
		u.addRow(0, row)
		if row[0] != 1 || row[4] != 5 {
			t.Errorf("scale 0 changed the row: %v", row)
		}
	})
}

func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	row := randSlice(r, 64)
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0} {
		n, err := rowBytes(typ, len(row))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, n)
		encodeRow(typ, row, buf)
		got := make([]float64, len(row))
		decodeRow(typ, buf, got)
		// Encoding what was decoded gives the same bytes.
		again := make([]byte, n)
		encodeRow(typ, got, again)
		if string(again) != string(buf) {
			t.Errorf("%s: encode(decode(x)) differs from x", typ)
		}
		tol := map[gguf.TensorType]float64{gguf.F32: 1e-7, gguf.F16: 1e-3, gguf.BF16: 8e-3, gguf.Q8_0: 0.03}[typ]
		for i := range row {
			if math.Abs(got[i]-row[i]) > tol*math.Max(1, math.Abs(row[i])) {
				t.Errorf("%s: value %d: %g back as %g", typ, i, row[i], got[i])
			}
		}
	}
}

// TestQ8Block checks one Q8_0 block against values worked out by hand from
// ggml's reference quantiser.
func TestQ8Block(t *testing.T) {
	x := make([]float64, 32)
	x[0] = 127 // d = 1
	x[1] = -2.5
	x[2] = 2.5 // ties round away from zero
	x[3] = 0.49
	buf := make([]byte, 34)
	encodeRow(gguf.Q8_0, x, buf)
	if buf[0] != 0x00 || buf[1] != 0x3c { // F16 1.0
		t.Errorf("scale bytes %x, want F16 1.0 (00 3c)", buf[:2])
	}
	want := []int8{127, -3, 3, 0}
	for i, w := range want {
		if int8(buf[2+i]) != w {
			t.Errorf("q[%d] = %d, want %d", i, int8(buf[2+i]), w)
		}
	}
	if _, err := rowBytes(gguf.Q8_0, 33); err == nil {
		t.Error("rowBytes(q8_0, 33) did not fail")
	}
	// Q4_K goes through ggml: refused for its 256-value blocks with
	// llama.cpp, refused with "run make" without.
	wantErr := "type q4_K cannot be merged into: quantize: 64 values of q4_K are not a whole number of blocks of 256"
	if !ggmlBuilt() {
		wantErr = "type q4_K cannot be merged into by a build without llama.cpp (f32, f16, bf16 and q8_0 can): run make"
	}
	if _, err := rowBytes(gguf.Q4_K, 64); err == nil || err.Error() != wantErr {
		t.Errorf("rowBytes(q4_K, 64) error = %v, want %q", err, wantErr)
	}
	if _, err := rowBytes(gguf.TensorType(4), 32); err == nil {
		t.Error("rowBytes of the removed type 4 did not fail")
	}
}

// ggmlBuilt reports whether the test binary has llama.cpp linked in.
func ggmlBuilt() bool {
	_, err := native.Quantize(uint32(gguf.Q4_0), nil, 0, 32)
	return !errors.Is(err, native.ErrNotBuilt)
}
