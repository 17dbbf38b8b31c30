package floats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// half and bfloat read a 16-bit value back exactly, with package gguf's
// decoders (the ones merges read base tensors with).
func half(h uint16) float64   { return float64(gguf.F16ToFloat32(h)) }
func bfloat(h uint16) float64 { return float64(gguf.BF16ToFloat32(h)) }

func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		x := half(uint16(h))
		if math.IsNaN(x) {
			if got := Float64ToHalf(x); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Errorf("Float64ToHalf(NaN) = %#04x, not a NaN", got)
			}
			continue
		}
		if got := Float64ToHalf(x); got != uint16(h) {
			t.Errorf("Float64ToHalf(half(%#04x) = %g) = %#04x", h, x, got)
		}
	}
}

func TestHalfValues(t *testing.T) {
	tests := []struct {
		h    uint16
		want float64
	}{
		{0x3c00, 1},
		{0xc000, -2},
		{0x7bff, 65504},
		{0x0001, math.Ldexp(1, -24)},
		{0x0400, math.Ldexp(1, -14)},
		{0x3555, 0.333251953125},
		{0x7c00, math.Inf(1)},
	}
	for _, tt := range tests {
		if got := Float64ToHalf(tt.want); got != tt.h {
			t.Errorf("Float64ToHalf(%g) = %#04x, want %#04x", tt.want, got, tt.h)
		}
	}
}

// TestHalfRounding checks every gap between adjacent positive halves: the
// midpoint goes to the even neighbour, anything off the midpoint to the
// nearer one.
func TestHalfRounding(t *testing.T) {
	for h := uint16(0); h < 0x7bff; h++ {
		lo, hi := half(h), half(h+1)
		mid := (lo + hi) / 2
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		cases := []struct {
			x    float64
			want uint16
		}{
			{mid, even},
			{math.Nextafter(mid, 0), h},
			{math.Nextafter(mid, 1e9), h + 1},
			{-mid, 0x8000 | even},
		}
		for _, c := range cases {
			if got := Float64ToHalf(c.x); got != c.want {
				t.Fatalf("Float64ToHalf(%.17g) = %#04x, want %#04x", c.x, got, c.want)
			}
		}
	}
	// Overflow: halfway between 65504 and the next step (65536) rounds to
	// infinity (the even side); just below stays finite.
	if got := Float64ToHalf(65520); got != 0x7c00 {
		t.Errorf("Float64ToHalf(65520) = %#04x, want +Inf", got)
	}
	if got := Float64ToHalf(math.Nextafter(65520, 0)); got != 0x7bff {
		t.Errorf("Float64ToHalf(65520-) = %#04x, want 65504", got)
	}
	if got := Float64ToHalf(1e-10); got != 0 {
		t.Errorf("Float64ToHalf(1e-10) = %#04x, want 0", got)
	}
}

// TestFloat32Agrees checks that for values that are already float32 (one
// rounding either way) the float64 rounding agrees with package gguf's
// float32 conversions.
func TestFloat32Agrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) {
			continue
		}
		if got, want := Float64ToHalf(float64(f)), gguf.Float32ToF16(f); got != want {
			t.Fatalf("Float64ToHalf(%g) = %#04x, gguf.Float32ToF16 %#04x", f, got, want)
		}
	}
}

func TestBFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := r.Uint32()
		f := math.Float32frombits(b)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		want := gguf.Float32ToBF16(f)
		if got := Float64ToBFloat(float64(f)); got != want {
			t.Fatalf("Float64ToBFloat(%g) = %#04x, want %#04x", f, got, want)
		}
	}
	for h := range 1 << 16 {
		x := bfloat(uint16(h))
		if math.IsNaN(x) {
			continue
		}
		if got := Float64ToBFloat(x); got != uint16(h) {
			t.Errorf("Float64ToBFloat(bfloat(%#04x)) = %#04x", h, got)
		}
	}
}
