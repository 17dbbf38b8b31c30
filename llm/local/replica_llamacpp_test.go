//go:build llamacpp

package local

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/native"
)

// TestReplicasMatchOne: two replicas of the tiny model, one thread each,
// answer 12 images exactly as one replica does, and both take part.
func TestReplicasMatchOne(t *testing.T) {
	reqs := requests(t, 12)
	one := newTiny(t, tinyConfig(t, 2))
	want := texts(t, collect(t, reqs, one.PredictBatch(t.Context(), reqs)))
	cfg := tinyConfig(t, 2)
	cfg.Replicas = 2
	two := newTiny(t, cfg)
	if two.Replicas() != 2 || two.Parallel() != 4 {
		t.Errorf("Replicas() %d, Parallel() %d, want 2 and 4", two.Replicas(), two.Parallel())
	}
	got := texts(t, collect(t, reqs, two.PredictBatch(t.Context(), reqs)))
	for _, r := range reqs {
		if got[r.ID] != want[r.ID] {
			t.Errorf("%s: two replicas say %q, one %q", r.ID, got[r.ID], want[r.ID])
		}
	}
	if n := taken(two); n[0] == 0 || n[1] == 0 {
		t.Errorf("requests taken per replica %v, want both", n)
	}
}

// TestMissingDevice: a replica on a GPU that is not there is refused
// before anything loads, naming the device.
func TestMissingDevice(t *testing.T) {
	devs, err := native.Devices()
	if err != nil {
		t.Fatal(err)
	}
	gpus := 0
	for _, d := range devs {
		if d.Type == native.DeviceGPU || d.Type == native.DeviceIGPU {
			gpus++
		}
	}
	cfg := tinyConfig(t, 1)
	cfg.Devices = []int{gpus}
	p, err := New(t.Context(), cfg)
	if err == nil {
		p.Close()
		t.Fatalf("New on GPU %d of %d succeeded", gpus, gpus)
	}
	if want := fmt.Sprintf("device %d does not exist", gpus); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
}

// BenchmarkReplicas scores batches of 16 images of the tiny synthetic
// model with one replica and with two, one thread each, and reports
// images/s.
func BenchmarkReplicas(b *testing.B) {
	reqs := requests(b, 16)
	for _, tt := range []struct{ replicas, threads int }{{1, 1}, {2, 1}} {
		b.Run(fmt.Sprintf("replicas=%d,threads=%d", tt.replicas, tt.threads), func(b *testing.B) {
			cfg := tinyConfig(b, 4)
			cfg.Replicas, cfg.Threads = tt.replicas, tt.threads
			p := newTiny(b, cfg)
			texts(b, collect(b, reqs[:4], p.PredictBatch(b.Context(), reqs[:4]))) // warm up
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				texts(b, collect(b, reqs, p.PredictBatch(b.Context(), reqs)))
			}
			b.ReportMetric(float64(b.N*len(reqs))/time.Since(start).Seconds(), "images/s")
		})
	}
}
