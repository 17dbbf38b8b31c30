package lora

// A small GGUF reader and streaming writer for what convert and merge need:
// metadata kept as raw bytes (so that a merged file carries every key of
// its base unchanged), tensor infos, and tensor data read by offset. The
// format facts (GGUF v3: magic, version, counts, typed key/values, tensor
// infos, aligned data section) are those of ggml's gguf.cpp.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

const (
	ggufMagic            = 0x46554747 // "GGUF" little-endian
	ggufDefaultAlignment = 32
	// Sanity bounds, far above any real file, so that a corrupt count
	// cannot make us allocate without limit.
	maxKV      = 1 << 20
	maxTensors = 1 << 20
	maxString  = 1 << 30
)

// GGUF value types.
const (
	gU8 = iota
	gI8
	gU16
	gI16
	gU32
	gI32
	gF32
	gBool
	gString
	gArray
	gU64
	gI64
	gF64
)

var ggufScalarSize = map[uint32]int64{gU8: 1, gI8: 1, gU16: 2, gI16: 2, gU32: 4, gI32: 4, gF32: 4, gBool: 1, gU64: 8, gI64: 8, gF64: 8}

// ggmlTypes are the block size (values) and block bytes of ggml's tensor
// types (ggml.c type_traits).
var ggmlTypes = map[uint32][2]int64{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34}, 9: {32, 36},
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 15: {256, 292},
	16: {256, 66}, 17: {256, 74}, 18: {256, 98}, 19: {256, 50}, 20: {32, 18}, 21: {256, 110},
	22: {256, 82}, 23: {256, 136}, 24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8},
	29: {256, 56}, 30: {1, 2}, 34: {256, 54}, 35: {256, 66}, 39: {32, 17},
}

// kv is one metadata entry with its value as raw GGUF bytes.
type kv struct {
	key string
	typ uint32
	raw []byte
}

// tensorInfo is one tensor of a GGUF file.
type tensorInfo struct {
	name   string
	ne     []int64 // ne[0] varies fastest
	typ    uint32
	offset int64 // within the data section
	size   int64
}

func (t tensorInfo) rows() int64 {
	n := int64(1)
	for _, d := range t.ne[1:] {
		n *= d
	}
	return n
}

// ggufFile is an open GGUF file.
type ggufFile struct {
	path    string
	f       *os.File
	kvs     []kv
	tensors []tensorInfo
	byName  map[string]int
	data    int64 // file offset of the data section
	align   int64
}

type ggufReader struct {
	r    *bufio.Reader
	off  int64
	size int64
	err  error
}

func (g *ggufReader) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("at byte %d: %s", g.off, fmt.Sprintf(format, args...))
	}
}

