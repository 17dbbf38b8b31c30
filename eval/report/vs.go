package report

import (
	"fmt"
	"math"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// NoPairReason says why s has no paired comparison with the baseline of res
// (the baseline scored nothing, the model scored nothing, or no image was
// scored by both); "" when it has one, or s is the baseline.
func NoPairReason(res *metrics.Result, s *metrics.Summary) string {
	p := s.Paired
	if p == nil || (p.N > 0 && !math.IsNaN(p.DiffMAE)) {
		return ""
	}
	for i := range res.Models {
		if b := &res.Models[i]; b.Model == res.Baseline && b.NScored == 0 {
			return fmt.Sprintf("baseline %s has no scores", res.Baseline)
		}
	}
	if s.NScored == 0 {
		return "no scores"
	}
	return "no image scored by both"
}

// VsBaseline is the short table's cell comparing s with the baseline: the
// difference in MAE and its p-value, "baseline" for the baseline itself, and
// "n/a: " with the reason when there is nothing to compare (never "+NaN").
func VsBaseline(res *metrics.Result, s *metrics.Summary) string {
	p := s.Paired
	if p == nil {
		return "baseline"
	}
	if why := NoPairReason(res, s); why != "" {
		return "n/a: " + why
	}
	return fmt.Sprintf("%+.2f (p=%s)", p.DiffMAE, pvalShort(p.PValue))
}

func pvalShort(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	return fmt.Sprintf("%.3f", p)
}
