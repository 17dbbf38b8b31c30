package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Sheet names of metrics.xlsx besides the per-model sheets.
const (
	MetricsSheet    = "Metrics"
	SideBySideSheet = "Side by side"
)

// MetricsHeader is the header row of the Metrics sheet.
var MetricsHeader = []string{
	"model", "backend", "model id", "n", "n scored", "n failed", "MAE", "MAE CI low", "MAE CI high",
	"RMSE", "Acc@1 %", "Acc@1 CI low %", "Acc@1 CI high %", "Acc@2 %", "bias", "Pearson", "Spearman", "QWK",
	"no score %", "latency p50 ms", "latency p95 ms", "cost total USD", "cost per image USD",
	"paired images", "ΔMAE vs baseline", "ΔMAE CI low", "ΔMAE CI high", "p-value", "holds",
}

// PredictionsHeader is the header row of the per-model sheets, in
// metrics.xlsx and <model>_results.xlsx.
var PredictionsHeader = []string{
	"image", "expected score", "predicted score", "absolute error", "response", "score error", "error", "latency ms", "cost USD",
}

// cell is a value for a sheet: undefined numbers become empty cells.
func cell(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// SheetName makes a valid, unique sheet name from a model name: at most 31
// characters, none of : \ / ? * [ ], not one of taken (compared without
// case, as Excel does).
func SheetName(name string, taken map[string]bool) string {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, name)
	s = strings.Trim(s, "'")
	if s == "" {
		s = "model"
	}
	cut := func(s string, n int) string {
		r := []rune(s)
		if len(r) > n {
			return string(r[:n])
		}
		return s
	}
	base := cut(s, 31)
	out := base
	for i := 2; taken[strings.ToLower(out)]; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		out = cut(base, 31-len(suffix)) + suffix
	}
	taken[strings.ToLower(out)] = true
	return out
}

// predictionRow is one row of a predictions sheet.
func predictionRow(p *Prediction) []any {
	var score, abs any
	if p.Score != nil {
		score = *p.Score
		e, _ := p.AbsError()
		abs = e
	}
	return []any{p.ID, p.Expected, score, abs, p.Text, p.ScoreError, p.Error, p.LatencyMS, p.CostUSD}
}

func setRows(f *excelize.File, sheet string, rows [][]any) error {
	for i, r := range rows {
		addr, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			return err
		}
		if err := f.SetSheetRow(sheet, addr, &r); err != nil {
			return err
		}
	}
	if len(rows) > 0 {
		if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return err
		}
	}
	return nil
}

// Workbook builds metrics.xlsx: the Metrics sheet (one row per model,
// MetricsHeader), one sheet of predictions per model (PredictionsHeader),
// and the Side by side sheet (image, expected score, then one column of
// predicted scores per model; an empty cell where a model has no score).
func Workbook(in *Input, res *metrics.Result) (*excelize.File, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", MetricsSheet); err != nil {
		return nil, err
	}
	taken := map[string]bool{strings.ToLower(MetricsSheet): true, strings.ToLower(SideBySideSheet): true}
	rows := [][]any{toAny(MetricsHeader)}
	for _, s := range res.Models {
		var backend, id string
		if m := in.model(s.Model); m != nil {
			backend, id = m.Backend, m.Model
		}
		row := []any{s.Model, backend, id, s.N, s.NScored, s.NFailed, cell(s.MAE), cell(s.MAECI.Lo), cell(s.MAECI.Hi),
			cell(s.RMSE), cell(100 * s.Acc1), cell(100 * s.Acc1CI.Lo), cell(100 * s.Acc1CI.Hi), cell(100 * s.Acc2),
			cell(s.Bias), cell(s.Pearson), cell(s.Spearman), cell(s.QWK), cell(100 * s.NoScoreRate),
			cell(s.LatencyP50MS), cell(s.LatencyP95MS), s.CostTotalUSD, cell(s.CostPerImageUSD)}
		if p := s.Paired; p != nil {
			holds := "no"
			if p.Significant(res.Options.Confidence) {
				holds = "yes"
			}
			row = append(row, p.N, cell(p.DiffMAE), cell(p.DiffCI.Lo), cell(p.DiffCI.Hi), cell(p.PValue), holds)
		} else {
			row = append(row, nil, nil, nil, nil, nil, "baseline")
		}
		rows = append(rows, row)
	}
	if err := setRows(f, MetricsSheet, rows); err != nil {
		return nil, err
	}
	for i := range in.Models {
		m := &in.Models[i]
		name := SheetName(m.Name, taken)
		if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
		if err := setRows(f, name, predictionRows(m)); err != nil {
			return nil, err
		}
	}
	if _, err := f.NewSheet(SideBySideSheet); err != nil {
		return nil, err
	}
	if err := setRows(f, SideBySideSheet, sideBySide(in)); err != nil {
		return nil, err
	}
	return f, nil
}

