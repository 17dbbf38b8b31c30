package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/native"
)

func TestDevicesCommand(t *testing.T) {
	_, nativeErr := native.Devices()
	built := !errors.Is(nativeErr, native.ErrNotBuilt)
	tests := []struct {
		name string
		args []string
	}{
		{"text", []string{"vlmcmp", "devices"}},
		{"json", []string{"vlmcmp", "devices", "--json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if !built {
				if code != 1 || !strings.Contains(stderr.String(), "built without llama.cpp: run make") {
					t.Fatalf("%v without llama.cpp: exit %d, stderr %q; want 1 and the build hint", tt.args, code, stderr.String())
				}
				return
			}
			if code != 0 {
				t.Fatalf("%v: exit %d, stderr %q", tt.args, code, stderr.String())
			}
			out := stdout.String()
			if tt.name == "json" {
				var got struct {
					Devices []native.Device `json:"devices"`
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("json output %q: %v", out, err)
				}
				if len(got.Devices) == 0 || got.Devices[0].Name != "CPU" {
					t.Fatalf("json devices = %+v, want the CPU first", got.Devices)
				}
				return
			}
			if !strings.HasPrefix(out, "CPU\tcpu\t") || !strings.Contains(out, "features: ") {
				t.Errorf("devices output %q, want the CPU line with its features", out)
			}
		})
	}
}
