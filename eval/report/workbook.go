package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Sheet names of metrics.xlsx besides the per-model sheets.
const (
	RunSheet        = "Run"
	MetricsSheet    = "Metrics"
	SideBySideSheet = "Side by side"
)

// colKind is how a column's numbers read: it picks the number format and
// how wide the column must be.
type colKind int

const (
	kText  colKind = iota
	kScore         // scores and errors: 2 decimals
	kCorr          // correlations and kappa: 3 decimals
	kInt           // counts and milliseconds: whole numbers
	kPct           // rates, stored as fractions: a percentage with 1 decimal
	kP             // p-values: 4 decimals
	kUSD           // US dollars: 4 decimals (a cent is too coarse per image)
)

// numFmt is the Excel number format of each kind ("" for text).
var numFmt = map[colKind]string{kScore: "0.00", kCorr: "0.000", kInt: "0", kPct: "0.0%", kP: "0.0000", kUSD: "0.0000"}

// column is one column of a table: its header and kind; scale asks for a
// colour scale over its values (white for the least, red for the most).
type column struct {
	name  string
	kind  colKind
	scale bool
	// width caps the column's width in characters (default maxWidth).
	width float64
}

const (
	minWidth = 6
	maxWidth = 50
)

var metricsColumns = []column{
	{name: "model"}, {name: "backend"}, {name: "model id"}, {name: "n", kind: kInt}, {name: "n scored", kind: kInt},
	{name: "n failed", kind: kInt}, {name: "MAE", kind: kScore}, {name: "MAE CI low", kind: kScore}, {name: "MAE CI high", kind: kScore},
	{name: "RMSE", kind: kScore}, {name: "Acc@1", kind: kPct}, {name: "Acc@1 CI low", kind: kPct}, {name: "Acc@1 CI high", kind: kPct},
	{name: "Acc@2", kind: kPct}, {name: "bias", kind: kScore}, {name: "Pearson", kind: kCorr}, {name: "Spearman", kind: kCorr},
	{name: "QWK", kind: kCorr}, {name: "no score", kind: kPct}, {name: "latency p50 ms", kind: kInt}, {name: "latency p95 ms", kind: kInt},
	{name: "cost total USD", kind: kUSD}, {name: "cost per image USD", kind: kUSD}, {name: "paired images", kind: kInt},
	{name: "ΔMAE vs baseline", kind: kScore}, {name: "ΔMAE CI low", kind: kScore}, {name: "ΔMAE CI high", kind: kScore},
	{name: "p-value", kind: kP}, {name: "holds"},
}

var predictionColumns = []column{
	{name: "image"}, {name: "expected score", kind: kScore}, {name: "predicted score", kind: kScore},
	{name: "absolute error", kind: kScore, scale: true}, {name: "response", width: 60}, {name: "score error"}, {name: "error"},
	{name: "latency ms", kind: kInt}, {name: "cost USD", kind: kUSD},
}

