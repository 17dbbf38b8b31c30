package imageprep

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkResize1080p times Pillow's BICUBIC from a 1920×1080 photo to
// 1176×644 (the figure issue 23 sets: at most 15 ms on one core; run with
// -cpu 1). smart_resize itself gives 1176×672 for 1080p under vlmcmp's
// default Qwen2-VL budget of 1024 tokens, which the test checks too.
func BenchmarkResize1080p(b *testing.B) {
	src := RGB{Width: 1920, Height: 1080, Pix: make([]byte, 1920*1080*3)}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range src.Pix {
		src.Pix[i] = byte(r.Uint32())
	}
	h, w, err := SmartResize(1080, 1920, 28, 4*784, 1024*784)
	if err != nil || w != 1176 || h != 672 {
		b.Fatalf("SmartResize(1080, 1920) = %dx%d, %v; want 1176x672", w, h, err)
	}
	h = 644
	b.SetBytes(int64(len(src.Pix)))
	t0 := cpuTime()
	for b.Loop() {
		Resize(src, w, h, Bicubic)
	}
	// The CPU time this process spent per resize: the wall time of a
	// shared machine counts other processes' work too.
	b.ReportMetric(float64(cpuTime()-t0)/float64(b.N), "cpu-ns/op")
}
