package eval

import (
	"context"
	"fmt"
	"sort"

	"github.com/vlmcmp/vlmcmp/eval/report"
)

// WriteOutputs builds a run's outputs (package eval/report: metrics,
// workbook, plots, reports) from its records, as ReadRun returns them.
// Each model's records are taken in the order of the run's images, not the
// order the answers arrived in, so that the figures (the resampled intervals
// among them) depend on the answers alone: a merged sharded run gives those of
// the same run unsharded.
func WriteOutputs(ctx context.Context, runDir string, info *RunInfo, recs map[string][]Record) (*report.Written, error) {
	return writeOutputs(ctx, runDir, info, recs, nil)
}

// writeOutputs is WriteOutputs with the timing of the sitting that ran it,
// for summary.json (nil: none).
func writeOutputs(ctx context.Context, runDir string, info *RunInfo, recs map[string][]Record, timing *report.RunTiming) (*report.Written, error) {
	in := reportInput(runDir, info, recs)
	in.Timing = timing
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

// reportInput is the report input of a run's records: the models of info
// that have any, each one's records in the order of info.Items (records of
// images the run does not list come last, in file order).
func reportInput(runDir string, info *RunInfo, recs map[string][]Record) *report.Input {
	in := &report.Input{RunDir: runDir, RunID: info.ID, Created: info.Created, Baseline: info.Baseline}
	pos := make(map[string]int, len(info.Items))
	for i, it := range info.Items {
		if _, ok := pos[it.ID]; !ok {
			pos[it.ID] = i
		}
	}
	at := func(id string) int {
		if i, ok := pos[id]; ok {
			return i
		}
		return len(info.Items)
	}
	for _, name := range info.Models {
		rs := append([]Record(nil), recs[name]...)
		if len(rs) == 0 {
			continue
		}
		sort.SliceStable(rs, func(i, j int) bool { return at(rs[i].ID) < at(rs[j].ID) })
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
	return in
}
