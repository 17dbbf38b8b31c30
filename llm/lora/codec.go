package lora

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vlmcmp/vlmcmp/llm/lora/floats"
)

// ggml tensor type ids of the types a merge reads and writes (ggml.h).
const (
	typeF32  = 0
	typeF16  = 1
	typeQ8_0 = 8
	typeBF16 = 30
)

// q8Block is the number of values in one Q8_0 block, stored as an F16 scale
// and 32 int8 quants (34 bytes).
const q8Block = 32

// rowBytes is the size in bytes of one row of n values of type typ, or an
// error for a type the merge cannot handle.
func rowBytes(typ uint32, n int) (int, error) {
	switch typ {
	case typeF32:
		return 4 * n, nil
	case typeF16, typeBF16:
		return 2 * n, nil
	case typeQ8_0:
		if n%q8Block != 0 {
			return 0, fmt.Errorf("a row of %d values is not a whole number of Q8_0 blocks of %d", n, q8Block)
		}
		return n / q8Block * (2 + q8Block), nil
	}
	return 0, fmt.Errorf("type %s cannot be merged into (F32, F16, BF16 and Q8_0 can)", typeName(typ))
}

// typeName is ggml's name for the types vlmcmp mentions.
func typeName(typ uint32) string {
	switch typ {
	case typeF32:
		return "f32"
	case typeF16:
		return "f16"
	case typeBF16:
		return "bf16"
	case typeQ8_0:
		return "q8_0"
	}
	names := map[uint32]string{2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 9: "q8_1", 10: "q2_k", 11: "q3_k", 12: "q4_k", 13: "q5_k", 14: "q6_k", 15: "q8_k"}
	if n, ok := names[typ]; ok {
		return n
	}
	return fmt.Sprintf("ggml type %d", typ)
}

// decodeRow converts one row of type typ from src into dst (exactly for
// F32, F16 and BF16; Q8_0 as ggml dequantises it, d·q in float32).
func decodeRow(typ uint32, src []byte, dst []float64) {
	switch typ {
	case typeF32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case typeF16:
		for i := range dst {
			dst[i] = floats.HalfToFloat64(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case typeBF16:
		for i := range dst {
			dst[i] = floats.BFloatToFloat64(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case typeQ8_0:
		for b := 0; b < len(dst)/q8Block; b++ {
			blk := src[b*(2+q8Block):]
			d := float32(floats.HalfToFloat64(binary.LittleEndian.Uint16(blk)))
			for j := range q8Block {
				dst[b*q8Block+j] = float64(d * float32(int8(blk[2+j])))
			}
		}
	default:
		panic("lora: decodeRow of an unchecked type")
	}
}

// encodeRow rounds src once to type typ into dst. Q8_0 follows ggml's
// reference quantiser (quantize_row_q8_0_ref): values rounded to float32,
// d = max|x|/127 stored as F16, q = roundf(x/d) with ties away from zero.
func encodeRow(typ uint32, src []float64, dst []byte) {
	switch typ {
	case typeF32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(float32(v)))
		}
	case typeF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], floats.Float64ToHalf(v))
		}
	case typeBF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], floats.Float64ToBFloat(v))
		}
	case typeQ8_0:
		for b := 0; b < len(src)/q8Block; b++ {
			x := src[b*q8Block : (b+1)*q8Block]
			var amax float32
			for _, v := range x {
				amax = max(amax, float32(math.Abs(float64(float32(v)))))
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			blk := dst[b*(2+q8Block):]
			binary.LittleEndian.PutUint16(blk, floats.Float64ToHalf(float64(d)))
			for j, v := range x {
				blk[2+j] = byte(int8(math.Round(float64(float32(v) * id))))
			}
		}
	default:
		panic("lora: encodeRow of an unchecked type")
	}
}
