package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestByteProgressLines(t *testing.T) {
	tests := []struct {
		name       string
		parts, min int64
		calls      [][2]int64
		want       []string
	}{
		{"tenths", 10, 0, [][2]int64{{0, 100}, {5, 100}, {10, 100}, {55, 100}, {96, 100}, {100, 100}, {100, 100}},
			[]string{"x: 0%", "x: 10%", "x: 55%", "x: 96%", "x: 100%"}},
		{"small files are quiet", 4, 1 << 20, [][2]int64{{0, 100}, {100, 100}}, nil},
		{"a retry starts over", 4, 0, [][2]int64{{0, 8}, {8, 8}, {0, 8}, {8, 8}}, []string{"x: 0%", "x: 100%", "x: 0%", "x: 100%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := NewBytes(&b, "x", tt.parts, tt.min)
			for _, c := range tt.calls {
				p.Update(c[0], c[1])
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				if l != "" {
					got = append(got, strings.SplitN(l, " (", 2)[0])
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
		})
	}
}
