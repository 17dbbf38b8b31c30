//go:build !llamacpp

package native

// Dequantize converts n values of ggml type typ (a GGUF tensor type id, as
// llm/gguf.TensorType numbers them) stored in data into float32 with ggml's
// own to_float routine. data must hold exactly n values and n must be whole
// blocks of the type; n == 0 with empty data only checks the type. The
// result is a new slice; data is not kept. Safe for concurrent use.
func Dequantize(typ uint32, data []byte, n int) ([]float32, error) { return nil, ErrNotBuilt }

// Quantize converts nRows rows of nPerRow float32 values from src into ggml
// type typ (a GGUF tensor type id) with ggml_quantize_chunk, as llama.cpp's
// quantiser does without an importance matrix. len(src) must be
// nRows·nPerRow and nPerRow whole blocks of the type; types that need an
// importance matrix (some IQ types) are refused. nRows == 0 only checks the
// type and row length. The result is a new slice. Safe for concurrent use.
func Quantize(typ uint32, src []float32, nRows, nPerRow int) ([]byte, error) {
	return nil, ErrNotBuilt
}
