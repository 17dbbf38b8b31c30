package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// Writer writes a GGUF v3 file as a stream: NewWriter writes the header,
// metadata and tensor infos; then the tensors' data follows in the order
// the infos were given, through Write (any chunking) or WriteTensor (one
// whole tensor), and the Writer inserts the alignment padding between
// tensors. Close checks that every tensor was written in full. A Writer is
// not safe for concurrent use.
type Writer struct {
	w       *bufio.Writer
	tensors []TensorInfo
	align   int64
	cur     int   // tensor being written
	done    int64 // bytes of tensor cur written
	err     error
}

// NewWriter writes the header of a GGUF file holding md and the tensors
// described by tensors (their Offset fields are computed, not read) to w.
// The alignment is md's general.alignment (a u32 power of two) or
// DefaultAlignment.
func NewWriter(w io.Writer, md Metadata, tensors []TensorInfo) (*Writer, error) {
	gw := &Writer{w: bufio.NewWriterSize(w, 1<<20), align: DefaultAlignment}
	seen := make(map[string]bool, len(md))
	for _, kv := range md {
		if seen[kv.Key] {
			return nil, fmt.Errorf("gguf: duplicate key %q", kv.Key)
		}
		seen[kv.Key] = true
		if _, _, err := typeOf(kv.Value); err != nil {
			return nil, fmt.Errorf("gguf: key %q: %w", kv.Key, err)
		}
		if kv.Key == KeyAlignment {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("gguf: key %q must be a u32 power of 2, is %v", kv.Key, kv.Value)
			}
			gw.align = int64(a)
		}
	}
	gw.tensors = make([]TensorInfo, len(tensors))
	names := make(map[string]bool, len(tensors))
	var off int64
	for i, t := range tensors {
		if err := checkTensor(t); err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("gguf: duplicate tensor %q", t.Name)
		}
		names[t.Name] = true
		t.Shape = append([]int64(nil), t.Shape...)
		t.Offset = off
		off = align(off+t.Size(), gw.align)
		gw.tensors[i] = t
	}

	b := gw.w
	b.WriteString(Magic)
	gw.u32(Version)
	gw.u64(uint64(len(tensors)))
	gw.u64(uint64(len(md)))
	for _, kv := range md {
		gw.str(kv.Key)
		gw.value(kv.Value)
	}
	var n int64 = 4 + 4 + 8 + 8
	for _, kv := range md {
		n += 8 + int64(len(kv.Key)) + valueSize(kv.Value)
	}
	for _, t := range gw.tensors {
		gw.str(t.Name)
		gw.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			gw.u64(uint64(d))
		}
		gw.u32(uint32(t.Type))
		gw.u64(uint64(t.Offset))
		n += 8 + int64(len(t.Name)) + 4 + 8*int64(len(t.Shape)) + 4 + 8
	}
	gw.pad(n)
	if gw.err != nil {
		return nil, gw.err
	}
	gw.skipEmpty()
	return gw, nil
}

// Tensors returns the tensor infos with their offsets, in write order.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// Write writes the next bytes of tensor data, crossing tensor boundaries
// (and inserting their padding) as needed. Writing more than the tensors
// hold is an error.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && w.err == nil {
		if w.cur >= len(w.tensors) {
			w.err = fmt.Errorf("gguf: %d bytes written past the last tensor", len(p))
			break
		}
		t := w.tensors[w.cur]
		k := min(int64(len(p)), t.Size()-w.done)
		if _, err := w.w.Write(p[:k]); err != nil {
			w.err = err
			break
		}
		n += int(k)
		p = p[k:]
		w.done += k
		if w.done == t.Size() {
			w.pad(t.Size())
			w.cur++
			w.done = 0
			w.skipEmpty()
		}
	}
	return n, w.err
}

// skipEmpty moves past tensors with no data.
func (w *Writer) skipEmpty() {
	for w.cur < len(w.tensors) && w.tensors[w.cur].Size() == 0 {
		w.cur++
	}
}

// WriteTensor writes the whole data of the next tensor, which must be
// data's length.
func (w *Writer) WriteTensor(data []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.cur >= len(w.tensors) {
		return fmt.Errorf("gguf: all %d tensors were already written", len(w.tensors))
	}
	t := w.tensors[w.cur]
	if w.done != 0 || int64(len(data)) != t.Size() {
		return fmt.Errorf("gguf: tensor %q is %d bytes (%s %s), got %d", t.Name, t.Size(), t.Type, t.ShapeString(), len(data))
	}
	_, err := w.Write(data)
	return err
}

// Next is the tensor whose data the next Write starts or continues, and
// false once all are written.
func (w *Writer) Next() (TensorInfo, bool) {
	if w.cur >= len(w.tensors) {
		return TensorInfo{}, false
	}
	return w.tensors[w.cur], true
}

