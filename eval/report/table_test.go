package report

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// TestTable: one row per model under the header naming the baseline, exact
// figures where defined and "-" where a model has no score.
func TestTable(t *testing.T) {
	base := metrics.Model{Name: "base"}
	empty := metrics.Model{Name: "empty"}
	for i := range 4 {
		id := string(rune('a' + i))
		base.Samples = append(base.Samples, metrics.Sample{ID: id, Expected: float64(i + 3), Predicted: sp(float64(i + 4))})
		empty.Samples = append(empty.Samples, metrics.Sample{ID: id, Expected: float64(i + 3)})
	}
	res, err := metrics.Evaluate([]metrics.Model{base, empty}, "base", metrics.Options{Seed: 1, Resamples: 50, Permutations: 50})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(Table(res), "\n")
	if !strings.HasPrefix(lines[0], "model") || !strings.HasSuffix(strings.TrimSpace(lines[0]), "vs base") {
		t.Errorf("header %q", lines[0])
	}
	if f := strings.Fields(lines[1]); f[0] != "base" || f[1] != "4" || f[2] != "4" || f[3] != "1.00" || f[6] != "1.00" || f[7] != "100%" {
		t.Errorf("base row %q: want n 4, scored 4, MAE 1.00, RMSE 1.00, Acc@1 100%%", lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != "empty" || f[2] != "0" || f[3] != "-" || !strings.Contains(lines[2], "100%") {
		t.Errorf("empty row %q: want MAE - and no score 100%%", lines[2])
	}
}
