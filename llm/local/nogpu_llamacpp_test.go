//go:build llamacpp

package local

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/vlmcmp/vlmcmp/native"
)

// TestWarnNoGPU: a GPU backend library that was found but offers no device
// (here: one that failed to load, on this GPU-less machine) gets one
// status line a process, worded as `vlmcmp devices` says it; none when no
// library was found.
func TestWarnNoGPU(t *testing.T) {
	devs, err := native.Devices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Type == native.DeviceGPU {
			t.Skip("this machine has a GPU")
		}
	}
	var buf bytes.Buffer
	t.Cleanup(func() { noGPUWarned = sync.Once{} })

	noGPUWarned = sync.Once{}
	warnNoGPU(nil, &buf)
	if buf.Len() != 0 {
		t.Fatalf("no backend library: warned %q", buf.String())
	}
	noGPUWarned = sync.Once{} // another process: one with the library
	loads := []native.BackendLoad{{Path: "/opt/x/libggml-cuda.so", Err: errors.New("libcudart.so.12: cannot open shared object file")}}
	warnNoGPU(loads, &buf)
	warnNoGPU(loads, &buf)
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, "no CUDA device found: libggml-cuda.so did not load (libcudart.so.12") {
		t.Errorf("%d warnings:\n%s\nwant one naming the library and why it did not load", n, out)
	}
}
