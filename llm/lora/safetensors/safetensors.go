// Package safetensors reads the safetensors format in which PEFT saves
// adapters (adapter_model.safetensors): an 8-byte little-endian header length,
// a JSON header naming every tensor's dtype, shape and byte range, then the
// tensor data.
//
// Everything the header says is checked against the file before any data is
// read: the header length lies within the file, every tensor's byte range lies
// within the data section and has exactly dtype size × element count bytes,
// and no two tensors overlap. A [File] is safe for concurrent reads.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// maxHeader bounds the JSON header (100 MiB, as the reference implementation
// does), so that a corrupt length cannot make us allocate the whole file.
const maxHeader = 100 << 20

// DType is a tensor's element type as the header spells it ("F32", "BF16", …).
type DType string

// Element types. Only the floating-point ones F32, F16 and BF16 can be read
// as numbers; the others are parsed so that a file holding them still
// validates.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
)

// sizes is the element size in bytes of every dtype the format defines.
var sizes = map[DType]int64{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1,
	"U64": 8, "U32": 4, "U16": 2, "U8": 1,
	"BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}

// Size is the element size in bytes, 0 for an unknown dtype.
func (d DType) Size() int64 { return sizes[d] }

// Tensor describes one tensor of a file.
type Tensor struct {
	Name  string
	DType DType
	// Shape in PyTorch order: the last dimension varies fastest.
	Shape []int64
	// Begin and End are the byte range of the data, relative to the start of
	// the data section (the byte after the header).
	Begin, End int64
}

// Elements is the number of elements (1 for a scalar).
func (t Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file. Close it when done.
type File struct {
	path string
	r    io.ReaderAt
	c    io.Closer
	// data is the offset of the data section within the file.
	data int64
	// Tensors in the order of their data (by Begin).
	Tensors []Tensor
	// Metadata is the header's "__metadata__" object (PEFT writes
	// {"format": "pt"}); nil when absent.
	Metadata map[string]string
	byName   map[string]int
}

// FormatError reports a file that is not valid safetensors.
type FormatError struct {
	Path string
	Msg  string
}

func (e *FormatError) Error() string { return e.Path + ": " + e.Msg }

// Open opens and validates the safetensors file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sf, err := Parse(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.c = f
	return sf, nil
}

// Close closes the underlying file. It is safe to call more than once.
func (f *File) Close() error {
	if f.c == nil {
		return nil
	}
	err := f.c.Close()
	f.c = nil
	return err
}

// Path is the file's path as given to Open or Parse.
func (f *File) Path() string { return f.path }

// Lookup returns the tensor called name.
func (f *File) Lookup(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// rawHeaderEntry is one tensor's entry in the JSON header.
type rawHeaderEntry struct {
	DType       *DType   `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// Parse validates the safetensors data of r (size bytes) and returns its
// tensor table. name is used in errors. Reads through the returned File go
// to r.
func Parse(r io.ReaderAt, size int64, name string) (*File, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Path: name, Msg: fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, bad("not a safetensors file: %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: read header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, bad("header length %d runs past the end of the file (%d bytes)", n, size)
	}
	if n > maxHeader {
		return nil, bad("header length %d exceeds the %d-byte limit", n, maxHeader)
	}
	if n < 2 {
		return nil, bad("header length %d is too short for a JSON object", n)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: read header: %w", name, err)
	}
	if hdr[0] != '{' {
		return nil, bad("header does not start with a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, bad("header is not valid JSON: %v", err)
	}
	f := &File{path: name, r: r, data: 8 + int64(n), byName: make(map[string]int, len(raw))}
	dataSize := size - f.data
	for key, val := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(val, &f.Metadata); err != nil {
				return nil, bad("__metadata__ is not an object of strings: %v", err)
			}
			continue
		}
		var e rawHeaderEntry
		if err := json.Unmarshal(val, &e); err != nil {
			return nil, bad("tensor %q: entry is not a tensor description: %v", key, err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
			return nil, bad("tensor %q: entry lacks dtype, shape or data_offsets", key)
		}
		t := Tensor{Name: key, DType: *e.DType, Shape: *e.Shape}
		es := t.DType.Size()
		if es == 0 {
			return nil, bad("tensor %q: unknown dtype %q", key, t.DType)
		}
		if len(*e.DataOffsets) != 2 {
			return nil, bad("tensor %q: data_offsets has %d values, want 2", key, len(*e.DataOffsets))
		}
		t.Begin, t.End = (*e.DataOffsets)[0], (*e.DataOffsets)[1]
		if t.Begin < 0 || t.End < t.Begin || t.End > dataSize {
			return nil, bad("tensor %q: data_offsets [%d, %d] lie outside the %d-byte data section", key, t.Begin, t.End, dataSize)
		}
		count := uint64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, bad("tensor %q: negative dimension in shape %v", key, t.Shape)
			}
			hi, lo := bits.Mul64(count, uint64(d))
			if hi != 0 || lo > math.MaxInt64/8 {
				return nil, bad("tensor %q: shape %v is too large", key, t.Shape)
			}
			count = lo
		}
		if want := int64(count) * es; t.End-t.Begin != want {
			return nil, bad("tensor %q: %d data bytes, but %s × %v needs %d", key, t.End-t.Begin, t.DType, t.Shape, want)
		}
		f.Tensors = append(f.Tensors, t)
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int {
		if a.Begin != b.Begin {
			return int(min(max(a.Begin-b.Begin, -1), 1))
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := 1; i < len(f.Tensors); i++ {
		p, t := f.Tensors[i-1], f.Tensors[i]
		if t.Begin < p.End {
			return nil, bad("tensors %q and %q overlap in the data section", p.Name, t.Name)
		}
	}
	for i, t := range f.Tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// ErrDType is returned when a tensor's dtype cannot be read as numbers.
var ErrDType = errors.New("dtype is not F64, F32, F16 or BF16")

// Float64s reads tensor t and converts it to float64, exactly (every F32,
// F16 and BF16 value is a float64). It allocates 8 bytes per element.
func (f *File) Float64s(t Tensor) ([]float64, error) {
	buf := make([]byte, t.End-t.Begin)
	if _, err := f.r.ReadAt(buf, f.data+t.Begin); err != nil {
		return nil, fmt.Errorf("%s: read tensor %q: %w", f.path, t.Name, err)
	}
	out := make([]float64, t.Elements())
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	case F16:
		for i := range out {
			out[i] = float64(gguf.F16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:])))
		}
	case BF16:
		for i := range out {
			out[i] = float64(gguf.BF16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:])))
		}
	case F64:
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
		}
	default:
		return nil, fmt.Errorf("%s: tensor %q has dtype %s: %w", f.path, t.Name, t.DType, ErrDType)
	}
	return out, nil
}
