//go:build !(llamacpp && amd64)

package ggmlamx
