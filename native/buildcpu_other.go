//go:build !(llamacpp && amd64)

package native

// BuildCPU reports what the binary's llama.cpp was compiled for; without
// llama.cpp (or off x86-64) there is nothing to report.
func BuildCPU() CPUBuild { return CPUBuild{} }

func cpuFeatureNames() []string { return nil }
