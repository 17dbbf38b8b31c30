package lora

import "testing"

func TestParseLoRAFile(t *testing.T) {
	tests := []struct {
		in    string
		path  string
		scale float64
	}{
		{"a.gguf", "a.gguf", 1},
		{"a.gguf:0.5", "a.gguf", 0.5},
		{"C:/x/a.gguf", "C:/x/a.gguf", 1},
		{"dir:with:colons/a.gguf:2", "dir:with:colons/a.gguf", 2},
	}
	for _, tt := range tests {
		got, err := ParseLoRAFile(tt.in)
		if err != nil || got.Path != tt.path || got.Scale != tt.scale {
			t.Errorf("ParseLoRAFile(%q) = %+v, %v; want %s, %g", tt.in, got, err, tt.path, tt.scale)
		}
	}
	if _, err := ParseLoRAFile(""); err == nil {
		t.Error(`ParseLoRAFile("") accepted an empty path`)
	}
}
