package main

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
	"github.com/vlmcmp/vlmcmp/eval/report"
)

// table is the short metrics table printed at the end of compare and
// analyze: error metrics over the scored images, with the 95% interval of the
// MAE and the paired comparison with the baseline.
func table(res *metrics.Result) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\tn\tscored\tMAE\tMAE 95%% CI\tRMSE\tAcc@1\tAcc@2\tQWK\tno score\tvs %s\n", res.Baseline)
	for _, s := range res.Models {
		vs := report.VsBaseline(res, &s)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t[%s, %s]\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.Model, s.N, s.NScored, num(s.MAE, "%.2f"), num(s.MAECI.Lo, "%.2f"), num(s.MAECI.Hi, "%.2f"),
			num(s.RMSE, "%.2f"), pct(s.Acc1), pct(s.Acc2), num(s.QWK, "%.2f"), pct(s.NoScoreRate), vs)
	}
	tw.Flush()
	b.WriteString("Error metrics are over the images with a score; \"no score\" counts the rest.\n")
	return b.String()
}

// meanLines are the verdict's first lines, printed under the table: whether
// each model beats the mean baseline by the paired test, or that mean was
// not run.
func meanLines(w *report.Written) string {
	var b strings.Builder
	for _, l := range w.Verdict.MeanLines() {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func num(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}
