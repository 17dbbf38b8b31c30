//go:build llamacpp

package native

// #include <stdlib.h>
// #include "ggml.h"
//
// static void native_to_float(ggml_to_float_t f, const void *x, float *y, int64_t k) { f(x, y, k); }
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// quantizable are the types ggml_quantize_chunk writes (its switch); the
// others make it assert.
var quantizable = map[uint32]bool{
	C.GGML_TYPE_F32: true, C.GGML_TYPE_F16: true, C.GGML_TYPE_BF16: true,
	C.GGML_TYPE_Q4_0: true, C.GGML_TYPE_Q4_1: true, C.GGML_TYPE_Q5_0: true, C.GGML_TYPE_Q5_1: true,
	C.GGML_TYPE_Q8_0: true, C.GGML_TYPE_MXFP4: true,
	C.GGML_TYPE_Q2_K: true, C.GGML_TYPE_Q3_K: true, C.GGML_TYPE_Q4_K: true, C.GGML_TYPE_Q5_K: true, C.GGML_TYPE_Q6_K: true,
	C.GGML_TYPE_TQ1_0: true, C.GGML_TYPE_TQ2_0: true,
	C.GGML_TYPE_IQ2_XXS: true, C.GGML_TYPE_IQ2_XS: true, C.GGML_TYPE_IQ3_XXS: true, C.GGML_TYPE_IQ3_S: true,
	C.GGML_TYPE_IQ2_S: true, C.GGML_TYPE_IQ1_S: true, C.GGML_TYPE_IQ1_M: true,
	C.GGML_TYPE_IQ4_NL: true, C.GGML_TYPE_IQ4_XS: true,
}

// typeTraits returns ggml's traits of typ after checking that typ is a
// type ggml knows with a non-empty block (removed types have none).
func typeTraits(typ uint32) (*C.struct_ggml_type_traits, string, error) {
	if typ >= C.GGML_TYPE_COUNT {
		return nil, "", fmt.Errorf("ggml type %d is unknown", typ)
	}
	tr := C.ggml_get_type_traits(C.enum_ggml_type(typ))
	if tr == nil || tr.blck_size <= 0 || tr.type_size == 0 {
		return nil, "", fmt.Errorf("ggml type %d is unknown", typ)
	}
	return tr, C.GoString(tr.type_name), nil
}

// rowSize checks that a row of n values of typ is whole blocks and returns
// its size in bytes.
func rowSize(typ uint32, name string, n int) (int, error) {
	bs := int(C.ggml_blck_size(C.enum_ggml_type(typ)))
	if n <= 0 || n%bs != 0 {
		return 0, fmt.Errorf("%d values of %s are not a whole number of blocks of %d", n, name, bs)
	}
	return int(C.ggml_row_size(C.enum_ggml_type(typ), C.int64_t(n))), nil
}

// Dequantize converts n values of ggml type typ (a GGUF tensor type id, as
// llm/gguf.TensorType numbers them) stored in data into float32 with ggml's
// own to_float routine. data must hold exactly n values and n must be whole
// blocks of the type; n == 0 with empty data only checks the type. The
// result is a new slice; data is not kept. Safe for concurrent use.
func Dequantize(typ uint32, data []byte, n int) ([]float32, error) {
	tr, name, err := typeTraits(typ)
	if err != nil {
		return nil, fmt.Errorf("dequantize: %w", err)
	}
	if tr.to_float == nil {
		return nil, fmt.Errorf("dequantize: ggml cannot convert %s to float", name)
	}
	if n == 0 && len(data) == 0 {
		return []float32{}, nil
	}
	size, err := rowSize(typ, name, n)
	if err != nil {
		return nil, fmt.Errorf("dequantize: %w", err)
	}
	if len(data) != size {
		return nil, fmt.Errorf("dequantize: %d values of %s take %d bytes, not %d", n, name, size, len(data))
	}
	out := make([]float32, n)
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&data[0])
	pin.Pin(&out[0])
	C.native_to_float(tr.to_float, unsafe.Pointer(&data[0]), (*C.float)(&out[0]), C.int64_t(n))
	return out, nil
}

// Quantize converts nRows rows of nPerRow float32 values from src into ggml
// type typ (a GGUF tensor type id) with ggml_quantize_chunk, as llama.cpp's
// quantiser does without an importance matrix. len(src) must be
// nRows·nPerRow and nPerRow whole blocks of the type; types that need an
// importance matrix (some IQ types) are refused. nRows == 0 only checks the
// type and row length. The result is a new slice. Safe for concurrent use.
func Quantize(typ uint32, src []float32, nRows, nPerRow int) ([]byte, error) {
	_, name, err := typeTraits(typ)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if !quantizable[typ] {
		return nil, fmt.Errorf("quantize: ggml cannot quantize to %s", name)
	}
	if C.ggml_quantize_requires_imatrix(C.enum_ggml_type(typ)) {
		return nil, fmt.Errorf("quantize: %s needs an importance matrix, which is not supported", name)
	}
	rs, err := rowSize(typ, name, nPerRow)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if nRows < 0 || len(src) != nRows*nPerRow {
		return nil, fmt.Errorf("quantize: %d values are not %d rows of %d", len(src), nRows, nPerRow)
	}
	if nRows == 0 {
		return []byte{}, nil
	}
	out := make([]byte, nRows*rs)
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&src[0])
	pin.Pin(&out[0])
	got := C.ggml_quantize_chunk(C.enum_ggml_type(typ), (*C.float)(&src[0]), unsafe.Pointer(&out[0]), 0, C.int64_t(nRows), C.int64_t(nPerRow), nil)
	if int(got) != len(out) {
		return nil, fmt.Errorf("quantize: ggml wrote %d bytes of %s, want %d", int(got), name, len(out))
	}
	return out, nil
}
