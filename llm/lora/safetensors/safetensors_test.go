package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/lora/floats"
)

func encodeT(t testing.TB, tensors []Data) []byte {
	t.Helper()
	b, err := Encode(tensors, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawFile builds a file from a literal JSON header and n data bytes.
func rawFile(header string, n int) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, make([]byte, n)...)
}

func TestRoundTrip(t *testing.T) {
	in := []Data{
		{Name: "a.lora_A.weight", DType: F32, Shape: []int64{2, 3}, Values: []float64{1, -2, 3.5, 0.1, 1e-3, -7}},
		{Name: "a.lora_B.weight", DType: F16, Shape: []int64{3, 2}, Values: []float64{0.5, -0.25, 2048, 1e-7, 0, -1}},
		{Name: "b", DType: BF16, Shape: []int64{4}, Values: []float64{1, 3.140625, -1e30, 0}},
		{Name: "scalar", DType: F32, Shape: []int64{}, Values: []float64{42}},
	}
	path := filepath.Join(t.TempDir(), "adapter_model.safetensors")
	if err := WriteFile(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(in))
	}
	for _, d := range in {
		ti, ok := f.Lookup(d.Name)
		if !ok {
			t.Fatalf("tensor %q missing", d.Name)
		}
		got, err := f.Float64s(ti)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range d.Values {
			want := v
			switch d.DType {
			case F32:
				want = float64(float32(v))
			case F16:
				want = roundHalf(v)
			case BF16:
				want = roundBF(v)
			}
			if got[i] != want {
				t.Errorf("%s[%d] = %g, want %g", d.Name, i, got[i], want)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// roundHalf and roundBF are the values a 16-bit tensor stores for v
// (package floats tests the rounding itself).
func roundHalf(v float64) float64 { return float64(gguf.F16ToFloat32(floats.Float64ToHalf(v))) }
func roundBF(v float64) float64   { return float64(gguf.BF16ToFloat32(floats.Float64ToBFloat(v))) }

func TestBadFiles(t *testing.T) {
	good := encodeT(t, []Data{{Name: "x", DType: F32, Shape: []int64{2}, Values: []float64{1, 2}}})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"length past end", binary.LittleEndian.AppendUint64(nil, 1<<40), "runs past the end of the file"},
		{"not json", rawFile("{nope", 0), "not valid JSON"},
		{"not object", rawFile("[1,2]", 0), "does not start with a JSON object"},
		{"unknown dtype", rawFile(`{"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1), `unknown dtype "Q4"`},
		{"missing field", rawFile(`{"x":{"dtype":"F32","shape":[1]}}`, 4), "lacks dtype, shape or data_offsets"},
		{"offsets outside", rawFile(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "lie outside"},
		{"size mismatch", rawFile(`{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), "needs 12"},
		{"negative dim", rawFile(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0), "negative dimension"},
		{"huge shape", rawFile(`{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0), "too large"},
		{"overlap", rawFile(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlap"},
		{"three offsets", rawFile(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}`, 4), "has 3 values"},
		{"bad metadata", rawFile(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
		{"truncated data", good[:len(good)-2], "lie outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(tt.data), int64(len(tt.data)), "adapter.safetensors")
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FormatError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "adapter.safetensors: ") {
				t.Errorf("error %q, want it to name the file and contain %q", err, tt.want)
			}
		})
	}
}

func TestUnsupportedDType(t *testing.T) {
	data := rawFile(`{"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, 4)
	f, err := Parse(bytes.NewReader(data), int64(len(data)), "a.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := f.Lookup("x")
	if _, err := f.Float64s(x); !errors.Is(err, ErrDType) {
		t.Errorf("Float64s(I32) error = %v, want ErrDType", err)
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.safetensors"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want not exist", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encodeT(f, []Data{{Name: "x", DType: F32, Shape: []int64{2}, Values: []float64{1, 2}}}))
	f.Add(encodeT(f, []Data{
		{Name: "a", DType: F16, Shape: []int64{2, 2}, Values: []float64{1, 2, 3, 4}},
		{Name: "b", DType: BF16, Shape: []int64{1}, Values: []float64{5}},
	}))
	f.Add(rawFile(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			return
		}
		// Every tensor a valid file lists can be read, within its bytes.
		end := int64(0)
		for _, ti := range sf.Tensors {
			if ti.Begin < end {
				t.Fatalf("tensors overlap: %+v", ti)
			}
			end = ti.End
			if ti.Elements() > 1<<20 {
				continue
			}
			vals, err := sf.Float64s(ti)
			if err != nil && !errors.Is(err, ErrDType) {
				t.Fatalf("Float64s(%q): %v", ti.Name, err)
			}
			if err == nil && int64(len(vals)) != ti.Elements() {
				t.Fatalf("Float64s(%q): %d values, want %d", ti.Name, len(vals), ti.Elements())
			}
		}
	})
}
