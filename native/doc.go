// Package native is vlmcmp's bridge to llama.cpp.
package native