func names(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// MetricsHeader is the header row of the Metrics sheet. Rates (Acc@1,
// Acc@2, no score) are fractions shown as percentages.
var MetricsHeader = names(metricsColumns)

// PredictionsHeader is the header row of the per-model sheets, in
// metrics.xlsx and <model>_results.xlsx.
var PredictionsHeader = names(predictionColumns)

// DisagreementHeader heads the Side by side sheet's last column: the
// largest difference between two models' scores of an image.
const DisagreementHeader = "disagreement"

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

// table is what one sheet shows: a header row of cols, then rows; links,
// when set, holds per row the path the first column's cell links to ("" for
// none).
type table struct {
	cols  []column
	rows  [][]any
	links []string
}

// hyperlink is the formula of a cell that shows text and opens target
// (relative to the workbook): HYPERLINK, rather than a sheet's hyperlink
// list, because excelize adds those one at a time in time that grows with
// the links already there, minutes at 20,000 rows. "" when target does not
// fit in a formula's string (255 characters).
func hyperlink(target, text string) string {
	if target == "" || len(target) > 255 || len(text) > 255 {
		return ""
	}
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return "HYPERLINK(" + q(target) + "," + q(text) + ")"
}

// styles are the workbook's cell styles: the header, a hyperlink, and one
// per number format.
type styles struct {
	header, headerRight, link, wrap, bold int
	num                                   map[colKind]int
}

func newStyles(f *excelize.File) (*styles, error) {
	s := &styles{num: map[colKind]int{}}
	var err error
	if s.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Family: "Calibri"},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"#E7E6E6"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "#808080", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "center"},
	}); err != nil {
		return nil, err
	}
	if s.headerRight, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Family: "Calibri"},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"#E7E6E6"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "#808080", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "center", Horizontal: "right"},
	}); err != nil {
		return nil, err
	}
	if s.link, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "#0563C1", Underline: "single", Family: "Calibri"}}); err != nil {
		return nil, err
	}
	if s.wrap, err = f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}}); err != nil {
		return nil, err
	}
	if s.bold, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Family: "Calibri"}, Alignment: &excelize.Alignment{Vertical: "top"}}); err != nil {
		return nil, err
	}
	for k, code := range numFmt {
		code := code
		if s.num[k], err = f.NewStyle(&excelize.Style{CustomNumFmt: &code}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// shown is about what a cell of kind k shows for v, to size its column.
func shown(k colKind, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if i := strings.IndexByte(x, '\n'); i >= 0 {
			x = x[:i]
		}
		return x
	case float64:
		switch k {
		case kScore:
			return fmt.Sprintf("%.2f", x)
		case kCorr:
			return fmt.Sprintf("%.3f", x)
		case kInt:
			return fmt.Sprintf("%.0f", x)
		case kPct:
			return fmt.Sprintf("%.1f%%", 100*x)
		case kP, kUSD:
			return fmt.Sprintf("%.4f", x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// printWide sets sheet to print landscape, as wide as one page and as long
// as it takes.
func printWide(f *excelize.File, sheet string) error {
	yes, landscape, one, asLong := true, "landscape", 1, 0
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &yes}); err != nil {
		return err
	}
	return f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &one, FitToHeight: &asLong})
}

// writeTable writes t into sheet from A1, through excelize's stream
// writer: a bold, frozen header row with an autofilter over the whole table,
// each column's number format, widths fitted to the content (between
// minWidth and the column's cap), colour scales, and the first column's
// links.
func writeTable(f *excelize.File, sheet string, st *styles, t *table) error {
	width := make([]float64, len(t.cols))
	header := make([]any, len(t.cols))
	for i, c := range t.cols {
		hs := st.header
		if c.kind != kText {
			hs = st.headerRight
		}
		header[i] = excelize.Cell{StyleID: hs, Value: c.name}
		// The autofilter's button takes about two characters.
		width[i] = float64(utf8.RuneCountInString(c.name)) + 4
	}
	for _, r := range t.rows {
		for j, v := range r {
			if j < len(width) {
				width[j] = max(width[j], float64(utf8.RuneCountInString(shown(t.cols[j].kind, v)))+2)
			}
		}
	}
	// The stream writer writes the sheet's properties when it starts.
	if err := printWide(f, sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	// The autofilter and the colour scales go into the worksheet the
	// stream writer holds, which Flush writes after the rows.
	last := len(t.rows) + 1
	lastCol, err := excelize.ColumnNumberToName(len(t.cols))
	if err != nil {
		return err
	}
	if err := f.AutoFilter(sheet, fmt.Sprintf("A1:%s%d", lastCol, last), nil); err != nil {
		return err
	}
	for j, c := range t.cols {
		if !c.scale || len(t.rows) == 0 {
			continue
		}
		col, err := excelize.ColumnNumberToName(j + 1)
		if err != nil {
			return err
		}
		if err := f.SetConditionalFormat(sheet, fmt.Sprintf("%s2:%s%d", col, col, last), []excelize.ConditionalFormatOptions{{
			Type: "2_color_scale", Criteria: "=", MinType: "min", MaxType: "max", MinColor: "#FFFFFF", MaxColor: "#F8696B",
		}}); err != nil {
			return err
		}
	}
	for j, c := range t.cols {
		limit := c.width
		if limit == 0 {
			limit = maxWidth
		}
		if err := sw.SetColWidth(j+1, j+1, min(max(width[j], minWidth), limit)); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := sw.SetRow("A1", header); err != nil {
		return err
	}
	for i, r := range t.rows {
		cells := make([]any, len(r))
		for j, v := range r {
			if v == nil {
				continue
			}
			c := excelize.Cell{StyleID: st.num[t.cols[j].kind], Value: v}
			if j == 0 && i < len(t.links) {
				if s, ok := v.(string); ok {
					if c.Formula = hyperlink(t.links[i], s); c.Formula != "" {
						c.StyleID = st.link
					}
				}
			}
			cells[j] = c
		}
		addr, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return err
		}
		if err := sw.SetRow(addr, cells); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// Workbook builds metrics.xlsx: the Run sheet (the verdict and the run's
// settings), the Metrics sheet (one row per model, MetricsHeader), one
// sheet of predictions per model (PredictionsHeader), and the Side by side
// sheet (image, expected score, one column of predicted scores per model,
// an empty cell where a model has no score, then the disagreement). Every
// table has a bold frozen header, an autofilter, number formats and fitted
// widths; absolute errors and disagreements carry a colour scale; image
// names link to the image files (HYPERLINK formulas), relative to
// in.RunDir.
func Workbook(in *Input, res *metrics.Result) (*excelize.File, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", RunSheet); err != nil {
		return nil, err
	}
	st, err := newStyles(f)
	if err != nil {
		return nil, err
	}
	if err := runSheet(f, st, in, res); err != nil {
		return nil, err
	}
	taken := map[string]bool{strings.ToLower(RunSheet): true, strings.ToLower(MetricsSheet): true, strings.ToLower(SideBySideSheet): true}
	mt := &table{cols: metricsColumns}
	for _, s := range res.Models {
		var backend, id string
		if m := in.model(s.Model); m != nil {
			backend, id = m.Backend, m.Model
		}
		row := []any{s.Model, backend, id, s.N, s.NScored, s.NFailed, cell(s.MAE), cell(s.MAECI.Lo), cell(s.MAECI.Hi),
			cell(s.RMSE), cell(s.Acc1), cell(s.Acc1CI.Lo), cell(s.Acc1CI.Hi), cell(s.Acc2),
			cell(s.Bias), cell(s.Pearson), cell(s.Spearman), cell(s.QWK), cell(s.NoScoreRate),
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
		mt.rows = append(mt.rows, row)
	}
	if _, err := f.NewSheet(MetricsSheet); err != nil {
		return nil, err
	}
	if err := writeTable(f, MetricsSheet, st, mt); err != nil {
		return nil, err
	}
	for i := range in.Models {
		m := &in.Models[i]
		name := SheetName(m.Name, taken)
		if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
		if err := writeTable(f, name, st, predictionTable(m, in.RunDir)); err != nil {
			return nil, err
		}
	}
	if _, err := f.NewSheet(SideBySideSheet); err != nil {
		return nil, err
	}
	if err := writeTable(f, SideBySideSheet, st, sideBySide(in)); err != nil {
		return nil, err
	}
	// The Run sheet, the first, is the active one of a new file; setting it
	// again would read every streamed sheet back in.
	return f, nil
}

// runWidth is the width of the Run sheet's second column, in characters.
const runWidth = 100

// runSheet writes the Run sheet: the run, the verdict in sentences, the
// statistics' settings, the run's own settings (in.Settings) and the
// models.
func runSheet(f *excelize.File, st *styles, in *Input, res *metrics.Result) error {
	var rows [][2]string
	bold := map[int]bool{}
	section := func(title string) {
		if len(rows) > 0 {
			rows = append(rows, [2]string{})
		}
		bold[len(rows)] = true
		rows = append(rows, [2]string{title})
	}
	add := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	section("vlmcmp comparison")
	add("run", in.runID())
	if !in.Created.IsZero() {
		add("created", in.Created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	add("baseline", res.Baseline)
	if t := incompleteText(in); t != "" {
		add("incomplete run", t+". The figures are over the answers there are.")
	}
	section("Verdict")
	for _, s := range Decide(in, res).Sentences {
		add("", s)
	}
	section("Settings")
	add("intervals", fmt.Sprintf("%s, percentile bootstrap with %d resamples, seed %d", level(res.Options.Confidence), res.Options.Resamples, res.Options.Seed))
	add("paired test", metrics.TestName)
	add("missing scores", sentenceCase(MissingScores)+".")
	for _, s := range in.Settings {
		add(s.Name, s.Value)
	}
	section("Models")
	for i := range in.Models {
		m := &in.Models[i]
		v := m.Backend
		if m.Model != "" {
			v += " · " + m.Model
		}
		if sb := ServedBy(m); sb != "" {
			v += "; answered by " + sb
		}
		add(m.Name, v)
	}
	for i, r := range rows {
		a, b := fmt.Sprintf("A%d", i+1), fmt.Sprintf("B%d", i+1)
		if err := f.SetCellStr(RunSheet, a, r[0]); err != nil {
			return err
		}
		if err := f.SetCellStr(RunSheet, b, r[1]); err != nil {
			return err
		}
		s := st.wrap
		if bold[i] {
			s = st.bold
		}
		if err := f.SetCellStyle(RunSheet, a, a, st.bold); err != nil {
			return err
		}
		if err := f.SetCellStyle(RunSheet, b, b, s); err != nil {
			return err
		}
		// Spreadsheets do not grow a row for wrapped text they did not
		// lay out themselves: give long sentences the lines they take.
		if lines := (utf8.RuneCountInString(r[1]) + runWidth - 11) / (runWidth - 10); lines > 1 {
			if err := f.SetRowHeight(RunSheet, i+1, 15*float64(lines)); err != nil {
				return err
			}
		}
	}
	if err := f.SetColWidth(RunSheet, "A", "A", 24); err != nil {
		return err
	}
	if err := f.SetColWidth(RunSheet, "B", "B", runWidth); err != nil {
		return err
	}
	return printWide(f, RunSheet)
}

// predictionTable is a model's predictions as a sheet, image names linked
// relative to dir.
func predictionTable(m *ModelResult, dir string) *table {
	t := &table{cols: predictionColumns}
	for j := range m.Predictions {
		p := &m.Predictions[j]
		t.rows = append(t.rows, predictionRow(p))
		t.links = append(t.links, relPath(dir, p.ImagePath))
	}
	return t
}

// sideBySide lists every image of any model, in the order first seen, with
// each model's score and the disagreement: the largest score minus the
// smallest, over the models that scored the image (empty with fewer than
// two).
func sideBySide(in *Input) *table {
	cols := []column{{name: "image"}, {name: "expected score", kind: kScore}}
	for _, m := range in.Models {
		cols = append(cols, column{name: m.Name, kind: kScore})
	}
	cols = append(cols, column{name: DisagreementHeader, kind: kScore, scale: true})
	t := &table{cols: cols}
	for _, im := range everyImage(in) {
		row := []any{im.ID, im.Expected}
		for _, s := range im.Scores {
			if s == nil {
				row = append(row, nil)
			} else {
				row = append(row, *s)
			}
		}
		if d, ok := im.disagreement(); ok {
			row = append(row, d)
		} else {
			row = append(row, nil)
		}
		t.rows = append(t.rows, row)
		t.links = append(t.links, relPath(in.RunDir, im.ImagePath))
	}
	return t
}

// imageRow is one image across the models: its expected score and each
// model's score (nil where none).
type imageRow struct {
	ID, ImagePath string
	Expected      float64
	Scores        []*float64
}

// disagreement is the largest minus the smallest score of im, false with
// fewer than two scores.
func (im *imageRow) disagreement() (float64, bool) {
	n := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range im.Scores {
		if s != nil {
			n++
			lo, hi = min(lo, *s), max(hi, *s)
		}
	}
	return hi - lo, n >= 2
}

// worstError is the largest absolute error of any model on im, false when
// none scored it.
func (im *imageRow) worstError() (float64, bool) {
	w, ok := 0.0, false
	for _, s := range im.Scores {
		if s != nil {
			w, ok = max(w, math.Abs(*s-im.Expected)), true
		}
	}
	return w, ok
}

// everyImage is every image of any model of in, in the order first seen.
func everyImage(in *Input) []imageRow {
	var out []imageRow
	at := map[string]int{}
	for i, m := range in.Models {
		for j := range m.Predictions {
			p := &m.Predictions[j]
			k, ok := at[p.ID]
			if !ok {
				k = len(out)
				at[p.ID] = k
				out = append(out, imageRow{ID: p.ID, Expected: p.Expected, Scores: make([]*float64, len(in.Models))})
			}
			if out[k].ImagePath == "" {
				out[k].ImagePath = p.ImagePath
			}
			if p.Score != nil {
				out[k].Scores[i] = p.Score
			}
		}
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
// PredictionsHeader, formatted as metrics.xlsx's model sheets, image names
// linked relative to dir (the folder the workbook is written to).
func ResultsWorkbook(m *ModelResult, dir string) (*excelize.File, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", "Results"); err != nil {
		return nil, err
	}
	st, err := newStyles(f)
	if err != nil {
		return nil, err
	}
	if err := writeTable(f, "Results", st, predictionTable(m, dir)); err != nil {
		return nil, err
	}
	return f, nil
}
