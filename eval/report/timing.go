package report

import (
	"fmt"
	"strings"
)

// RunTiming is how long one sitting of a run took: each model's wall time
// and rate, and the run's. Every model of a run works at once, so the run
// takes about as long as its slowest model. It covers the answers of that
// sitting only (a resumed run's earlier answers are not in it), and outputs
// rewritten later (vlmcmp analyze) have none.
type RunTiming struct {
	// WallS is the run's wall time in seconds, from the first model's start
	// to the last model's last answer.
	WallS float64 `json:"wall_s"`
	// Images is the images asked about in this sitting (by any model),
	// ImagesPerS their rate; Answers the image × model answers (errors
	// included), AnswersPerS theirs.
	Images      int     `json:"images"`
	ImagesPerS  float64 `json:"images_per_s"`
	Answers     int     `json:"answers"`
	AnswersPerS float64 `json:"answers_per_s"`
	// Models in the run's order.
	Models []ModelTiming `json:"models"`
}

// ModelTiming is one model's part of a RunTiming.
type ModelTiming struct {
	Model string `json:"model"`
	// WallS is from the model's start to its last answer, in seconds;
	// Images what it answered in that time (errors included), ImagesPerS
	// their rate.
	WallS      float64 `json:"wall_s"`
	Images     int     `json:"images"`
	ImagesPerS float64 `json:"images_per_s"`
}

// Table is the timing as the end-of-run table shows it.
func (t *RunTiming) Table() string {
	if t == nil {
		return ""
	}
	w := len("run")
	for _, m := range t.Models {
		w = max(w, len(m.Model))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %8s  %6s  %8s\n", w, "timing", "wall s", "images", "images/s")
	for _, m := range t.Models {
		fmt.Fprintf(&b, "%-*s  %8.1f  %6d  %8.2f\n", w, m.Model, m.WallS, m.Images, m.ImagesPerS)
	}
	fmt.Fprintf(&b, "%-*s  %8.1f  %6d  %8.2f  (%d answers, %.2f/s)\n", w, "run", t.WallS, t.Images, t.ImagesPerS, t.Answers, t.AnswersPerS)
	return b.String()
}
