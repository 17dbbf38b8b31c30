package local

import (
	"runtime"
	"testing"
)

func TestDefaultThreads(t *testing.T) {
	for n := 1; n <= 16; n++ {
		if got := idleCPUs(n); got < 1 || got > n {
			t.Errorf("idleCPUs(%d) = %d, want 1 to %d", n, got, n)
		}
	}
	tests := []struct {
		name             string
		threads, encoder int
		wantT, wantE     int // 0: chosen from the machine
		wantAuto         bool
	}{
		{"both given", 3, 2, 3, 2, false},
		{"encoder follows threads", 2, 0, 2, 2, false},
		{"from the machine", 0, 0, 0, 0, true},
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
			n := min(runtime.NumCPU(), 16)
			if c.Threads < 1 || c.EncoderThreads < 1 || c.Threads+c.EncoderThreads > max(2, n) {
				t.Errorf("%s: threads %d + encoder %d on %d CPUs", tt.name, c.Threads, c.EncoderThreads, n)
			}
			// Lending gives the decoder both shares: never more than the CPUs.
			if c.threadsAuto && c.Threads+c.EncoderThreads > n {
				t.Errorf("%s: lends %d threads on %d CPUs", tt.name, c.Threads+c.EncoderThreads, n)
			}
		}
	}
	if err := (&Config{ModelFile: "m", MmprojFile: "p", EncoderThreads: -1}).validate(); err == nil {
		t.Error("negative encoder threads accepted")
	}
}
