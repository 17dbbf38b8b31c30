package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/vlmcmp/vlmcmp/llm/lora/floats"
)

// Data is a tensor to write: its name, dtype (F32, F16 or BF16), shape in
// PyTorch order and values, which are rounded once to the dtype.
type Data struct {
	Name   string
	DType  DType
	Shape  []int64
	Values []float64
}

// Encode returns the safetensors encoding of tensors (in the given order)
// with optional metadata. It is what tests use to write PEFT adapters.
func Encode(tensors []Data, metadata map[string]string) ([]byte, error) {
	header := map[string]any{}
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	var data bytes.Buffer
	for _, t := range tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		if n != int64(len(t.Values)) {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, got %d", t.Name, t.Shape, n, len(t.Values))
		}
		begin := data.Len()
		for _, v := range t.Values {
			switch t.DType {
			case F32:
				data.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v))))
			case F16:
				data.Write(binary.LittleEndian.AppendUint16(nil, floats.Float64ToHalf(v)))
			case BF16:
				data.Write(binary.LittleEndian.AppendUint16(nil, floats.Float64ToBFloat(v)))
			default:
				return nil, fmt.Errorf("safetensors: tensor %q: cannot write dtype %q", t.Name, t.DType)
			}
		}
		header[t.Name] = map[string]any{
			"dtype":        t.DType,
			"shape":        slices.Clone(t.Shape),
			"data_offsets": []int{begin, data.Len()},
		}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	// Pad the header with spaces to 8 bytes, as the reference writer does.
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, data.Bytes()...), nil
}

// WriteFile writes tensors to path as safetensors.
func WriteFile(path string, tensors []Data, metadata map[string]string) error {
	b, err := Encode(tensors, metadata)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
