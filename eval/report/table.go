package report

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Table is the short metrics table a terminal shows at the end of a
// comparison: error metrics over the scored images, with the 95% interval
// of the MAE and the paired comparison with the baseline; "-" where a
// figure is undefined.
func Table(res *metrics.Result) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\tn\tscored\tMAE\tMAE 95%% CI\tRMSE\tAcc@1\tAcc@2\tQWK\tno score\tvs %s\n", res.Baseline)
	for _, s := range res.Models {
		vs := VsBaseline(res, &s)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t[%s, %s]\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.Model, s.N, s.NScored, dash(s.MAE, "%.2f"), dash(s.MAECI.Lo, "%.2f"), dash(s.MAECI.Hi, "%.2f"),
			dash(s.RMSE, "%.2f"), pctDash(s.Acc1), pctDash(s.Acc2), dash(s.QWK, "%.2f"), pctDash(s.NoScoreRate), vs)
	}
	tw.Flush()
	b.WriteString("Error metrics are over the images with a score; \"no score\" counts the rest.\n")
	return b.String()
}

// Brief is what a terminal shows of the written outputs: the Table of
// their metrics, then the verdict's lines on the mean baseline (whether
// each model beats it by the paired test, or that mean was not run).
func (w *Written) Brief() string {
	var b strings.Builder
	b.WriteString(Table(w.Metrics))
	for _, l := range w.Verdict.MeanLines() {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// dash formats v, "-" when undefined.
func dash(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// pctDash formats a fraction as a whole percentage, "-" when undefined.
func pctDash(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}