func (g *ggufReader) bytes(n int64) []byte {
	if g.err != nil {
		return nil
	}
	if n < 0 || n > g.size-g.off {
		g.fail("%d bytes run past the end of the file", n)
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(g.r, b); err != nil {
		g.err = fmt.Errorf("at byte %d: %w", g.off, err)
		return nil
	}
	g.off += n
	return b
}

func (g *ggufReader) u32() uint32 {
	b := g.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (g *ggufReader) u64() uint64 {
	b := g.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (g *ggufReader) str() string {
	n := g.u64()
	if n > maxString {
		g.fail("string length %d is too large", n)
		return ""
	}
	return string(g.bytes(int64(n)))
}

// value reads a value of type typ and returns its raw bytes.
func (g *ggufReader) value(typ uint32, depth int) []byte {
	if s, ok := ggufScalarSize[typ]; ok {
		return g.bytes(s)
	}
	switch typ {
	case gString:
		n := g.u64()
		if n > maxString {
			g.fail("string length %d is too large", n)
			return nil
		}
		return append(binary.LittleEndian.AppendUint64(nil, n), g.bytes(int64(n))...)
	case gArray:
		if depth > 2 {
			g.fail("arrays nested too deep")
			return nil
		}
		et := g.u32()
		n := g.u64()
		out := binary.LittleEndian.AppendUint32(nil, et)
		out = binary.LittleEndian.AppendUint64(out, n)
		if s, ok := ggufScalarSize[et]; ok {
			if n > uint64(g.size) {
				g.fail("array of %d values runs past the end of the file", n)
				return nil
			}
			return append(out, g.bytes(int64(n)*s)...)
		}
		for i := uint64(0); i < n && g.err == nil; i++ {
			out = append(out, g.value(et, depth+1)...)
		}
		return out
	}
	g.fail("unknown value type %d", typ)
	return nil
}

// openGGUF opens and validates a GGUF file: header, metadata, tensor
// infos, and that every tensor's data lies inside the file.
func openGGUF(path string) (*ggufFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	gf, err := readGGUF(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return gf, nil
}

func readGGUF(f *os.File, path string) (*ggufFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	g := &ggufReader{r: bufio.NewReaderSize(f, 1<<16), size: st.Size()}
	if g.u32() != ggufMagic {
		if g.err != nil {
			return nil, fmt.Errorf("%s: not a GGUF file: too short", path)
		}
		return nil, fmt.Errorf("%s: not a GGUF file: bad magic", path)
	}
	if v := g.u32(); v != 2 && v != 3 {
		return nil, fmt.Errorf("%s: GGUF version %d is not supported", path, v)
	}
	nt, nkv := g.u64(), g.u64()
	if g.err != nil {
		return nil, fmt.Errorf("%s: truncated header: %w", path, g.err)
	}
	if nt > maxTensors || nkv > maxKV {
		return nil, fmt.Errorf("%s: header claims %d tensors and %d metadata keys", path, nt, nkv)
	}
	gf := &ggufFile{path: path, f: f, byName: map[string]int{}, align: ggufDefaultAlignment}
	for i := uint64(0); i < nkv && g.err == nil; i++ {
		key := g.str()
		typ := g.u32()
		raw := g.value(typ, 0)
		if g.err != nil {
			break
		}
		if key == "general.alignment" {
			if typ != gU32 || binary.LittleEndian.Uint32(raw) == 0 || binary.LittleEndian.Uint32(raw)&(binary.LittleEndian.Uint32(raw)-1) != 0 {
				return nil, fmt.Errorf("%s: general.alignment is not a power of two", path)
			}
			gf.align = int64(binary.LittleEndian.Uint32(raw))
		}
		gf.kvs = append(gf.kvs, kv{key, typ, raw})
	}
	for i := uint64(0); i < nt && g.err == nil; i++ {
		t := tensorInfo{name: g.str()}
		nd := g.u32()
		if nd == 0 || nd > 4 {
			g.fail("tensor %q has %d dimensions", t.name, nd)
			break
		}
		n := int64(1)
		for range nd {
			d := g.u64()
			if d == 0 || d > 1<<40 || n > math.MaxInt64/int64(d)/8 {
				g.fail("tensor %q has a bad dimension %d", t.name, d)
				break
			}
			n *= int64(d)
			t.ne = append(t.ne, int64(d))
		}
		t.typ = g.u32()
		t.offset = int64(g.u64())
		if g.err != nil {
			break
		}
		tt, ok := ggmlTypes[t.typ]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q has unknown type %d", path, t.name, t.typ)
		}
		if t.ne[0]%tt[0] != 0 {
			return nil, fmt.Errorf("%s: tensor %q: row of %d values is not a whole number of %s blocks", path, t.name, t.ne[0], typeName(t.typ))
		}
		t.size = n / tt[0] * tt[1]
		if _, dup := gf.byName[t.name]; dup {
			return nil, fmt.Errorf("%s: tensor %q appears twice", path, t.name)
		}
		gf.byName[t.name] = len(gf.tensors)
		gf.tensors = append(gf.tensors, t)
	}
	if g.err != nil {
		return nil, fmt.Errorf("%s: %w", path, g.err)
	}
	gf.data = (g.off + gf.align - 1) / gf.align * gf.align
	for _, t := range gf.tensors {
		if t.offset < 0 || t.offset%gf.align != 0 || t.offset > st.Size()-gf.data || t.size > st.Size()-gf.data-t.offset {
			return nil, fmt.Errorf("%s: tensor %q: data at offset %d (%d bytes) lies outside the file or is misaligned", path, t.name, t.offset, t.size)
		}
	}
	return gf, nil
}

func (gf *ggufFile) Close() error {
	if gf.f == nil {
		return nil
	}
	err := gf.f.Close()
	gf.f = nil
	return err
}

func (gf *ggufFile) lookup(name string) (tensorInfo, bool) {
	i, ok := gf.byName[name]
	if !ok {
		return tensorInfo{}, false
	}
	return gf.tensors[i], true
}

// str returns the string value of key, or "".
func (gf *ggufFile) str(key string) string {
	for _, e := range gf.kvs {
		if e.key == key && e.typ == gString {
			return string(e.raw[8:])
		}
	}
	return ""
}

// f32 returns the float32 value of key.
func (gf *ggufFile) f32(key string) (float32, bool) {
	for _, e := range gf.kvs {
		if e.key == key && e.typ == gF32 {
			return math.Float32frombits(binary.LittleEndian.Uint32(e.raw)), true
		}
	}
	return 0, false
}

// section returns a reader of tensor t's data.
func (gf *ggufFile) section(t tensorInfo) *io.SectionReader {
	return io.NewSectionReader(gf.f, gf.data+t.offset, t.size)
}

// readFloat64s reads a whole F32/F16/BF16/Q8_0 tensor as float64.
func (gf *ggufFile) readFloat64s(t tensorInfo) ([]float64, error) {
	rb, err := rowBytes(t.typ, int(t.ne[0]))
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", gf.path, t.name, err)
	}
	buf := make([]byte, t.size)
	if _, err := gf.f.ReadAt(buf, gf.data+t.offset); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", gf.path, t.name, err)
	}
	out := make([]float64, t.size/int64(rb)*t.ne[0])
	for r := int64(0); r < t.rows(); r++ {
		decodeRow(t.typ, buf[r*int64(rb):(r+1)*int64(rb)], out[r*t.ne[0]:(r+1)*t.ne[0]])
	}
	return out, nil
}

// ggufWriter writes a GGUF file whose tensor infos are known up front and
// whose data is then streamed tensor by tensor, in order.
type ggufWriter struct {
	w       *bufio.Writer
	f       *os.File
	tensors []tensorInfo
	next    int
	off     int64 // bytes written to the data section
	align   int64
}

func kvString(key, val string) kv {
	raw := binary.LittleEndian.AppendUint64(nil, uint64(len(val)))
	return kv{key, gString, append(raw, val...)}
}

func kvF32(key string, v float32) kv {
	return kv{key, gF32, binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))}
}

