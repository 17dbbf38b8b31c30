package eval

import (
	"context"
	"fmt"

	"github.com/vlmcmp/vlmcmp/eval/report"
)

// WriteOutputs builds a run's outputs (package eval/report: metrics,
// workbook, plots, reports) from its records, as ReadRun returns them.
func WriteOutputs(ctx context.Context, runDir string, info *RunInfo, recs map[string][]Record) (*report.Written, error) {
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
				if sv := pr.Server; sv != nil {
					p.Served = report.Served{URL: sv.URL, Model: pr.Model, Software: sv.Software, Fingerprint: sv.Fingerprint}
				}
				if mr.Backend == "" {
					mr.Backend, mr.Model = pr.Backend, pr.Model
				}
			}
			mr.Predictions = append(mr.Predictions, p)
		}
		in.Models = append(in.Models, mr)
	}
	if len(in.Models) == 0 {
		return nil, fmt.Errorf("run %s has no predictions yet: run vlmcmp compare --run-id %s", runDir, info.ID)
	}
	if in.Baseline != "" && in.Baseline != in.Models[0].Name {
		found := false
		for _, m := range in.Models {
			found = found || m.Name == in.Baseline
		}
		if !found {
			return nil, fmt.Errorf("baseline %s has no predictions in %s", in.Baseline, runDir)
		}
	}
	return report.Write(ctx, in)
}
