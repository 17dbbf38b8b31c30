package local

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vlmcmp/vlmcmp/native"
)

// DeviceNames maps GPU numbers (Config.Devices) to the names package native
// gives those devices (e.g. CUDA1): GPUs are numbered from 0 in the order
// native.Devices, and `vlmcmp devices`, list them. A number with no GPU is
// an error that says which GPUs there are. No numbers: nil.
func DeviceNames(gpus []int) ([]string, error) {
	if len(gpus) == 0 {
		return nil, nil
	}
	devs, err := native.Devices()
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	var all []string
	for _, d := range devs {
		if d.Type == native.DeviceGPU || d.Type == native.DeviceIGPU {
			all = append(all, d.Name)
		}
	}
	names := make([]string, len(gpus))
	for i, g := range gpus {
		switch {
		case len(all) == 0:
			return nil, fmt.Errorf("device %d does not exist: llama.cpp sees no GPU here (vlmcmp devices says why)", g)
		case g < 0 || g >= len(all):
			return nil, fmt.Errorf("device %d does not exist: the GPUs are 0 to %d (%s)", g, len(all)-1, strings.Join(all, ", "))
		}
		names[i] = all[g]
	}
	return names, nil
}

// Inventory is what llama.cpp can run on in this process: its devices,
// the backend libraries it tried to load, the CPU instruction sets of the
// build and, when it sees no GPU, why (native.GPUAbsence).
type Inventory struct {
	Devices []native.Device
	Loads   []native.BackendLoad
	Build   native.CPUBuild
	NoGPU   string
}

// ListDevices loads llama.cpp's backends (native.Init, also from
// backendPaths) and lists the devices they offer. A library that fails to
// load is in Loads with its error, not an error of ListDevices.
func ListDevices(backendPaths []string) (*Inventory, error) {
	loads, err := native.Init(native.InitOptions{BackendPaths: backendPaths})
	if err != nil {
		return nil, err
	}
	devs, err := native.Devices()
	if err != nil {
		return nil, err
	}
	return &Inventory{Devices: devs, Loads: loads, Build: native.BuildCPU(), NoGPU: native.GPUAbsence(loads, devs)}, nil
}

// MarshalJSON writes {"devices", "backend_libraries" (path, backend,
// error), "build", "no_gpu"}.
func (inv *Inventory) MarshalJSON() ([]byte, error) {
	type loadJSON struct {
		Path    string `json:"path"`
		Backend string `json:"backend,omitempty"`
		Error   string `json:"error,omitempty"`
	}
	out := struct {
		Devices  []native.Device `json:"devices"`
		Backends []loadJSON      `json:"backend_libraries"`
		Build    native.CPUBuild `json:"build"`
		NoGPU    string          `json:"no_gpu,omitempty"`
	}{Devices: inv.Devices, Backends: []loadJSON{}, Build: inv.Build, NoGPU: inv.NoGPU}
	for _, l := range inv.Loads {
		lj := loadJSON{Path: l.Path, Backend: l.Backend}
		if l.Err != nil {
			lj.Error = l.Err.Error()
		}
		out.Backends = append(out.Backends, lj)
	}
	return json.Marshal(out)
}

// WriteText writes one line a device (name, type, description, memory in
// GiB where known) with its build features under it, then the build's CPU
// line and why there is no GPU, if so. Failed library loads are not
// written: the caller reports them as warnings.
func (inv *Inventory) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, d := range inv.Devices {
		fmt.Fprintf(&b, "%s\t%s\t%s", d.Name, d.Type, d.Description)
		if d.MemoryTotal > 0 {
			fmt.Fprintf(&b, "\t%.1f GiB free of %.1f GiB", float64(d.MemoryFree)/(1<<30), float64(d.MemoryTotal)/(1<<30))
		}
		b.WriteString("\n")
		if len(d.Features) > 0 {
			var fs []string
			for _, f := range d.Features {
				if f.Value == "1" {
					fs = append(fs, f.Name)
				} else {
					fs = append(fs, f.Name+"="+f.Value)
				}
			}
			fmt.Fprintf(&b, "  features: %s\n", strings.Join(fs, " "))
		}
	}
	fmt.Fprintf(&b, "build\t%s\n", inv.Build)
	if inv.NoGPU != "" {
		b.WriteString(inv.NoGPU + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