// Close flushes the stream and reports an error if a tensor is missing or
// incomplete. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		return fmt.Errorf("gguf: tensor %q has %d of %d bytes, and %d tensors follow it", t.Name, w.done, t.Size(), len(w.tensors)-w.cur-1)
	}
	return w.w.Flush()
}

func (w *Writer) pad(n int64) {
	if p := align(n, w.align) - n; p > 0 {
		var zero [64]byte
		for p > 0 {
			k := min(p, int64(len(zero)))
			w.write(zero[:k])
			p -= k
		}
	}
}

func (w *Writer) write(p []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(p)
	}
}

func (w *Writer) u32(v uint32) { w.write(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *Writer) u64(v uint64) { w.write(binary.LittleEndian.AppendUint64(nil, v)) }
func (w *Writer) str(s string) {
	w.u64(uint64(len(s)))
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

// value writes v's type and value.
func (w *Writer) value(v any) {
	t, e, _ := typeOf(v)
	w.u32(uint32(t))
	if t == TypeArray {
		w.u32(uint32(e))
		w.u64(uint64(KeyValue{Value: v}.Len()))
	}
	w.write(appendValue(nil, v))
}

// appendValue appends the encoding of v without its type.
func appendValue(b []byte, v any) []byte {
	le := binary.LittleEndian
	switch x := v.(type) {
	case uint8:
		return append(b, x)
	case int8:
		return append(b, byte(x))
	case uint16:
		return le.AppendUint16(b, x)
	case int16:
		return le.AppendUint16(b, uint16(x))
	case uint32:
		return le.AppendUint32(b, x)
	case int32:
		return le.AppendUint32(b, uint32(x))
	case float32:
		return le.AppendUint32(b, math.Float32bits(x))
	case bool:
		if x {
			return append(b, 1)
		}
		return append(b, 0)
	case string:
		b = le.AppendUint64(b, uint64(len(x)))
		return append(b, x...)
	case uint64:
		return le.AppendUint64(b, x)
	case int64:
		return le.AppendUint64(b, uint64(x))
	case float64:
		return le.AppendUint64(b, math.Float64bits(x))
	case []uint8:
		return append(b, x...)
	case []int8:
		for _, y := range x {
			b = append(b, byte(y))
		}
	case []uint16:
		for _, y := range x {
			b = le.AppendUint16(b, y)
		}
	case []int16:
		for _, y := range x {
			b = le.AppendUint16(b, uint16(y))
		}
	case []uint32:
		for _, y := range x {
			b = le.AppendUint32(b, y)
		}
	case []int32:
		for _, y := range x {
			b = le.AppendUint32(b, uint32(y))
		}
	case []float32:
		for _, y := range x {
			b = le.AppendUint32(b, math.Float32bits(y))
		}
	case []bool:
		for _, y := range x {
			b = appendValue(b, y)
		}
	case []string:
		for _, y := range x {
			b = appendValue(b, y)
		}
	case []uint64:
		for _, y := range x {
			b = le.AppendUint64(b, y)
		}
	case []int64:
		for _, y := range x {
			b = le.AppendUint64(b, uint64(y))
		}
	case []float64:
		for _, y := range x {
			b = le.AppendUint64(b, math.Float64bits(y))
		}
	}
	return b
}

// valueSize is the encoded size of a key's type and value.
func valueSize(v any) int64 {
	t, _, _ := typeOf(v)
	n := int64(4)
	if t == TypeArray {
		n += 12
	}
	switch x := v.(type) {
	case string:
		return n + 8 + int64(len(x))
	case []string:
		for _, s := range x {
			n += 8 + int64(len(s))
		}
		return n
	}
	if t == TypeArray {
		_, e, _ := typeOf(v)
		return n + e.size()*int64(KeyValue{Value: v}.Len())
	}
	return n + t.size()
}

// Create writes a whole GGUF file at path: header, then for each tensor in
// order, data(i, w) writes tensor i's bytes to w (in as many writes as it
// likes). On error the partial file is removed.
func Create(path string, md Metadata, tensors []TensorInfo, data func(i int, w io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	w, err := NewWriter(f, md, tensors)
	if err != nil {
		return err
	}
	for i, t := range w.Tensors() {
		if err := data(i, w); err != nil {
			return fmt.Errorf("%s: tensor %q: %w", path, t.Name, err)
		}
		if w.cur <= i && t.Size() > 0 {
			return fmt.Errorf("%s: tensor %q: %d of its %d bytes written", path, t.Name, w.done, t.Size())
		}
		if w.cur > i+1 || w.done != 0 {
			return fmt.Errorf("%s: tensor %q: more than its %d bytes written", path, t.Name, t.Size())
		}
	}
	return w.Close()
}
