//go:build llamacpp

package native

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// GGUF type ids, as llm/gguf numbers them (native does not import it).
const (
	typeF16    = 1
	typeQ4_0   = 2
	typeQ8_0   = 8
	typeQ4_K   = 12
	typeQ6_K   = 14
	typeIQ2XXS = 16
	typeI32    = 26
)

// TestQuantizeRoundTrip quantises random rows and checks that they come
// back within each type's quantisation step: per block of blk values the
// error of any value stays below frac·max|x| of that block.
func TestQuantizeRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		typ      uint32
		blk      int
		rowBytes int // for 256 values
		frac     float64
		rmsBound float64 // of error / rms(x)
	}{
		// d = max/127, |err| <= d/2 plus up to 127·d·2⁻¹¹ from d stored
		// as f16.
		{"q8_0", typeQ8_0, 32, 8 * 34, (0.5 + 127.0/2048) / 127, 0.01},
		// d = -max/8 (q in -8..7): d/2 in general, but a value of the
		// other sign as large as max is clamped to 7 and misses by d.
		{"q4_0", typeQ4_0, 32, 8 * 18, 1.0 / 8 * 1.01, 0.1},
		// 8 sub-blocks of 32 with 6-bit scale and min, 4-bit quants: step
		// (range/15) and the quantised scale's error, at most 2·max/15.
		{"q4_k", typeQ4_K, 256, 144, 2.0 / 15 * 1.1, 0.1},
		// 16 sub-blocks of 16 with 8-bit scales, 6-bit quants.
		{"q6_k", typeQ6_K, 256, 210, 1.0 / 32 * 1.5, 0.03},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, n = 3, 512
	src := make([]float32, rows*n)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.05)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Quantize(tc.typ, src, rows, n)
			if err != nil {
				t.Fatal(err)
			}
			if want := rows * n / 256 * tc.rowBytes; len(q) != want {
				t.Fatalf("quantized to %d bytes, want %d", len(q), want)
			}
			back, err := Dequantize(tc.typ, q, rows*n)
			if err != nil {
				t.Fatal(err)
			}
			var se, sx float64
			for b := 0; b < len(src); b += tc.blk {
				var amax float64
				for _, v := range src[b : b+tc.blk] {
					amax = max(amax, math.Abs(float64(v)))
				}
				for i := b; i < b+tc.blk; i++ {
					e := math.Abs(float64(back[i] - src[i]))
					if e > tc.frac*amax {
						t.Fatalf("value %d: %g came back as %g, off by %g > %g·%g", i, src[i], back[i], e, tc.frac, amax)
					}
					se += e * e
					sx += float64(src[i]) * float64(src[i])
				}
			}
			rel := math.Sqrt(se / sx)
			t.Logf("%s: rms error / rms value = %.4f", tc.name, rel)
			if rel > tc.rmsBound || rel == 0 {
				t.Errorf("rms error / rms value = %g, want in (0, %g]", rel, tc.rmsBound)
			}
			// Quantising what came back is stable for the simple types.
			if tc.typ == typeQ8_0 || tc.typ == typeQ4_0 {
				again, err := Quantize(tc.typ, back, rows, n)
				if err != nil {
					t.Fatal(err)
				}
				back2, _ := Dequantize(tc.typ, again, rows*n)
				for i := range back {
					if d := math.Abs(float64(back2[i] - back[i])); d > 1e-3*math.Abs(float64(back[i]))+1e-7 {
						t.Fatalf("value %d: requantised %g became %g", i, back[i], back2[i])
					}
				}
			}
		})
	}
}

func TestQuantizeBadInput(t *testing.T) {
	src := make([]float32, 64)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"row not whole blocks", func() error { _, err := Quantize(typeQ4_K, src, 1, 64); return err }, "not a whole number of blocks of 256"},
		{"src length", func() error { _, err := Quantize(typeQ8_0, src, 3, 32); return err }, "64 values are not 3 rows of 32"},
		{"negative rows", func() error { _, err := Quantize(typeQ8_0, nil, -1, 32); return err }, "not -1 rows"},
		{"zero row length", func() error { _, err := Quantize(typeQ8_0, nil, 0, 0); return err }, "not a whole number"},
		{"unknown type", func() error { _, err := Quantize(100, src, 2, 32); return err }, "ggml type 100 is unknown"},
		{"removed type", func() error { _, err := Quantize(4, src, 2, 32); return err }, "ggml type 4 is unknown"},
		{"not quantizable", func() error { _, err := Quantize(typeI32, src, 2, 32); return err }, "cannot quantize to i32"},
		{"needs imatrix", func() error { _, err := Quantize(typeIQ2XXS, make([]float32, 256), 1, 256); return err }, "needs an importance matrix"},
		{"dequantize short data", func() error { _, err := Dequantize(typeQ8_0, make([]byte, 33), 32); return err }, "32 values of q8_0 take 34 bytes, not 33"},
		{"dequantize partial block", func() error { _, err := Dequantize(typeQ4_0, make([]byte, 18), 31); return err }, "not a whole number of blocks of 32"},
		{"dequantize empty data", func() error { _, err := Dequantize(typeQ4_0, nil, 32); return err }, "take 18 bytes, not 0"},
		{"dequantize negative", func() error { _, err := Dequantize(typeQ4_0, nil, -32); return err }, "not a whole number"},
		{"dequantize unknown", func() error { _, err := Dequantize(200, make([]byte, 4), 1); return err }, "ggml type 200 is unknown"},
		{"dequantize no to_float", func() error { _, err := Dequantize(typeI32, make([]byte, 4), 1); return err }, "cannot convert i32 to float"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestQuantizeEmpty checks that zero rows and zero values only validate.
func TestQuantizeEmpty(t *testing.T) {
	q, err := Quantize(typeQ4_K, nil, 0, 256)
	if err != nil || len(q) != 0 {
		t.Errorf("Quantize of no rows = %d bytes, %v", len(q), err)
	}
	f, err := Dequantize(typeQ6_K, nil, 0)
	if err != nil || len(f) != 0 {
		t.Errorf("Dequantize of nothing = %d values, %v", len(f), err)
	}
	if _, err := Dequantize(typeF16, []byte{0, 0x3c}, 1); err != nil {
		t.Errorf("Dequantize f16: %v", err)
	}
}
