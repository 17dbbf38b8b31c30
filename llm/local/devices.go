package local

import (
	"fmt"
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
