package local

import (
	"runtime"
	"testing"
)

func TestDefaultThreads(t *testing.T) {
	for n := 1; n <= 16; n++ {
		d, e, lend := defaultThreads(n)
		switch {
		case n < splitFromCPUs && (d != n || e != n || lend):
			t.Errorf("%d CPUs: decoder %d, encoder %d, lend %v; want %d, %d, false (taking turns)", n, d, e, lend, n, n)
		case n >= splitFromCPUs && (d+e != n || d < 1 || e < 1 || !lend):
			t.Errorf("%d CPUs: decoder %d + encoder %d, lend %v; want a split of the %d CPUs, lending", n, d, e, lend, n)
		}
	}
	tests := []struct {
		name             string
		threads, encoder int
		wantT, wantE     int // 0: chosen from the machine
	}{
		{"both given", 3, 2, 3, 2},
		{"encoder follows threads", 2, 0, 2, 2},
		{"from the machine", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		c := Config{ModelFile: "m.gguf", MmprojFile: "p.gguf", Threads: tt.threads, EncoderThreads: tt.encoder}
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		if tt.wantT != 0 && (c.Threads != tt.wantT || c.EncoderThreads != tt.wantE || c.threadsAuto) {
			t.Errorf("%s: threads %d, encoder %d, lend %v; want %d, %d, false", tt.name, c.Threads, c.EncoderThreads, c.threadsAuto, tt.wantT, tt.wantE)
		}
		if tt.wantT == 0 {
			d, e, lend := defaultThreads(min(runtime.NumCPU(), 16))
			if c.Threads != d || c.EncoderThreads != e || c.threadsAuto != lend {
				t.Errorf("%s: threads %d, encoder %d, lend %v; want %d, %d, %v", tt.name, c.Threads, c.EncoderThreads, c.threadsAuto, d, e, lend)
			}
		}
	}
	if err := (&Config{ModelFile: "m", MmprojFile: "p", EncoderThreads: -1}).validate(); err == nil {
		t.Error("negative encoder threads accepted")
	}
}
