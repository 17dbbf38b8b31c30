package bench

import (
	"fmt"
	"os"
	"strings"
)

// resetPeakRSS resets the kernel's high-water mark of the process's
// resident memory (Linux; elsewhere peakRSS keeps the process-wide peak).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the peak resident memory in bytes since resetPeakRSS (Linux
// VmHWM), or 0 where unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
