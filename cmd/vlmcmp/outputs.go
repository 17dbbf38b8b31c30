package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/metrics"
	"github.com/vlmcmp/vlmcmp/eval/report"
)

// writeOutputs builds a run's outputs (package eval/report) from its records
// and returns the short table compare and analyze print.
func writeOutputs(ctx context.Context, runDir string, info *eval.RunInfo, recs map[string][]eval.Record) (string, error) {
	in := &report.Input{RunDir: runDir, RunID: info.ID, Created: info.Created, Baseline: info.Baseline}
	for _, name := range info.Models {
		rs := recs[name]
		if len(rs) == 0 {
			continue
		}
		mr := report.ModelResult{Name: name}
		for _, r := range rs {
			p := report.Prediction{ID: r.ID, ImagePath: r.Image, Expected: r.Expected, Error: r.Error}
			if pr := r.Prediction; pr != nil {
				p.Score, p.Text, p.ScoreError = pr.Score, pr.Text, pr.ScoreError
				p.LatencyMS = float64(pr.Latency.Microseconds()) / 1000
				p.CostUSD = pr.CostUSD
				if mr.Backend == "" {
					mr.Backend, mr.Model = pr.Backend, pr.Model
				}
			}
			mr.Predictions = append(mr.Predictions, p)
		}
		in.Models = append(in.Models, mr)
	}
	if len(in.Models) == 0 {
		return "", fmt.Errorf("run %s has no predictions yet: run vlmcmp compare --run-id %s", runDir, info.ID)
	}
	if in.Baseline != "" && in.Baseline != in.Models[0].Name {
		found := false
		for _, m := range in.Models {
			found = found || m.Name == in.Baseline
		}
		if !found {
			return "", fmt.Errorf("baseline %s has no predictions in %s", in.Baseline, runDir)
		}
	}
	w, err := report.Write(ctx, in)
	if err != nil {
		return "", err
	}
	return table(w.Metrics), nil
}

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
