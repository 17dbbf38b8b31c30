package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Input is what a run's outputs are made from: every model's predictions.
// [Write] does not modify it.
type Input struct {
	// RunDir is the run folder the outputs are written into (it must exist
	// or be creatable).
	RunDir string
	// RunID names the run in the reports; the base name of RunDir when
	// empty.
	RunID string
	// Created is when the run started, shown in the reports; omitted when
	// zero (the golden tests leave it zero).
	Created time.Time
	// Models in the order the reports list them.
	Models []ModelResult
	// Baseline names the model the others are compared with; the first
	// model when empty.
	Baseline string
	// Metrics are the evaluated metrics; [Write] computes them with
	// [Evaluate] (and Options) when nil.
	Metrics *metrics.Result
	// Options are the statistics options used when Metrics is nil.
	Options metrics.Options
	// Extremes is how many best and worst predictions per model the
	// reports show (default 5).
	Extremes int
	// NoThumbnails leaves images out of report.html (for tests and runs
	// whose images are not at hand); the reports still name them.
	NoThumbnails bool
	// Settings are the run's own settings (data file, split, config), in
	// the order the first sheet of metrics.xlsx lists them.
	Settings []Setting
	// Incomplete, when set, says that some image × model lacks an answer;
	// summary.json and both reports carry it.
	Incomplete *Incomplete
	// Timing, when set, is how long the sitting that wrote the outputs
	// took (summary.json's timing).
	Timing *RunTiming
}

// Incomplete is the marker of a run with answers missing: no line yet (a
// run still going, lines deleted, shards missing) or a line recording a
// missing answer ([Prediction.Missing]).
type Incomplete struct {
	// Missing image × model answers of Expected (the run's images times
	// its models).
	Missing  int `json:"missing"`
	Expected int `json:"expected"`
	// Images is the number of images of the run.
	Images int `json:"images"`
	// Models are the models with answers missing.
	Models []IncompleteModel `json:"models"`
	// Notes say what else makes the run incomplete (shards missing, one
	// shard's folder analyzed alone).
	Notes []string `json:"notes,omitempty"`
}

// IncompleteModel is one model's missing answers.
type IncompleteModel struct {
	Name string `json:"name"`
	// Missing of the run's images; NoLine of them have no line at all, the
	// others a line saying why (Reasons, by llm.Missing* reason).
	Missing int            `json:"missing"`
	NoLine  int            `json:"no_line"`
	Reasons map[string]int `json:"reasons,omitempty"`
}

// Sentence is the marker in words: "incomplete: 26 of 80 image × model
// answers are missing (gpt4 26: 20 without a line, 6 unreachable)".
func (ic *Incomplete) Sentence() string {
	var parts []string
	for _, m := range ic.Models {
		var why []string
		if m.NoLine > 0 {
			why = append(why, fmt.Sprintf("%d without a line", m.NoLine))
		}
		for _, r := range slices.Sorted(maps.Keys(m.Reasons)) {
			why = append(why, fmt.Sprintf("%d %s", m.Reasons[r], r))
		}
		parts = append(parts, fmt.Sprintf("%s %d: %s", m.Name, m.Missing, strings.Join(why, ", ")))
	}
	s := fmt.Sprintf("incomplete: %d of %d image × model answers are missing", ic.Missing, ic.Expected)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	for _, n := range ic.Notes {
		s += "; " + n
	}
	return s
}

// Setting is one named setting of a run, as a person reads it.
type Setting struct{ Name, Value string }

// ModelResult is one model's predictions.
type ModelResult struct {
	// Name is the configured model name (as in vlmcmp.yaml and file names).
	Name string
	// Backend is the backend kind ("local", "openai", "baseline").
	Backend string
	// Model is the backend's own model identifier (API model, GGUF file).
	Model string
	// Predictions, one per image, in the order the sheets list them.
	Predictions []Prediction
}

// Prediction is one model's answer for one image.
type Prediction struct {
	// ID names the image (its path relative to the data file).
	ID string
	// ImagePath is the image file, for thumbnails; may be empty.
	ImagePath string
	// Expected is the ground-truth score.
	Expected float64
	// Score is the predicted score; nil when none could be read or there
	// was no answer.
	Score *float64
	// Text is the answer verbatim.
	Text string
	// ScoreError says why Score is nil when there was an answer.
	ScoreError string
	// Error says why there was no answer at all (an unreadable image, a
	// refused request); empty when there was one.
	Error string
	// Missing, with Error, is why the answer is missing rather than the
	// model's (llm.Missing*: unreachable, server_error, no_model…): such a
	// prediction is left out of every figure and is never "no score".
	Missing string
	// LatencyMS is the request's wall time in milliseconds.
	LatencyMS float64
	// CostUSD is the request's cost in US dollars.
	CostUSD float64
	// Served says which server answered (OpenAI-compatible backends).
	Served Served
}

// AbsError is |Score − Expected|, and false when there is no score.
func (p *Prediction) AbsError() (float64, bool) {
	if p.Score == nil {
		return 0, false
	}
	d := *p.Score - p.Expected
	if d < 0 {
		d = -d
	}
	return d, true
}

// Samples converts a model's predictions to the metrics' input.
func (m *ModelResult) Samples() []metrics.Sample {
	out := make([]metrics.Sample, len(m.Predictions))
	for i, p := range m.Predictions {
		out[i] = metrics.Sample{
			ID:        p.ID,
			Expected:  p.Expected,
			Predicted: p.Score,
			Failed:    p.Error != "" && p.Missing == "",
			Missing:   p.Missing != "",
			LatencyMS: p.LatencyMS,
			CostUSD:   p.CostUSD,
		}
	}
	return out
}

// Evaluate computes the metrics of in's models against its baseline.
func Evaluate(in *Input) (*metrics.Result, error) {
	ms := make([]metrics.Model, len(in.Models))
	for i := range in.Models {
		ms[i] = metrics.Model{Name: in.Models[i].Name, Samples: in.Models[i].Samples()}
	}
	return metrics.Evaluate(ms, in.Baseline, in.Options)
}

// incompleteText is the incomplete marker of report.html, "" for a
// complete run.
func incompleteText(in *Input) string {
	if in.Incomplete == nil {
		return ""
	}
	return strings.TrimPrefix(in.Incomplete.Sentence(), "incomplete: ")
}

// unanswered reports whether the run's model name has no answer at all.
func (ic *Incomplete) unanswered(name string) bool {
	if ic == nil {
		return false
	}
	for _, m := range ic.Models {
		if m.Name == name && m.Missing >= ic.Images {
			return true
		}
	}
	return false
}
