package finetune

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// DataOptions configure [PrepareData]: the ground truth, its split, and the
// [Options] of the files (whose Train and Val PrepareData fills).
type DataOptions struct {
	// Data is the ground-truth file; AllowOutside accepts image paths
	// that leave its folder.
	Data         string
	AllowOutside bool
	// ValRatio is the share held out, in [0, 1); Seed the split's seed.
	ValRatio float64
	Seed     int64
	Options
}

// Report is what [PrepareData] did, as written to summary.json.
type Report struct {
	Data    string            `json:"data"`
	Format  dataset.Format    `json:"format"`
	Records int               `json:"records"`
	Skipped []dataset.Problem `json:"skipped"`
	// SkippedCounts counts Skipped by kind of reason.
	SkippedCounts map[string]int `json:"skipped_by_reason"`
	// Split is the split file written, with the ratio and seed it used.
	Split    string  `json:"split"`
	ValRatio float64 `json:"val_ratio"`
	Seed     int64   `json:"seed"`
	*Summary
	// DataSkipped are the records the ground truth's loader skipped (the
	// first part of Skipped; the rest are Summary.Skipped), and
	// DataWarnings its warnings (the files' own are in Summary).
	DataSkipped  []dataset.Problem `json:"-"`
	DataWarnings []string          `json:"-"`
}

// PrepareData is the whole of vlmcmp prepare: it loads the ground truth,
// splits it stratified by score, writes the fine-tuning files ([Prepare]),
// split.json and summary.json into opts.OutDir, and returns the report.
// Records the dataset skipped are in the report; when the data cannot be
// loaded at all the error is returned with the report so far (its Skipped
// and DataWarnings say why), or nil when the file could not be read.
func PrepareData(opts DataOptions) (*Report, error) {
	if opts.ValRatio < 0 || opts.ValRatio >= 1 {
		return nil, fmt.Errorf("prepare: val ratio %v is not in [0, 1)", opts.ValRatio)
	}
	ds, err := dataset.LoadWith(opts.Data, dataset.Options{AllowOutside: opts.AllowOutside})
	var rep *Report
	if ds != nil {
		rep = &Report{Data: opts.Data, Format: ds.Format, Records: ds.Records, Skipped: ds.Skipped, DataSkipped: ds.Skipped, DataWarnings: ds.Warnings}
	}
	if err != nil {
		return rep, err
	}
	split, err := dataset.Stratify(ds.Items, opts.ValRatio, opts.Seed)
	if err != nil {
		return rep, err
	}
	split.Data = opts.Data
	opts.Train, _ = ds.Subset(split.Train)
	opts.Val, _ = ds.Subset(split.Val)
	sum, err := Prepare(opts.Options)
	if err != nil {
		return rep, err
	}
	rep.Summary = sum
	rep.Split, rep.ValRatio, rep.Seed = filepath.Join(opts.OutDir, SplitFile), opts.ValRatio, opts.Seed
	if err := dataset.WriteSplit(rep.Split, split); err != nil {
		return rep, err
	}
	rep.Skipped = append(slices.Clip(rep.Skipped), sum.Skipped...)
	rep.SkippedCounts = eval.SkipCounts(rep.Skipped)
	return rep, writeJSON(filepath.Join(opts.OutDir, SummaryFile), rep)
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadReport reads the summary.json [PrepareData] wrote into dir.
func ReadReport(dir string) (*Report, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// WriteText writes the report as vlmcmp prepare prints it: the records
// used and skipped (by reason), the split, examples, score histogram and
// estimated tokens per part, the cost estimate, what the text-only
// examples carry, and the files written. Warnings and problems are not
// included: the caller shows them where it shows warnings.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "ground truth   %s (%s, %d records, %d usable, %d skipped)\n", r.Data, r.Format, r.Records, r.Records-len(r.Skipped), len(r.Skipped))
	for _, reason := range slices.Sorted(maps.Keys(r.SkippedCounts)) {
		fmt.Fprintf(w, "  skipped      %d: %s\n", r.SkippedCounts[reason], reason)
	}
	fmt.Fprintf(w, "split          %s (val ratio %v, seed %d, stratified by score)\n", r.Split, r.ValRatio, r.Seed)
	for _, part := range []struct {
		name string
		p    PartSummary
	}{{"train", r.Train}, {"val", r.Val}} {
		var hist []string
		for _, k := range SortedScores(part.p.Scores) {
			hist = append(hist, fmt.Sprintf("%d:%d", k, part.p.Scores[k]))
		}
		fmt.Fprintf(w, "%-14s %d examples, scores %s, ~%d tokens (text ~%d, images ~%d), largest example ~%d tokens\n",
			part.name, part.p.Examples, strings.Join(hist, " "), part.p.TextTokens+part.p.ImageTokens, part.p.TextTokens, part.p.ImageTokens, part.p.MaxExampleTokens)
	}
	if r.TrainingCostPerEpochUSD > 0 {
		fmt.Fprintf(w, "cost estimate  ~$%.2f per epoch, ~$%.2f for %d epochs on %s (token counts are estimates; the API's count decides)\n",
			r.TrainingCostPerEpochUSD, r.EstimatedCostUSD, r.Epochs, r.Model)
	}
	if len(r.TextFields) > 0 {
		fmt.Fprintf(w, "text-only      examples carry %s in place of the image\n", strings.Join(r.TextFields, ", "))
	}
	for _, f := range r.Files {
		fmt.Fprintf(w, "wrote          %s\n", f)
	}
}
