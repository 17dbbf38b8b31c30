//go:build llamacpp && amd64

package native

// #include "cpucheck.h"
import "C"

import "unsafe"

// BuildCPU reports the x86-64 features the C and C++ of this binary were
// compiled for (Built) and those this CPU offers (Have). A binary never gets
// as far as Go on a CPU that lacks a built feature: cpucheck.c stops it
// first with one sentence.
func BuildCPU() CPUBuild {
	return cpuBuild(uint64(C.vlmcmp_cpu_built()), uint64(C.vlmcmp_cpu_have()))
}

func cpuFeatureNames() []string {
	n := int(C.vlmcmp_cpu_feature_count())
	names := make([]string, n)
	for i := range names {
		names[i] = C.GoString(C.vlmcmp_cpu_feature_name(C.int(i)))
	}
	return names
}

// cpuMessage is the sentence a binary built for built prints on a CPU with
// have ("" when nothing is missing); for tests.
func cpuMessage(built, have uint64) string {
	buf := make([]byte, 512)
	n := C.vlmcmp_cpu_message(C.ulonglong(built), C.ulonglong(have), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return string(buf[:int(n)])
}
