//go:build llamacpp && amd64

package native

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestBuildCPUMatchesThisCPU(t *testing.T) {
	b := BuildCPU()
	if b.Level == "" || len(b.Built) == 0 {
		t.Fatalf("BuildCPU() = %+v, want the features of the build", b)
	}
	// The binary runs, so the constructor found nothing missing.
	if len(b.Missing) > 0 {
		t.Errorf("BuildCPU().Missing = %v on the CPU the test runs on", b.Missing)
	}
	for _, f := range b.Built {
		if !slices.Contains(b.Have, f) {
			t.Errorf("built for %s, which Have %v lacks", f, b.Have)
		}
	}
	t.Logf("build: %s", b)
}

func TestCPUMessage(t *testing.T) {
	names := cpuFeatureNames()
	bit := func(name string) uint64 {
		i := slices.Index(names, name)
		if i < 0 {
			t.Fatalf("no feature %q in %v", name, names)
		}
		return 1 << i
	}
	v2 := bit("SSE4.2") | bit("POPCNT")
	v3 := v2 | bit("AVX") | bit("AVX2") | bit("FMA") | bit("F16C") | bit("BMI2")
	v4 := v3 | bit("AVX512F") | bit("AVX512BW") | bit("AVX512DQ") | bit("AVX512VL")
	spr := v4 | bit("AVX512_VNNI") | bit("AMX_TILE") | bit("AMX_INT8")
	tests := []struct {
		name       string
		built      uint64
		have       uint64
		level      string
		amx        bool
		wantInMsg  []string
		wantNoMsgs bool
	}{
		{"v3 on v4", v3, v4, "x86-64-v3", false, nil, true},
		{"v4 on v3", v4, v3, "x86-64-v4", false, []string{"AVX512F", "AVX512VL", "make MARCH=x86-64-v3"}, false},
		{"amx on v4", spr, v4 | bit("AVX512_VNNI"), "x86-64-v4", true, []string{" AMX_TILE AMX_INT8,", "which this CPU lacks"}, false},
		{"v3 on v2", v3, v2, "x86-64-v3", false, []string{"AVX2", "FMA"}, false},
		{"v2 on v2", v2, v2, "x86-64-v2", false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := cpuMessage(tt.built, tt.have)
			if tt.wantNoMsgs != (msg == "") {
				t.Fatalf("cpuMessage = %q, want empty: %v", msg, tt.wantNoMsgs)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("cpuMessage = %q, want it to contain %q", msg, w)
				}
			}
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("cpuMessage = %q, want one line", msg)
			}
			b := cpuBuild(tt.built, tt.have)
			if b.Level != tt.level || b.AMX != tt.amx {
				t.Errorf("cpuBuild: level %q amx %v, want %q %v", b.Level, b.AMX, tt.level, tt.amx)
			}
			if (len(b.Missing) == 0) != tt.wantNoMsgs {
				t.Errorf("cpuBuild.Missing = %v", b.Missing)
			}
		})
	}
}

// TestCPUCheckStopsTheProcess runs this test binary as a child that pretends
// its CPU is older than the build: the constructor must stop it before any
// test runs, with one sentence and status 1, never SIGILL.
func TestCPUCheckStopsTheProcess(t *testing.T) {
	b := BuildCPU()
	pretend := "x86-64-v2"
	if b.Level == "x86-64-v2" || b.Level == "x86-64" {
		t.Skipf("built for %s: nothing older to pretend", b.Level)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildCPUMatchesThisCPU$")
	cmd.Env = append(os.Environ(), "VLMCMP_PRETEND_CPU="+pretend)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("child with VLMCMP_PRETEND_CPU=%s: err %v, output %q; want exit status 1", pretend, err, out)
	}
	msg := strings.TrimSpace(string(out))
	if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "vlmcmp: this binary was compiled for a CPU with") ||
		!strings.Contains(msg, "make MARCH=x86-64-v3") || !strings.Contains(msg, "AVX2") {
		t.Errorf("child said %q, want one sentence naming AVX2 and the rebuild", msg)
	}
}
