package gguf

import (
	"fmt"
	"strings"
)

// TensorInfo describes one tensor of a GGUF file.
type TensorInfo struct {
	Name string
	Type TensorType
	// Shape in ggml order: Shape[0] is the number of values in a row (it
	// varies fastest), Shape[1] the number of rows, and so on; 1 to 4
	// dimensions.
	Shape []int64
	// Offset of the tensor's data from the start of the data section, in
	// bytes. The Writer computes it; set values are ignored there.
	Offset int64
}

// Elements is the number of values in the tensor.
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Rows is the number of rows: every dimension but the first.
func (t TensorInfo) Rows() int64 {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Elements() / max(t.Shape[0], 1)
}

// Size is the size of the tensor's data in bytes, without padding.
func (t TensorInfo) Size() int64 {
	if len(t.Shape) == 0 {
		return t.Type.RowBytes(1)
	}
	return t.Type.RowBytes(t.Shape[0]) * t.Rows()
}

// ShapeString formats the shape as [a b c].
func (t TensorInfo) ShapeString() string { return shapeString(t.Shape) }

func shapeString(s []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, d)
	}
	b.WriteByte(']')
	return b.String()
}

func sameShape(a, b []int64) bool {
	// Trailing dimensions of 1 do not count: ggml pads shapes to 4 with 1.
	for len(a) > 1 && a[len(a)-1] == 1 {
		a = a[:len(a)-1]
	}
	for len(b) > 1 && b[len(b)-1] == 1 {
		b = b[:len(b)-1]
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkTensor checks what ggml checks of a tensor info, before offsets.
func checkTensor(t TensorInfo) error {
	if t.Name == "" {
		return fmt.Errorf("empty tensor name")
	}
	if len(t.Name) >= MaxNameLen {
		return fmt.Errorf("name is %d bytes long, ggml allows at most %d", len(t.Name), MaxNameLen-1)
	}
	if len(t.Shape) < 1 || len(t.Shape) > MaxDims {
		return fmt.Errorf("has %d dimensions, want 1 to %d", len(t.Shape), MaxDims)
	}
	n := int64(1)
	for i, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("dimension %d is negative (%d)", i, d)
		}
		if d > 0 && n > (1<<62)/d {
			return fmt.Errorf("shape %s has too many elements", shapeString(t.Shape))
		}
		n *= d
	}
	if !t.Type.Known() {
		return fmt.Errorf("unknown ggml type %d", uint32(t.Type))
	}
	if bs := t.Type.BlockSize(); t.Shape[0]%bs != 0 {
		return fmt.Errorf("type %s needs rows that are a multiple of %d values, has %d", t.Type, bs, t.Shape[0])
	}
	return nil
}
