// Package gguf reads, validates and writes GGUF files, the format
// llama.cpp loads models, vision projectors and LoRA adapters from.
//
// Reading checks everything llama.cpp would abort on or read past (magic,
// version, counts and string lengths against the file size, value and
// tensor types, dimensions, tensor offsets, alignment and data bounds) and
// never allocates from an untrusted count before checking it against the
// bytes left in the file. Errors are *FormatError values that name the
// file, the key or tensor, and the byte offset.
//
// Writing streams: the header, metadata and tensor infos go first, then
// the tensor data one tensor (or one chunk) at a time, so a multi-gigabyte
// model needs no buffer of its size.
//
// ValidateModel, ValidateProjector and ValidateLoRA check that a Qwen2-VL
// model, its projector and a LoRA adapter fit one another before llama.cpp
// sees them.
//
// The format facts (GGUF v2/v3 layout, ggml type sizes, default alignment
// 32) are those of ggml's gguf.cpp and ggml.c at the llama.cpp commit
// vendored by github.com/ollama/ollama v0.17.4.
package gguf

import (
	"fmt"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the alignment of the data section and of every
// tensor's data when general.alignment is absent.
const DefaultAlignment = 32

// Version is the GGUF version the Writer writes.
const Version = 3

// MaxNameLen is one more than the longest tensor name ggml accepts
// (GGML_MAX_NAME).
const MaxNameLen = 64

// MaxDims is the most dimensions a ggml tensor has (GGML_MAX_DIMS).
const MaxDims = 4

// KeyAlignment is the metadata key that sets the data alignment.
const KeyAlignment = "general.alignment"

// ValueType is the type of a metadata value.
type ValueType uint32

// Metadata value types, numbered as in GGUF.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size is the encoded size of a scalar of type t, 0 for strings and
// arrays, -1 for unknown types.
func (t ValueType) size() int64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	case TypeString, TypeArray:
		return 0
	}
	return -1
}

// TensorType is a ggml tensor type.
type TensorType uint32

// ggml tensor types, numbered as in ggml.h.
const (
	F32     TensorType = 0
	F16     TensorType = 1
	Q4_0    TensorType = 2
	Q4_1    TensorType = 3
	Q5_0    TensorType = 6
	Q5_1    TensorType = 7
	Q8_0    TensorType = 8
	Q8_1    TensorType = 9
	Q2_K    TensorType = 10
	Q3_K    TensorType = 11
	Q4_K    TensorType = 12
	Q5_K    TensorType = 13
	Q6_K    TensorType = 14
	Q8_K    TensorType = 15
	IQ2_XXS TensorType = 16
	IQ2_XS  TensorType = 17
	IQ3_XXS TensorType = 18
	IQ1_S   TensorType = 19
	IQ4_NL  TensorType = 20
	IQ3_S   TensorType = 21
	IQ2_S   TensorType = 22
	IQ4_XS  TensorType = 23
	I8      TensorType = 24
	I16     TensorType = 25
	I32     TensorType = 26
	I64     TensorType = 27
	F64     TensorType = 28
	IQ1_M   TensorType = 29
	BF16    TensorType = 30
	TQ1_0   TensorType = 34
	TQ2_0   TensorType = 35
	MXFP4   TensorType = 39
)

// typeTraits are the name, values per block and bytes per block of each
// ggml type (ggml.c type_traits). Types removed from ggml are absent.
var typeTraits = map[TensorType]struct {
	name       string
	blockSize  int64
	blockBytes int64
}{
	F32: {"f32", 1, 4}, F16: {"f16", 1, 2}, Q4_0: {"q4_0", 32, 18}, Q4_1: {"q4_1", 32, 20},
	Q5_0: {"q5_0", 32, 22}, Q5_1: {"q5_1", 32, 24}, Q8_0: {"q8_0", 32, 34}, Q8_1: {"q8_1", 32, 36},
	Q2_K: {"q2_K", 256, 84}, Q3_K: {"q3_K", 256, 110}, Q4_K: {"q4_K", 256, 144}, Q5_K: {"q5_K", 256, 176},
	Q6_K: {"q6_K", 256, 210}, Q8_K: {"q8_K", 256, 292}, IQ2_XXS: {"iq2_xxs", 256, 66}, IQ2_XS: {"iq2_xs", 256, 74},
	IQ3_XXS: {"iq3_xxs", 256, 98}, IQ1_S: {"iq1_s", 256, 50}, IQ4_NL: {"iq4_nl", 32, 18}, IQ3_S: {"iq3_s", 256, 110},
	IQ2_S: {"iq2_s", 256, 82}, IQ4_XS: {"iq4_xs", 256, 136}, I8: {"i8", 1, 1}, I16: {"i16", 1, 2},
	I32: {"i32", 1, 4}, I64: {"i64", 1, 8}, F64: {"f64", 1, 8}, IQ1_M: {"iq1_m", 256, 56},
	BF16: {"bf16", 1, 2}, TQ1_0: {"tq1_0", 256, 54}, TQ2_0: {"tq2_0", 256, 66}, MXFP4: {"mxfp4", 32, 17},
}

// Known reports whether ggml at the pinned commit knows type t.
func (t TensorType) Known() bool { _, ok := typeTraits[t]; return ok }

// BlockSize is the number of values in one block of type t (1 for plain
// types, 32 or 256 for quantized ones), 0 for an unknown type.
func (t TensorType) BlockSize() int64 { return typeTraits[t].blockSize }

// BlockBytes is the size in bytes of one block of type t, 0 for an
// unknown type.
func (t TensorType) BlockBytes() int64 { return typeTraits[t].blockBytes }

func (t TensorType) String() string {
	if tt, ok := typeTraits[t]; ok {
		return tt.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// RowBytes is the size in bytes of a row of n values of type t. n must be
// a multiple of the block size.
func (t TensorType) RowBytes(n int64) int64 {
	tt := typeTraits[t]
	if tt.blockSize == 0 {
		return 0
	}
	return n / tt.blockSize * tt.blockBytes
}

// FormatError reports a malformed GGUF file: which file, where, and what is
// wrong there.
type FormatError struct {
	Path   string // the file, as given to Open; may be empty
	Offset int64  // byte offset of the bad value, -1 if not known
	Where  string // the key or tensor concerned, e.g. `key "general.architecture"`; may be empty
	Msg    string // what is wrong; follows Where as a predicate ("is i32, want u32")
}

func (e *FormatError) Error() string {
	s := "gguf"
	if e.Path != "" {
		s = e.Path
	}
	switch {
	case e.Where != "" && e.Offset >= 0:
		return fmt.Sprintf("%s: %s at byte %d: %s", s, e.Where, e.Offset, e.Msg)
	case e.Where != "":
		return fmt.Sprintf("%s: %s %s", s, e.Where, e.Msg)
	case e.Offset >= 0:
		return fmt.Sprintf("%s: at byte %d: %s", s, e.Offset, e.Msg)
	}
	return s + ": " + e.Msg
}

func align(n, a int64) int64 { return (n + a - 1) / a * a }
