package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	// Metrics are the metrics the outputs show; Verdict the verdict they
	// state.
	Metrics *metrics.Result
	Verdict Verdict
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
	w := &Written{Metrics: res, Verdict: Decide(in, res)}
	dir := in.RunDir
	put := func(name string, data []byte) (string, error) {
		path := filepath.Join(dir, name)
		if err := writeFile(path, data); err != nil {
			return "", err
		}
		return path, ctx.Err()
	}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, Summary(in, res)); err != nil {
		return nil, err
	}
	var err error
	if w.Summary, err = put("summary.json", buf.Bytes()); err != nil {
		return w, err
	}

	wb, err := Workbook(in, res)
	if err != nil {
		return w, fmt.Errorf("report: metrics.xlsx: %w", err)
	}
	data, err := xlsxBytes(wb)
	if err != nil {
		return w, fmt.Errorf("report: metrics.xlsx: %w", err)
	}
	if w.Workbook, err = put("metrics.xlsx", data); err != nil {
		return w, err
	}

	for i := range in.Models {
		m := &in.Models[i]
		s := res.Find(m.Name)
		if s == nil {
			return w, fmt.Errorf("report: model %s has no metrics", m.Name)
		}
		base := SafeFileName(m.Name) + "_results"
		data, err := resultsJSON(Results(m, s))
		if err != nil {
			return w, fmt.Errorf("report: %s.json: %w", base, err)
		}
		path, err := put(base+".json", data)
		if err != nil {
			return w, err
		}
		w.Results = append(w.Results, path)
		rb, err := ResultsWorkbook(m, in.RunDir)
		if err == nil {
			data, err = xlsxBytes(rb)
		}
		if err != nil {
			return w, fmt.Errorf("report: %s.xlsx: %w", base, err)
		}
		if path, err = put(base+".xlsx", data); err != nil {
			return w, err
		}
		w.Results = append(w.Results, path)
	}

	figs, err := Figures(in, res)
	if err != nil {
		return w, fmt.Errorf("report: %w", err)
	}
	var pngs []NamedPNG
	for _, fig := range figs {
		png, svg, err := fig.render()
		if err != nil {
			return w, fmt.Errorf("report: %w", err)
		}
		for _, out := range []struct {
			ext  string
			data []byte
		}{{".png", png}, {".svg", svg}} {
			path, err := put(filepath.Join("plots", fig.Name+out.ext), out.data)
			if err != nil {
				return w, err
			}
			w.Plots = append(w.Plots, path)
		}
		pngs = append(pngs, NamedPNG{fig.Name, png})
	}

	buf.Reset()
	if err := WriteText(&buf, in, res); err != nil {
		return w, fmt.Errorf("report: report.txt: %w", err)
	}
	if w.Text, err = put("report.txt", buf.Bytes()); err != nil {
		return w, err
	}
	buf.Reset()
	if err := WriteHTML(&buf, in, res, pngs); err != nil {
		return w, fmt.Errorf("report: report.html: %w", err)
	}
	if w.HTML, err = put("report.html", buf.Bytes()); err != nil {
		return w, err
	}
	return w, nil
}

// SafeFileName turns a model name into a file name: path separators and
// characters that are trouble in file names become '_'.
func SafeFileName(name string) string {
	s := strings.Map(func(r rune) rune {
		if r < ' ' || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	if s == "" || s == "." || s == ".." {
		return "model"
	}
	return s
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
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
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
