//go:build llamacpp && amd64

// Package ggmlamx compiles ggml's AMX matrix-multiplication kernels
// (ggml-cpu/amx/amx.cpp and mmq.cpp of the pinned module) into the binary.
//
// The module's ggml-cpu package refers to ggml_backend_amx_buffer_type when
// the compiler targets AMX (__AMX_INT8__ and __AVX512VNNI__, as with
// -march=sapphirerapids, or -march=native on such a CPU), but the module has
// no Go file in ggml-cpu/amx, so those sources are never compiled and the link
// fails. The two .cpp files here #include the module's sources (no copy) under
// the same definitions the ggml-cpu package uses; ggml's own guards make them
// empty when the target has no AMX. The Makefile puts the module's ggml/src
// and ggml/src/ggml-cpu folders on the include path (-idirafter, so they never
// shadow another package's headers).
package ggmlamx

// #cgo CXXFLAGS: -std=c++17
// #cgo CPPFLAGS: -DNDEBUG -DGGML_USE_LLAMAFILE
// #cgo linux CPPFLAGS: -D_GNU_SOURCE
import "C"
