package lora

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/lora/floats"
	"github.com/vlmcmp/vlmcmp/native"
)

// q8Block is the number of values in one Q8_0 block, stored as an F16 scale
// and 32 int8 quants (34 bytes).
const q8Block = 32

// rowBytes is the size in bytes of one row of n values of type typ, or an
// error for a type the merge cannot handle. F32, F16, BF16 and Q8_0 are
// handled in Go; other quantised types through ggml's own routines in
// package native, so only in a build with llama.cpp.
func rowBytes(typ gguf.TensorType, n int) (int, error) {
	switch typ {
	case gguf.F32, gguf.F16, gguf.BF16:
	case gguf.Q8_0:
		if n%q8Block != 0 {
			return 0, fmt.Errorf("a row of %d values is not a whole number of q8_0 blocks of %d", n, q8Block)
		}
	default:
		if !typ.Known() {
			return 0, fmt.Errorf("type %s cannot be merged into", typ)
		}
		// Zero rows only ask ggml whether it can convert the type both ways.
		_, err := native.Dequantize(uint32(typ), nil, 0)
		if err == nil {
			_, err = native.Quantize(uint32(typ), nil, 0, n)
		}
		if errors.Is(err, native.ErrNotBuilt) {
			return 0, fmt.Errorf("type %s cannot be merged into by a build without llama.cpp (f32, f16, bf16 and q8_0 can): run make", typ)
		}
		if err != nil {
			return 0, fmt.Errorf("type %s cannot be merged into: %w", typ, err)
		}
	}
	return int(typ.RowBytes(int64(n))), nil
}

// decodeRow converts one row of type typ from src into dst (exactly for
// F32, F16 and BF16; Q8_0 as ggml dequantises it, d·q in float32; other
// types checked by rowBytes with ggml's to_float).
func decodeRow(typ gguf.TensorType, src []byte, dst []float64) error {
	le := binary.LittleEndian
	switch typ {
	case gguf.F32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(le.Uint32(src[4*i:])))
		}
	case gguf.F16:
		for i := range dst {
			dst[i] = float64(gguf.F16ToFloat32(le.Uint16(src[2*i:])))
		}
	case gguf.BF16:
		for i := range dst {
			dst[i] = float64(gguf.BF16ToFloat32(le.Uint16(src[2*i:])))
		}
	case gguf.Q8_0:
		for b := 0; b < len(dst)/q8Block; b++ {
			blk := src[b*(2+q8Block):]
			d := gguf.F16ToFloat32(le.Uint16(blk))
			for j := range q8Block {
				dst[b*q8Block+j] = float64(d * float32(int8(blk[2+j])))
			}
		}
	default:
		f, err := native.Dequantize(uint32(typ), src, len(dst))
		if err != nil {
			return err
		}
		for i, v := range f {
			dst[i] = float64(v)
		}
	}
	return nil
}

// encodeRow rounds src once to type typ into dst. Q8_0 follows ggml's
// reference quantiser (quantize_row_q8_0_ref): values rounded to float32,
// d = max|x|/127 stored as F16, q = roundf(x/d) with ties away from zero.
// Other types checked by rowBytes are rounded to float32 and quantised by
// ggml (ggml_quantize_chunk, no importance matrix).
func encodeRow(typ gguf.TensorType, src []float64, dst []byte) error {
	le := binary.LittleEndian
	switch typ {
	case gguf.F32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(float32(v)))
		}
	case gguf.F16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], floats.Float64ToHalf(v))
		}
	case gguf.BF16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], floats.Float64ToBFloat(v))
		}
	case gguf.Q8_0:
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
			le.PutUint16(blk, gguf.Float32ToF16(d))
			for j, v := range x {
				blk[2+j] = byte(int8(math.Round(float64(float32(v) * id))))
			}
		}
	default:
		f := make([]float32, len(src))
		for i, v := range src {
			f[i] = float32(v)
		}
		q, err := native.Quantize(uint32(typ), f, 1, len(f))
		if err != nil {
			return err
		}
		if len(q) != len(dst) {
			return fmt.Errorf("ggml quantized a row of %s to %d bytes, want %d", typ, len(q), len(dst))
		}
		copy(dst, q)
	}
	return nil
}

// readFloat64s reads a whole tensor of f, of a type rowBytes accepts, as
// float64.
func readFloat64s(f *gguf.File, t gguf.TensorInfo) ([]float64, error) {
	rb, err := rowBytes(t.Type, int(t.Shape[0]))
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, t.Name, err)
	}
	buf := make([]byte, t.Size())
	if _, err := io.ReadFull(f.TensorReader(t), buf); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, t.Name, err)
	}
	out := make([]float64, t.Elements())
	n := int(t.Shape[0])
	for r := range int(t.Rows()) {
		if err := decodeRow(t.Type, buf[r*rb:(r+1)*rb], out[r*n:(r+1)*n]); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, t.Name, err)
		}
	}
	return out, nil
}
