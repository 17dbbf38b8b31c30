package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// File is a GGUF file's header, metadata and tensor infos, with access to
// tensor data. A File is safe for concurrent reads of tensor data; Close
// it when done.
type File struct {
	Path       string
	Version    uint32
	Metadata   Metadata
	Tensors    []TensorInfo
	Alignment  int64 // of the data section and every tensor
	DataOffset int64 // file offset of the data section
	Size       int64 // file size in bytes

	r      io.ReaderAt
	closer io.Closer
	index  map[string]int
}

// Open reads and validates the GGUF file at path. The file stays open for
// tensor data until Close.
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
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, not a gguf file", path)
	}
	gf, err := Read(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	gf.closer = f
	return gf, nil
}

// Read reads and validates a GGUF file of size bytes from r. path names
// the file in errors and may be empty. Closing the File does not close r.
func Read(r io.ReaderAt, size int64, path string) (*File, error) {
	d := &decoder{
		path: path,
		size: size,
		br:   bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16),
	}
	f := &File{Path: path, Size: size, r: r}
	if err := d.decode(f); err != nil {
		return nil, err
	}
	return f, nil
}

// Close closes the underlying file if Open opened it.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

// Architecture is the value of general.architecture, or "".
func (f *File) Architecture() string {
	s, _ := f.Metadata.String("general.architecture")
	return s
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorReader returns a reader of t's data (t must come from f).
func (f *File) TensorReader(t TensorInfo) *io.SectionReader {
	return io.NewSectionReader(f.r, f.DataOffset+t.Offset, t.Size())
}

// ReadTensor returns the raw bytes of the named tensor.
func (f *File) ReadTensor(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	b := make([]byte, t.Size())
	if _, err := io.ReadFull(f.TensorReader(t), b); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, name, err)
	}
	return b, nil
}

// decoder reads the header sequentially, tracking the offset and checking
// every length against the bytes left before allocating.
type decoder struct {
	path  string
	size  int64
	off   int64
	br    *bufio.Reader
	where string // key or tensor being read, for errors
	buf   [8]byte
}

