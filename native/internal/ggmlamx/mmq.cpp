//go:build llamacpp && amd64

// ggml's AMX quantised matrix multiplication; see ggmlamx.go.
#include "ggml-cpu/amx/mmq.cpp"
