package local

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/native"
)

// TestInventoryOutput: the text and JSON forms of a made-up inventory (no
// llama.cpp needed).
func TestInventoryOutput(t *testing.T) {
	inv := &Inventory{
		Devices: []native.Device{
			{Name: "CPU", Type: native.DeviceCPU, Description: "Some CPU", Features: []native.Feature{{Name: "AVX2", Value: "1"}, {Name: "ARCH", Value: "x"}}},
			{Name: "CUDA0", Type: native.DeviceGPU, Description: "Some GPU", MemoryFree: 3 << 29, MemoryTotal: 4 << 30},
		},
		Loads: []native.BackendLoad{{Path: "libggml-cuda.so", Backend: "CUDA"}, {Path: "bad.so", Err: errors.New("no such file")}},
		NoGPU: "no GPU: test",
	}
	var b strings.Builder
	if err := inv.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "CPU\tcpu\tSome CPU\n  features: AVX2 ARCH=x\nCUDA0\tgpu\tSome GPU\t1.5 GiB free of 4.0 GiB\nbuild\t" + inv.Build.String() + "\nno GPU: test\n"
	if b.String() != want {
		t.Errorf("text:\n%q\nwant\n%q", b.String(), want)
	}
	data, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Devices  []native.Device `json:"devices"`
		Backends []struct{ Path, Backend, Error string }
		NoGPU    string `json:"no_gpu"`
	}
	got.Backends = nil
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw["backend_libraries"], &got.Backends); err != nil {
		t.Fatal(err)
	}
	if len(got.Devices) != 2 || got.Devices[1].Name != "CUDA0" || got.NoGPU != "no GPU: test" ||
		len(got.Backends) != 2 || got.Backends[1].Error != "no such file" || got.Backends[0].Backend != "CUDA" {
		t.Errorf("json %s", data)
	}
}
