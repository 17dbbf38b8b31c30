package gguf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleMetadata has one key of every value type and one array of every
// element type.
func sampleMetadata() Metadata {
	return Metadata{
		KV("general.architecture", "test"),
		KV("u8", uint8(7)), KV("i8", int8(-7)), KV("u16", uint16(700)), KV("i16", int16(-700)),
		KV("u32", uint32(70000)), KV("i32", int32(-70000)), KV("f32", float32(1.5)), KV("bool", true),
		KV("u64", uint64(1<<40)), KV("i64", int64(-1<<40)), KV("f64", 2.25),
		KV("a.u8", []uint8{1, 2}), KV("a.i8", []int8{-1, 2}), KV("a.u16", []uint16{1, 2}), KV("a.i16", []int16{-1, 2}),
		KV("a.u32", []uint32{1, 2}), KV("a.i32", []int32{-1, 2}), KV("a.f32", []float32{0.5, -0.5}),
		KV("a.bool", []bool{true, false}), KV("a.str", []string{"a", "", "ccc"}), KV("a.u64", []uint64{1}),
		KV("a.i64", []int64{-1}), KV("a.f64", []float64{0.25}), KV("a.empty", []int32{}),
	}
}

func sampleTensors() []TensorInfo {
	return []TensorInfo{
		{Name: "a", Type: F32, Shape: []int64{3, 2}},
		{Name: "b", Type: F16, Shape: []int64{5}},
		{Name: "c", Type: Q8_0, Shape: []int64{32, 2}},
		{Name: "d", Type: BF16, Shape: []int64{2, 1, 1, 3}},
	}
}

// writeSample writes the sample file to a buffer; tensor i's bytes are all
// byte(i+1).
func writeSample(t testing.TB, md Metadata) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, md, sampleTensors())
	if err != nil {
		t.Fatal(err)
	}
	for i, ti := range w.Tensors() {
		if err := w.WriteTensor(bytes.Repeat([]byte{byte(i + 1)}, int(ti.Size()))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, alignment := range []uint32{0, 1, 64} {
		md := sampleMetadata()
		if alignment != 0 {
			md = append(md, KV(KeyAlignment, alignment))
		}
		b := writeSample(t, md)
		f, err := Read(bytes.NewReader(b), int64(len(b)), "x.gguf")
		if err != nil {
			t.Fatalf("alignment %d: %v", alignment, err)
		}
		if !reflect.DeepEqual(f.Metadata, md) {
			t.Errorf("alignment %d: metadata\n got %#v\nwant %#v", alignment, f.Metadata, md)
		}
		want := int64(alignment)
		if want == 0 {
			want = DefaultAlignment
		}
		if f.Alignment != want || f.DataOffset%want != 0 {
			t.Errorf("alignment %d: got alignment %d, data offset %d", alignment, f.Alignment, f.DataOffset)
		}
		for i, st := range sampleTensors() {
			ti, ok := f.Tensor(st.Name)
			if !ok || ti.Type != st.Type || !reflect.DeepEqual(ti.Shape, st.Shape) || ti.Offset%want != 0 {
				t.Errorf("alignment %d: tensor %s: got %+v", alignment, st.Name, ti)
				continue
			}
			data, err := f.ReadTensor(st.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, bytes.Repeat([]byte{byte(i + 1)}, int(st.Size()))) {
				t.Errorf("alignment %d: tensor %s data %v", alignment, st.Name, data)
			}
		}
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(path, writeSample(t, sampleMetadata()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Architecture(); got != "test" {
		t.Errorf("architecture %q", got)
	}
	if s, err := f.Metadata.Strings("a.str"); err != nil || len(s) != 3 {
		t.Errorf("Strings: %v %v", s, err)
	}
	if _, err := f.Metadata.String("u8"); err == nil || !strings.Contains(err.Error(), `"u8"`) {
		t.Errorf("String of u8: %v", err)
	}
	if n, err := f.Metadata.Int("u32"); err != nil || n != 70000 {
		t.Errorf("Int: %d %v", n, err)
	}
}

func TestBadFiles(t *testing.T) {
	good := writeSample(t, sampleMetadata())
	withVersion := func(v byte) []byte { b := bytes.Clone(good); b[4] = v; return b }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"text", []byte("hello, this is a text file\n"), "not a gguf file"},
		{"random", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100), "bad magic"},
		{"version 1", withVersion(1), "unsupported gguf version 1"},
		{"version 4", withVersion(4), "unsupported gguf version 4"},
		{"huge tensor count", append([]byte("GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f"), make([]byte, 8)...), "tensor count"},
		{"huge kv count", append([]byte("GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\x00\x00\x00"), make([]byte, 20)...), "key/value count"},
		{"huge key", append([]byte("GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00"), make([]byte, 20)...), "string length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.data), int64(len(tt.data)), "bad.gguf")
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "bad.gguf: ") {
				t.Errorf("got %v, want a format error of bad.gguf containing %q", err, tt.want)
			}
		})
	}
}

