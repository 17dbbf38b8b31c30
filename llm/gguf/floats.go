package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Float32ToF16 converts f to IEEE 754 half precision, rounding to nearest
// even; values too large become ±Inf, NaN stays NaN.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	man := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 31: // overflow or Inf
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint32(14 - exp)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(h)
}

// F16ToFloat32 converts an IEEE 754 half precision value to float32
// (exactly).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h >> 10 & 0x1f)
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value is man * 2^-24.
		f := float32(man) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// Float32ToBF16 converts f to bfloat16, rounding to nearest even.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	b += 0x7fff + (b >> 16 & 1)
	return uint16(b >> 16)
}

// BF16ToFloat32 converts a bfloat16 value to float32 (exactly).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// DecodeFloats converts raw tensor data of type F32, F16 or BF16 to
// float32 values.
func DecodeFloats(t TensorType, raw []byte) ([]float32, error) {
	le := binary.LittleEndian
	switch t {
	case F32:
		if len(raw)%4 != 0 {
			return nil, fmt.Errorf("f32 data of %d bytes is not a whole number of values", len(raw))
		}
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case F16, BF16:
		if len(raw)%2 != 0 {
			return nil, fmt.Errorf("%s data of %d bytes is not a whole number of values", t, len(raw))
		}
		conv := F16ToFloat32
		if t == BF16 {
			conv = BF16ToFloat32
		}
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = conv(le.Uint16(raw[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot decode %s tensor data as floats", t)
}

// AppendFloats appends vals encoded as type t (F32, F16 or BF16) to dst.
func AppendFloats(dst []byte, t TensorType, vals []float32) ([]byte, error) {
	le := binary.LittleEndian
	switch t {
	case F32:
		for _, v := range vals {
			dst = le.AppendUint32(dst, math.Float32bits(v))
		}
	case F16:
		for _, v := range vals {
			dst = le.AppendUint16(dst, Float32ToF16(v))
		}
	case BF16:
		for _, v := range vals {
			dst = le.AppendUint16(dst, Float32ToBF16(v))
		}
	default:
		return dst, fmt.Errorf("cannot encode floats as %s", t)
	}
	return dst, nil
}
