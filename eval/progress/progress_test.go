package progress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
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

// Models that run at once each keep their own plain lines, interleaved as
// they report; every model's last line is there.
func TestRunLinesPerModel(t *testing.T) {
	var b bytes.Buffer
	v := NewRun(&b)
	for i := 0; i <= 4; i++ {
		for _, m := range []string{"gpt4", "local"} {
			v.Update(eval.Progress{Model: m, Total: 4, Done: i, Finished: i == 4})
		}
	}
	out := b.String()
	for _, want := range []string{"gpt4: 4/4 100% errors 0 done", "local: 4/4 100% errors 0 done"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// On a terminal the block of model lines is redrawn in place: one line per
// model, the cursor moved back over the block before each redraw.
func TestRunDrawsBlock(t *testing.T) {
	var b bytes.Buffer
	v := &Run{w: &b, tty: true}
	v.Update(eval.Progress{Model: "a", Total: 2, Done: 0})
	v.Update(eval.Progress{Model: "bb", Total: 2, Done: 2, Finished: true})
	v.Update(eval.Progress{Model: "a", Total: 2, Done: 2, Finished: true})
	out := b.String()
	if n := strings.Count(out, "\x1b[2A"); n != 1 {
		t.Errorf("%d moves up over the 2-line block, want 1:\n%q", n, out)
	}
	last := out[strings.LastIndex(out, "\x1b[2A"):]
	for _, want := range []string{"a  [==============================] 2/2 100% errors 0 done", "bb [==============================] 2/2 100% errors 0 done"} {
		if !strings.Contains(last, want) {
			t.Errorf("last redraw lacks %q:\n%q", want, last)
		}
	}
}