func kvU32(key string, v uint32) kv {
	return kv{key, gU32, binary.LittleEndian.AppendUint32(nil, v)}
}

// createGGUF creates path and writes the header; tensor offsets are laid
// out here in order with the given alignment.
func createGGUF(path string, kvs []kv, tensors []tensorInfo, align int64) (*ggufWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &ggufWriter{w: bufio.NewWriterSize(f, 1<<20), f: f, align: align}
	le := binary.LittleEndian
	var hdr []byte
	hdr = le.AppendUint32(hdr, ggufMagic)
	hdr = le.AppendUint32(hdr, 3)
	hdr = le.AppendUint64(hdr, uint64(len(tensors)))
	hdr = le.AppendUint64(hdr, uint64(len(kvs)))
	for _, e := range kvs {
		hdr = le.AppendUint64(hdr, uint64(len(e.key)))
		hdr = append(hdr, e.key...)
		hdr = le.AppendUint32(hdr, e.typ)
		hdr = append(hdr, e.raw...)
	}
	var off int64
	for _, t := range tensors {
		t.offset = off
		off += (t.size + align - 1) / align * align
		w.tensors = append(w.tensors, t)
		hdr = le.AppendUint64(hdr, uint64(len(t.name)))
		hdr = append(hdr, t.name...)
		hdr = le.AppendUint32(hdr, uint32(len(t.ne)))
		for _, d := range t.ne {
			hdr = le.AppendUint64(hdr, uint64(d))
		}
		hdr = le.AppendUint32(hdr, t.typ)
		hdr = le.AppendUint64(hdr, uint64(t.offset))
	}
	for int64(len(hdr))%align != 0 {
		hdr = append(hdr, 0)
	}
	if _, err := w.w.Write(hdr); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// tensor returns a writer for the next tensor's data; the caller writes
// exactly its size in bytes, then calls done.
func (w *ggufWriter) tensor() (tensorInfo, io.Writer) {
	return w.tensors[w.next], w.w
}

// done pads the data of the tensor just written.
func (w *ggufWriter) done() error {
	t := w.tensors[w.next]
	w.next++
	pad := (t.size+w.align-1)/w.align*w.align - t.size
	_, err := w.w.Write(make([]byte, pad))
	return err
}

// Close flushes and closes the file; it fails if not every tensor was
// written.
func (w *ggufWriter) Close() error {
	if w.f == nil {
		return nil
	}
	var err error
	if w.next != len(w.tensors) {
		err = fmt.Errorf("gguf writer: %d of %d tensors written", w.next, len(w.tensors))
	}
	err = errors.Join(err, w.w.Flush(), w.f.Sync(), w.f.Close())
	w.f = nil
	return err
}

// abort closes and removes an unfinished file.
func (w *ggufWriter) abort() {
	if w.f != nil {
		name := w.f.Name()
		w.f.Close()
		w.f = nil
		os.Remove(name)
	}
}
