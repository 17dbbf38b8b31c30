package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Written lists the files [Write] wrote, as paths inside the run folder.
type Written struct {
	// Summary is summary.json; Workbook metrics.xlsx; Text report.txt;
	// HTML report.html.
	Summary, Workbook, Text, HTML string
	// Results are the per-model results files, JSON and XLSX.
	Results []string
	// Plots are the plot files, PNG and SVG.
	Plots []string
	// Metrics are the metrics the outputs show.
	Metrics *metrics.Result
}

func (in *Input) runID() string {
	if in.RunID != "" {
		return in.RunID
	}
	return filepath.Base(in.RunDir)
}

func (in *Input) model(name string) *ModelResult {
	for i := range in.Models {
		if in.Models[i].Name == name {
			return &in.Models[i]
		}
	}
	return nil
}

func (in *Input) extremes() int {
	if in.Extremes > 0 {
		return in.Extremes
	}
	return 5
}

// Write writes every output of the run into in.RunDir (see the package
// comment) and returns what it wrote. It stops at the first error, naming
// the file; ctx is checked between files.
func Write(ctx context.Context, in *Input) (*Written, error) {
	if in.RunDir == "" {
		return nil, errors.New("report: no run folder")
	}
	if len(in.Models) == 0 {
		return nil, errors.New("report: no models")
	}
	res := in.Metrics
	if res == nil {
		var err error
		if res, err = Evaluate(in); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(in.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	w := &Written{Metrics: res}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, Summary(in, res)); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(in.RunDir, "summary.json"), buf.Bytes()); err != nil {
		return nil, err
	}
	w.Summary = filepath.Join(in.RunDir, "summary.json")
	if err := ctx.Err(); err != nil {
		return w, err
	}
	return w, nil
}

// writeFile writes data to path through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
