//go:build llamacpp && amd64

// ggml's AMX buffer type and its tensor traits; see ggmlamx.go.
#include "ggml-cpu/amx/amx.cpp"
