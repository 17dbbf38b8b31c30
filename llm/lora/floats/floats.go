// Package floats rounds float64 values to the 16-bit floating-point formats
// of model files, IEEE 754 binary16 (F16) and bfloat16 (BF16), once, to
// nearest with ties to even. Reading them back is exact and lives in
// package llm/gguf (F16ToFloat32, BF16ToFloat32); what this package adds is
// the rounding straight from float64.
//
// Rounding once matters for merges: a float64 sum rounded straight to F16
// is the reference a merge is measured against, and a detour through
// float32 (gguf.Float32ToF16(float32(x))) can land one unit in the last
// place away from it.
package floats

import "math"

// Float64ToHalf rounds x to the nearest binary16 number, ties to even.
// Values beyond the largest finite half (65504) round to infinity as IEEE 754
// says; NaN stays NaN.
func Float64ToHalf(x float64) uint16 {
	var sign uint16
	if math.Signbit(x) {
		sign = 0x8000
		x = -x
	}
	switch {
	case math.IsNaN(x):
		return 0x7e00
	case math.IsInf(x, 0):
		return sign | 0x7c00
	case x == 0:
		return sign
	}
	_, e := math.Frexp(x) // x = f × 2^e, f in [0.5, 1)
	// The unit in the last place of a half with this exponent, 2^(e-11),
	// never below the subnormal spacing 2^-24.
	q := max(e-11, -24)
	m := math.RoundToEven(math.Ldexp(x, -q)) // exact: x has 53 bits
	// m × 2^q; m in [0, 2048]. m == 2048 means the rounding carried.
	if q == -24 {
		// subnormal range: bits are m directly (m == 1024 is the smallest normal,
		// whose encoding is also 1024 = exponent 1, mantissa 0)
		return sign | uint16(m)
	}
	if m == 2048 {
		m = 1024
		q++
	}
	exp := q + 25 // biased exponent: value = m × 2^q = (1024+man) × 2^(exp-25)
	if exp >= 0x1f {
		return sign | 0x7c00
	}
	return sign | uint16(exp)<<10 | (uint16(m) - 1024)
}

// Float64ToBFloat rounds x to the nearest bfloat16 number, ties to even.
func Float64ToBFloat(x float64) uint16 {
	if math.IsNaN(x) {
		return 0x7fc0
	}
	var sign uint16
	if math.Signbit(x) {
		sign = 0x8000
		x = -x
	}
	if x == 0 || math.IsInf(x, 0) {
		return sign | uint16(math.Float32bits(float32(x))>>16)
	}
	_, e := math.Frexp(x)
	// bfloat16 has 8 significant bits; smallest subnormal 2^-133.
	q := max(e-8, -133)
	m := math.RoundToEven(math.Ldexp(x, -q))
	v := math.Ldexp(m, q) // exact in float32 unless it overflows
	if v > math.MaxFloat32 {
		return sign | 0x7f80
	}
	// v has at most 8 significant bits, so float32 holds it exactly.
	bits := math.Float32bits(float32(v))
	return sign | uint16(bits>>16)
}
