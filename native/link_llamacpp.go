//go:build llamacpp

package native

// This file only links the C++: importing these cgo packages from the
// pinned github.com/ollama/ollama module compiles llama.cpp, mtmd (with the
// Qwen2-VL projector) and the ggml CPU backend into the binary. The Makefile
// passes the header folders and optimisation flags through CGO_CPPFLAGS,
// CGO_CFLAGS and CGO_CXXFLAGS; the wrappers of the C API live in the other
// files of this package.

// #cgo CXXFLAGS: -std=c++17
// #cgo LDFLAGS: -lm -ldl
import "C"

import (
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/llama/llama.cpp/tools/mtmd"
	_ "github.com/ollama/ollama/llama/llama.cpp/tools/mtmd/models"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"

	_ "github.com/vlmcmp/vlmcmp/native/internal/ggmlamx"
)