func predictionRows(m *ModelResult) [][]any {
	rows := [][]any{toAny(PredictionsHeader)}
	for j := range m.Predictions {
		rows = append(rows, predictionRow(&m.Predictions[j]))
	}
	return rows
}

// sideBySide lists every image of any model, in the order first seen.
func sideBySide(in *Input) [][]any {
	header := []any{"image", "expected score"}
	for _, m := range in.Models {
		header = append(header, m.Name)
	}
	type row struct {
		exp    float64
		scores []any
	}
	var order []string
	rows := map[string]*row{}
	for i, m := range in.Models {
		for _, p := range m.Predictions {
			r := rows[p.ID]
			if r == nil {
				r = &row{exp: p.Expected, scores: make([]any, len(in.Models))}
				rows[p.ID] = r
				order = append(order, p.ID)
			}
			if p.Score != nil {
				r.scores[i] = *p.Score
			}
		}
	}
	out := [][]any{header}
	for _, id := range order {
		out = append(out, append([]any{id, rows[id].exp}, rows[id].scores...))
	}
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func xlsxBytes(f *excelize.File) ([]byte, error) {
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ResultsFile is the content of <model>_results.json, in the shape
// compare_all_models.py wrote: the model, its metrics (accuracies in percent,
// as the original printed them) and one result per image.
type ResultsFile struct {
	Model   string          `json:"model"`
	Backend string          `json:"backend,omitempty"`
	ModelID string          `json:"model_id,omitempty"`
	Metrics ResultsMetrics  `json:"metrics"`
	Results []ResultsRecord `json:"results"`
}

// ResultsMetrics are the original scripts' four metrics and counts.
type ResultsMetrics struct {
	MAE               *float64 `json:"mae"`
	RMSE              *float64 `json:"rmse"`
	AccuracyWithin1   *float64 `json:"accuracy_within_1"`
	AccuracyWithin2   *float64 `json:"accuracy_within_2"`
	TotalSamples      int      `json:"total_samples"`
	ValidPredictions  int      `json:"valid_predictions"`
	FailedExtractions int      `json:"failed_extractions"`
}

// ResultsRecord is one image of a results file.
type ResultsRecord struct {
	ImagePath      string   `json:"image_path"`
	ExpectedScore  float64  `json:"expected_score"`
	PredictedScore *float64 `json:"predicted_score"`
	AbsoluteError  *float64 `json:"absolute_error"`
	Response       string   `json:"response"`
	ScoreError     string   `json:"score_error,omitempty"`
	Error          string   `json:"error,omitempty"`
	LatencyMS      float64  `json:"latency_ms"`
	CostUSD        float64  `json:"cost_usd"`
}

// Results builds m's results file from its summary s.
func Results(m *ModelResult, s *metrics.Summary) *ResultsFile {
	r := &ResultsFile{Model: m.Name, Backend: m.Backend, ModelID: m.Model, Metrics: ResultsMetrics{
		MAE: num(s.MAE), RMSE: num(s.RMSE), AccuracyWithin1: num(100 * s.Acc1), AccuracyWithin2: num(100 * s.Acc2),
		TotalSamples: s.N, ValidPredictions: s.NScored, FailedExtractions: s.N - s.NScored,
	}}
	r.Results = []ResultsRecord{}
	for _, p := range m.Predictions {
		rec := ResultsRecord{ImagePath: p.ID, ExpectedScore: p.Expected, PredictedScore: p.Score, Response: p.Text,
			ScoreError: p.ScoreError, Error: p.Error, LatencyMS: p.LatencyMS, CostUSD: p.CostUSD}
		if e, ok := p.AbsError(); ok {
			rec.AbsoluteError = &e
		}
		r.Results = append(r.Results, rec)
	}
	return r
}

func resultsJSON(r *ResultsFile) ([]byte, error) {
	return marshalJSON(r)
}

// marshalJSON indents v and leaves <, > and & as they are: the files are
// read by people and programs, never embedded in HTML.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ResultsWorkbook is <model>_results.xlsx: one Results sheet with
// PredictionsHeader.
func ResultsWorkbook(m *ModelResult) (*excelize.File, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", "Results"); err != nil {
		return nil, err
	}
	if err := setRows(f, "Results", predictionRows(m)); err != nil {
		return nil, err
	}
	return f, nil
}