func (d *decoder) errAt(off int64, format string, args ...any) error {
	return &FormatError{Path: d.path, Offset: off, Where: d.where, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) left() int64 { return d.size - d.off }

func (d *decoder) read(p []byte) error {
	if int64(len(p)) > d.left() {
		return d.errAt(d.off, "file ends after %d bytes, %d more needed: truncated", d.size, int64(len(p))-d.left())
	}
	if _, err := io.ReadFull(d.br, p); err != nil {
		return d.errAt(d.off, "read: %v", err)
	}
	d.off += int64(len(p))
	return nil
}

func (d *decoder) u32() (uint32, error) {
	if err := d.read(d.buf[:4]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(d.buf[:4]), nil
}

func (d *decoder) u64() (uint64, error) {
	if err := d.read(d.buf[:8]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(d.buf[:8]), nil
}

// count reads a u64 count of items of at least minSize bytes each and
// checks that they can fit in the rest of the file.
func (d *decoder) count(what string, minSize int64) (int64, error) {
	at := d.off
	n, err := d.u64()
	if err != nil {
		return 0, err
	}
	if n > uint64(math.MaxInt64) || (minSize > 0 && int64(n) > d.left()/minSize) {
		return 0, d.errAt(at, "%s %d does not fit in the %d bytes left in the file", what, n, d.left())
	}
	return int64(n), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.count("string length", 1)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if err := d.read(b); err != nil {
		return "", err
	}
	return string(b), nil
}

func (d *decoder) decode(f *File) error {
	var magic [4]byte
	if d.size < 4 {
		return d.errAt(0, "file is %d bytes, too short for a gguf header: not a gguf file", d.size)
	}
	if err := d.read(magic[:]); err != nil {
		return err
	}
	if string(magic[:]) != Magic {
		return d.errAt(0, "bad magic %q, want %q: not a gguf file", magic[:], Magic)
	}
	v, err := d.u32()
	if err != nil {
		return err
	}
	if v != 2 && v != 3 {
		return d.errAt(4, "unsupported gguf version %d, want 2 or 3", v)
	}
	f.Version = v
	// A tensor info is at least a name length (8), dims (4), one dim (8),
	// type (4) and offset (8); a key/value at least a key length (8), a
	// type (4) and a one-byte value.
	at := d.off
	nt, err := d.count("tensor count", 32)
	if err != nil {
		return err
	}
	nkv, err := d.count("key/value count", 13)
	if err != nil {
		return err
	}
	if nt*32+nkv*13 > d.left() {
		return d.errAt(at, "%d tensors and %d key/values do not fit in the %d bytes left in the file", nt, nkv, d.left())
	}
	f.Metadata = make(Metadata, 0, nkv)
	seen := make(map[string]bool, nkv)
	for i := int64(0); i < nkv; i++ {
		d.where = fmt.Sprintf("key/value %d", i)
		kat := d.off
		key, err := d.str()
		if err != nil {
			return err
		}
		d.where = fmt.Sprintf("key %q", key)
		if seen[key] {
			return d.errAt(kat, "duplicate key")
		}
		seen[key] = true
		tat := d.off
		t, err := d.u32()
		if err != nil {
			return err
		}
		val, err := d.value(ValueType(t), tat)
		if err != nil {
			return err
		}
		f.Metadata = append(f.Metadata, KeyValue{Key: key, Value: val})
	}
	d.where = ""
	f.Alignment = DefaultAlignment
	if kv, ok := f.Metadata.Lookup(KeyAlignment); ok {
		d.where = fmt.Sprintf("key %q", KeyAlignment)
		a, ok := kv.Value.(uint32)
		if !ok {
			// llama.cpp asserts the type and aborts the process.
			return d.errAt(-1, "is %s, want u32", typeName(kv))
		}
		if a == 0 || a&(a-1) != 0 {
			return d.errAt(-1, "alignment %d is not a power of 2", a)
		}
		f.Alignment = int64(a)
		d.where = ""
	}

	f.Tensors = make([]TensorInfo, 0, nt)
	f.index = make(map[string]int, nt)
	offsets := make([]int64, 0, nt)
	for i := int64(0); i < nt; i++ {
		d.where = fmt.Sprintf("tensor %d", i)
		iat := d.off
		name, err := d.str()
		if err != nil {
			return err
		}
		d.where = fmt.Sprintf("tensor %q", name)
		if _, dup := f.index[name]; dup {
			return d.errAt(iat, "duplicate tensor name")
		}
		nd, err := d.u32()
		if err != nil {
			return err
		}
		if nd < 1 || nd > MaxDims {
			return d.errAt(d.off-4, "has %d dimensions, want 1 to %d", nd, MaxDims)
		}
		shape := make([]int64, nd)
		for j := range shape {
			x, err := d.u64()
			if err != nil {
				return err
			}
			if x > math.MaxInt64 {
				return d.errAt(d.off-8, "dimension %d is negative (%d)", j, int64(x))
			}
			shape[j] = int64(x)
		}
		t, err := d.u32()
		if err != nil {
			return err
		}
		o, err := d.u64()
		if err != nil {
			return err
		}
		ti := TensorInfo{Name: name, Type: TensorType(t), Shape: shape}
		if err := checkTensor(ti); err != nil {
			return d.errAt(iat, "%v", err)
		}
		if o > math.MaxInt64 {
			return d.errAt(d.off-8, "offset %d is out of range", o)
		}
		ti.Offset = int64(o)
		offsets = append(offsets, d.off-8)
		f.index[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	d.where = ""
	f.DataOffset = align(d.off, f.Alignment)
	// ggml requires tensors in file order, each at the padded end of the
	// previous one, and all data inside the file.
	var next int64
	for i, t := range f.Tensors {
		d.where = fmt.Sprintf("tensor %q", t.Name)
		if t.Offset != next {
			return d.errAt(offsets[i], "data offset %d, want %d (tensors must be stored in order, aligned to %d bytes)", t.Offset, next, f.Alignment)
		}
		end := f.DataOffset + t.Offset + t.Size()
		if end > d.size || end < 0 {
			return d.errAt(f.DataOffset+t.Offset, "data of %d bytes runs past the end of the file (%d bytes): truncated", t.Size(), d.size)
		}
		next = align(t.Offset+t.Size(), f.Alignment)
	}
	d.where = ""
	return nil
}

// value reads a value of type t whose type field starts at tat.
func (d *decoder) value(t ValueType, tat int64) (any, error) {
	switch t {
	case TypeUint8, TypeInt8, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeFloat32, TypeBool, TypeUint64, TypeInt64, TypeFloat64:
		b := d.buf[:t.size()]
		if err := d.read(b); err != nil {
			return nil, err
		}
		return scalar(t, b)
	case TypeString:
		return d.str()
	case TypeArray:
		eat := d.off
		e, err := d.u32()
		if err != nil {
			return nil, err
		}
		et := ValueType(e)
		if et == TypeArray {
			return nil, d.errAt(eat, "arrays of arrays are not supported")
		}
		sz := et.size()
		if sz < 0 {
			return nil, d.errAt(eat, "array of unknown value type %d", e)
		}
		if et == TypeString {
			sz = 8
		}
		n, err := d.count("array length", sz)
		if err != nil {
			return nil, err
		}
		return d.array(et, n)
	}
	return nil, d.errAt(tat, "unknown value type %d", uint32(t))
}

func scalar(t ValueType, b []byte) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeUint16:
		return le.Uint16(b), nil
	case TypeInt16:
		return int16(le.Uint16(b)), nil
	case TypeUint32:
		return le.Uint32(b), nil
	case TypeInt32:
		return int32(le.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case TypeBool:
		return b[0] != 0, nil
	case TypeUint64:
		return le.Uint64(b), nil
	case TypeInt64:
		return int64(le.Uint64(b)), nil
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	}
	return nil, fmt.Errorf("not a scalar type %s", t)
}

// array reads n values of type et; n was checked against the file size.
func (d *decoder) array(et ValueType, n int64) (any, error) {
	if et == TypeString {
		out := make([]string, n)
		for i := range out {
			s, err := d.str()
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	sz := et.size()
	raw := make([]byte, n*sz)
	at := d.off
	if err := d.read(raw); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch et {
	case TypeUint8:
		return raw, nil
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out, nil
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = raw[i] != 0
		}
		return out, nil
	case TypeUint16, TypeInt16:
		u := make([]uint16, n)
		for i := range u {
			u[i] = le.Uint16(raw[2*i:])
		}
		if et == TypeUint16 {
			return u, nil
		}
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(u[i])
		}
		return out, nil
	case TypeUint32, TypeInt32, TypeFloat32:
		switch et {
		case TypeUint32:
			out := make([]uint32, n)
			for i := range out {
				out[i] = le.Uint32(raw[4*i:])
			}
			return out, nil
		case TypeInt32:
			out := make([]int32, n)
			for i := range out {
				out[i] = int32(le.Uint32(raw[4*i:]))
			}
			return out, nil
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out, nil
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out, nil
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out, nil
	}
	return nil, d.errAt(at, "array of unknown value type %d", uint32(et))
}
