package eval

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/report"
	"github.com/vlmcmp/vlmcmp/llm"
)

// WriteOutputs builds a run's outputs (package eval/report: metrics,
// workbook, plots, reports) from its records, as ReadRun returns them.
// Each model's records are taken in the order of the run's images, not the
// order the answers arrived in, so that the figures (the resampled intervals
// among them) depend on the answers alone: a merged sharded run gives those of
// the same run unsharded.
func WriteOutputs(ctx context.Context, runDir string, info *RunInfo, recs map[string][]Record) (*report.Written, error) {
	return writeOutputs(ctx, runDir, info, recs, nil, nil)
}

// writeOutputs is WriteOutputs of a run merged from shards as rep says
// (nil: an unsharded run, or one shard's folder), with the timing of the
// sitting that ran it for summary.json (nil: none).
func writeOutputs(ctx context.Context, runDir string, info *RunInfo, recs map[string][]Record, rep *ShardReport, timing *report.RunTiming) (*report.Written, error) {
	in := reportInput(runDir, info, recs)
	in.Incomplete = incompleteOf(info, recs, rep)
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
	in := &report.Input{RunDir: runDir, RunID: info.ID, Created: info.Created, Baseline: info.Baseline, Settings: runSettings(info)}
	pos := make(map[string]int, len(info.Items))
	expected := make(map[string]float64, len(info.Items))
	for i, it := range info.Items {
		if _, ok := pos[it.ID]; !ok {
			pos[it.ID] = i
			expected[it.ID] = it.Score
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
			p := report.Prediction{ID: r.ID, ImagePath: r.Image, Expected: r.Expected, Error: r.Error, Missing: r.Missing}
			if e, ok := expected[r.ID]; ok {
				p.Expected = e // run.json's label, not what a line says
			}
			if pr := r.Prediction; pr != nil {
				p.Score, p.Text, p.ScoreError = pr.Score, pr.Text, pr.ScoreError
				p.LatencyMS = float64(pr.Latency.Microseconds()) / 1000
				p.CostUSD = pr.CostUSD
				if sv := pr.Server; sv != nil {
					p.Served = report.Served{URL: llm.RedactURL(sv.URL), Model: pr.Model, Software: sv.Software, Fingerprint: sv.Fingerprint}
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

// runSettings are the settings of info the workbook's first sheet lists.
func runSettings(info *RunInfo) []report.Setting {
	var out []report.Setting
	add := func(name, value string) {
		if value != "" {
			out = append(out, report.Setting{Name: name, Value: value})
		}
	}
	add("data", info.Data)
	add("split", info.SplitName)
	if info.Split != "" && info.Split != info.SplitName {
		add("split file", info.Split)
	}
	add("images", strconv.Itoa(len(info.Items)))
	if info.Limit > 0 {
		add("limit", strconv.Itoa(info.Limit))
	}
	add("config", info.Config)
	add("models", strings.Join(info.Models, ", "))
	if s := info.Shard; s != nil {
		add("shard", fmt.Sprintf("%d of %d (%d images in all)", s.Index, s.Count, s.SetSize))
	}
	return out
}

// incompleteOf is the incomplete marker of a run (nil when every image ×
// model has an answer): per model of info, the images without a line or
// with a line recording a missing answer; for a merge that lacks shards,
// or one shard's folder, the images of the whole run that are not there.
func incompleteOf(info *RunInfo, recs map[string][]Record, rep *ShardReport) *report.Incomplete {
	ids := make([]string, 0, len(info.Items))
	seen := make(map[string]bool, len(info.Items))
	for _, it := range info.Items {
		if !seen[it.ID] {
			seen[it.ID] = true
			ids = append(ids, it.ID)
		}
	}
	// absent: images of the run whose shard is not here (set sizes count
	// an image listed twice twice, as info.Items does).
	absent := 0
	ic := &report.Incomplete{}
	switch {
	case rep != nil && rep.SetSize > len(info.Items):
		absent = rep.SetSize - len(info.Items)
		ic.Notes = append(ic.Notes, fmt.Sprintf("%s merged: %d of the run's %d images", rep.Merged(), len(info.Items), rep.SetSize))
	case info.Shard != nil:
		absent = max(0, info.Shard.SetSize-len(info.Items))
		ic.Notes = append(ic.Notes, fmt.Sprintf("this is shard %s alone (%d of the run's %d images); analyze the run folder to merge every shard",
			info.Shard.Shard(), len(info.Items), info.Shard.SetSize))
	}
	images := len(ids) + absent
	ic.Images = images
	for _, name := range info.Models {
		m := report.IncompleteModel{Name: name, NoLine: absent}
		have := map[string]*Record{}
		for i := range recs[name] {
			have[recs[name][i].ID] = &recs[name][i]
		}
		for _, id := range ids {
			switch r := have[id]; {
			case r == nil:
				m.NoLine++
			case r.Missing != "":
				if m.Reasons == nil {
					m.Reasons = map[string]int{}
				}
				m.Reasons[r.Missing]++
			}
		}
		for _, n := range m.Reasons {
			m.Missing += n
		}
		m.Missing += m.NoLine
		ic.Expected += images
		if m.Missing > 0 {
			ic.Missing += m.Missing
			ic.Models = append(ic.Models, m)
		}
	}
	if ic.Missing == 0 && len(ic.Notes) == 0 {
		return nil
	}
	return ic
}
