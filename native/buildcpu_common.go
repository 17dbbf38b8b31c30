package native

import "strings"

// CPUBuild is what the binary's llama.cpp and ggml were compiled for, against
// what this CPU has. Features are named as ggml names them (AVX2,
// AVX512_VNNI, AMX_INT8, …).
type CPUBuild struct {
	// Level is the x86-64 micro-architecture level the build needs
	// ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"), "" where unknown
	// (a build without llama.cpp, or not x86-64).
	Level string `json:"level"`
	// Built lists the features the compiler was allowed to use; Have those
	// of this CPU (as the OS enables them); Missing those built but not had.
	Built   []string `json:"built"`
	Have    []string `json:"have"`
	Missing []string `json:"missing,omitempty"`
	// AVX512 reports whether ggml's AVX-512 kernels are compiled in; AMX
	// whether its AMX kernels (quantised matrix products on Xeon
	// Sapphire Rapids and later) are.
	AVX512 bool `json:"avx512_kernels"`
	AMX    bool `json:"amx_kernels"`
}

// String is one line for vlmcmp devices.
func (b CPUBuild) String() string {
	if b.Level == "" {
		return "unknown (built without llama.cpp, or not x86-64)"
	}
	s := b.Level + "; AVX-512 kernels " + inOut(b.AVX512) + "; AMX kernels " + inOut(b.AMX)
	if len(b.Missing) > 0 {
		s += "; this CPU lacks " + strings.Join(b.Missing, " ")
	}
	return s
}

func inOut(in bool) string {
	if in {
		return "in"
	}
	return "not in"
}

// cpuBuild names the bits of the built and had feature sets.
func cpuBuild(built, have uint64) CPUBuild {
	names := cpuFeatureNames()
	b := CPUBuild{}
	set := map[string]bool{}
	for i, n := range names {
		if built&(1<<i) != 0 {
			b.Built = append(b.Built, n)
			set[n] = true
			if have&(1<<i) == 0 {
				b.Missing = append(b.Missing, n)
			}
		}
		if have&(1<<i) != 0 {
			b.Have = append(b.Have, n)
		}
	}
	all := func(ns ...string) bool {
		for _, n := range ns {
			if !set[n] {
				return false
			}
		}
		return true
	}
	// The levels of the x86-64 psABI, as far as the listed features tell
	// them apart.
	switch {
	case len(names) == 0:
	case all("AVX512F", "AVX512BW", "AVX512DQ", "AVX512VL", "AVX2", "FMA", "BMI2"):
		b.Level = "x86-64-v4"
	case all("AVX", "AVX2", "FMA", "F16C", "BMI2"):
		b.Level = "x86-64-v3"
	case all("SSE4.2", "POPCNT"):
		b.Level = "x86-64-v2"
	default:
		b.Level = "x86-64"
	}
	b.AVX512 = set["AVX512F"]
	b.AMX = set["AMX_INT8"] && set["AVX512_VNNI"]
	return b
}

// GPUAbsence says in one line why the GPU backend libraries that were found
// (loads, from Init) give no GPU device (devs, from Devices): a library that
// did not load, or a backend that loaded but sees no device, as with the
// CUDA backend on a machine without an NVIDIA driver or GPU. It returns ""
// when a GPU device is present or no GPU library was found; work then runs
// on the CPU either way.
func GPUAbsence(loads []BackendLoad, devs []Device) string {
	if len(loads) == 0 {
		return ""
	}
	for _, d := range devs {
		if d.Type == DeviceGPU || d.Type == DeviceIGPU {
			return ""
		}
	}
	var reasons []string
	kind := ""
	for _, l := range loads {
		name := l.Backend
		if name == "" {
			name = strings.ToUpper(strings.TrimSuffix(strings.TrimPrefix(filepathBase(l.Path), "libggml-"), ".so"))
		}
		if kind == "" {
			kind = name
		}
		if l.Err != nil {
			reasons = append(reasons, filepathBase(l.Path)+" did not load ("+firstLine(l.Err.Error())+")")
		} else {
			reasons = append(reasons, "the "+name+" backend ("+filepathBase(l.Path)+") loaded but sees no device (no driver or no GPU)")
		}
	}
	return "no " + kind + " device found: " + strings.Join(reasons, "; ") + "; running on the CPU"
}

func filepathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
