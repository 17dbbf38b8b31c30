package report

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

func TestVsBaseline(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	model := func(name string, scores ...float64) metrics.Model {
		m := metrics.Model{Name: name}
		for i, id := range ids {
			s := metrics.Sample{ID: id, Expected: float64(i + 3)}
			if i < len(scores) && scores[i] > 0 {
				s.Predicted = sp(scores[i])
			}
			m.Samples = append(m.Samples, s)
		}
		return m
	}
	tests := []struct {
		name        string
		base, other metrics.Model
		want        string
	}{
		{"both scored", model("base", 5, 5, 5, 5), model("m", 3, 4, 5, 6), "(p="},
		{"baseline without scores", model("base"), model("m", 3, 4, 5, 6), "n/a: baseline base has no scores"},
		{"model without scores", model("base", 5, 5, 5, 5), model("m"), "n/a: no scores"},
		{"no image in common", model("base", 5, 5), model("m", 0, 0, 5, 6), "n/a: no image scored by both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := metrics.Evaluate([]metrics.Model{tt.base, tt.other}, "base", metrics.Options{Seed: 1, Resamples: 50, Permutations: 50})
			if err != nil {
				t.Fatal(err)
			}
			if got := VsBaseline(res, &res.Models[0]); got != "baseline" {
				t.Errorf("baseline's cell %q", got)
			}
			got := VsBaseline(res, &res.Models[1])
			if !strings.Contains(got, tt.want) || strings.Contains(got, "NaN") {
				t.Errorf("cell %q, want it to say %q", got, tt.want)
			}
		})
	}
}