// TestTruncated cuts a valid file at every byte: each prefix must fail
// with a format error, never a panic.
func TestTruncated(t *testing.T) {
	good := writeSample(t, sampleMetadata())
	f, err := Read(bytes.NewReader(good), int64(len(good)), "good.gguf")
	if err != nil {
		t.Fatal(err)
	}
	// Like llama.cpp, the padding after the last tensor is not required.
	last := f.Tensors[len(f.Tensors)-1]
	end := f.DataOffset + last.Offset + last.Size()
	for n := range int(end) {
		_, err := Read(bytes.NewReader(good[:n]), int64(n), "cut.gguf")
		if err == nil {
			t.Fatalf("file cut at %d of %d bytes read without error", n, end)
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("cut at %d: %v is not a *FormatError", n, err)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	tensors := sampleTensors()
	if _, err := NewWriter(&bytes.Buffer{}, nil, append(tensors, tensors[0])); err == nil {
		t.Error("duplicate tensor accepted")
	}
	if _, err := NewWriter(&bytes.Buffer{}, Metadata{KV("a", 1.0), KV("a", 2.0)}, nil); err == nil {
		t.Error("duplicate key accepted")
	}
	if _, err := NewWriter(&bytes.Buffer{}, nil, []TensorInfo{{Name: "q", Type: Q4_0, Shape: []int64{10}}}); err == nil {
		t.Error("q4_0 row of 10 values accepted")
	}
	w, err := NewWriter(&bytes.Buffer{}, nil, tensors)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(make([]byte, 3)); err == nil {
		t.Error("short tensor accepted")
	}
	if err := w.Close(); err == nil {
		t.Error("Close with tensors missing succeeded")
	}
}

func TestFloatConversions(t *testing.T) {
	tests := []struct {
		f    float32
		f16  uint16
		bf16 uint16
	}{
		{0, 0, 0},
		{1, 0x3c00, 0x3f80},
		{-2, 0xc000, 0xc000},
		{65504, 0x7bff, 0x4780},
		{1e6, 0x7c00, 0x4974},
		{float32(math.Inf(-1)), 0xfc00, 0xff80},
		{5.9604645e-08, 0x0001, 0x3380}, // smallest f16 subnormal
		{0.333333333, 0x3555, 0x3eab},
	}
	for _, tt := range tests {
		if got := Float32ToF16(tt.f); got != tt.f16 {
			t.Errorf("Float32ToF16(%g) = %#04x, want %#04x", tt.f, got, tt.f16)
		}
		if got := Float32ToBF16(tt.f); got != tt.bf16 {
			t.Errorf("Float32ToBF16(%g) = %#04x, want %#04x", tt.f, got, tt.bf16)
		}
	}
	// Every finite f16 survives a trip through float32.
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 {
			continue
		}
		if got := Float32ToF16(F16ToFloat32(uint16(h))); got != uint16(h) {
			t.Fatalf("f16 %#04x -> %g -> %#04x", h, F16ToFloat32(uint16(h)), got)
		}
	}
	if !math.IsNaN(float64(F16ToFloat32(Float32ToF16(float32(math.NaN()))))) {
		t.Error("NaN lost in f16")
	}
	raw, _ := AppendFloats(nil, F16, []float32{1, -2})
	if got, err := DecodeFloats(F16, raw); err != nil || !reflect.DeepEqual(got, []float32{1, -2}) {
		t.Errorf("f16 floats: %v %v", got, err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(writeSample(f, sampleMetadata()))
	f.Add(writeSample(f, Metadata{KV(KeyAlignment, uint32(8))}))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gf, err := Read(bytes.NewReader(b), int64(len(b)), "fuzz.gguf")
		if err != nil {
			return
		}
		// What reads must write back and read again the same.
		var buf bytes.Buffer
		w, err := NewWriter(&buf, gf.Metadata, gf.Tensors)
		if err != nil {
			t.Fatalf("re-write header: %v", err)
		}
		for _, ti := range gf.Tensors {
			data, err := gf.ReadTensor(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteTensor(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		g2, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "again.gguf")
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(g2.Tensors) != len(gf.Tensors) || len(g2.Metadata) != len(gf.Metadata) {
			t.Fatal("re-read differs")
		}
	})
}
