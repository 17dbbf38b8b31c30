package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

var (
	update = flag.Bool("update", false, "rewrite the golden files in testdata")
	keep   = flag.String("keep", "", "also write the fixture's outputs into this folder, to look at them")
)

func sp(v float64) *float64 { return &v }

// fixture is a fixed set of predictions: a median baseline, a fine-tuned
// model that is close, and a model with misses, refusals and a failure.
func fixture(t testing.TB, runDir string) *Input {
	t.Helper()
	exp := []float64{3, 5, 7, 8, 2, 6, 9, 4, 5, 7, 6, 8}
	ft := []float64{4, 5, 6, 8, 3, 7, 7, 4, 6, 7.5, 6, 8}
	qw := []float64{9, 5, 5, 2, 6, 5, 4, 8, 0, 7, 0, 6} // 0: no score
	in := &Input{RunDir: runDir, RunID: "golden", Baseline: "median", Options: metrics.Options{Seed: 1}, Extremes: 3, NoThumbnails: true}
	base := ModelResult{Name: "median", Backend: "baseline", Model: "median"}
	fine := ModelResult{Name: "gpt4o-mini-ft", Backend: "openai", Model: "ft:gpt-4o-mini:acme::abc"}
	qwen := ModelResult{Name: "qwen2vl-ft", Backend: "local", Model: "qwen2vl-2b-q8_0.gguf"}
	for i := range exp {
		id := fmt.Sprintf("images/street_%02d.jpg", i)
		base.Predictions = append(base.Predictions, Prediction{ID: id, Expected: exp[i], Score: sp(6), Text: "6"})
		fine.Predictions = append(fine.Predictions, Prediction{ID: id, Expected: exp[i], Score: sp(ft[i]),
			Text: fmt.Sprintf("Safety score: %g/10. Lighting is fair; %d cars parked.", ft[i], i), LatencyMS: float64(400 + 37*i), CostUSD: 0.0021})
		q := Prediction{ID: id, Expected: exp[i], Text: fmt.Sprintf("**%g** <looks> \"ok\" & fine", qw[i]), LatencyMS: float64(900 + 11*i)}
		switch {
		case i == 8:
			q.Text, q.ScoreError = "I can't assess this image.", "no score: the answer declines to rate the image"
		case i == 10:
			q.Text, q.Error = "", "image images/street_10.jpg: not an image (empty file)"
		default:
			q.Score = sp(qw[i])
		}
		qwen.Predictions = append(qwen.Predictions, q)
	}
	in.Models = []ModelResult{base, fine, qwen}
	return in
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestWriteGolden(t *testing.T) {
	dir := t.TempDir()
	in := fixture(t, dir)
	w, err := Write(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if *keep != "" {
		in.RunDir = *keep
		in.NoThumbnails = false
		if _, err := Write(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"summary.json", "report.txt"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+".golden", got)
	}
	if w.Summary == "" || w.Workbook == "" || w.Text == "" || w.HTML == "" || len(w.Results) != 6 || len(w.Plots) != 8 {
		t.Errorf("Write wrote %+v, want summary, workbook, text, html, 6 results files and 8 plots", w)
	}
	for _, p := range append(append([]string{w.Summary, w.Workbook, w.Text, w.HTML}, w.Results...), w.Plots...) {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", p, err)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	in := fixture(t, t.TempDir())
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSummary(&b, Summary(in, res)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		MissingScores string `json:"missing_scores"`
		Models        []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.MissingScores, "excluded") {
		t.Errorf("missing_scores = %q", got.MissingScores)
	}
	// The constant baseline has no Pearson correlation: null, not NaN.
	if v, ok := got.Models[0]["pearson"]; !ok || v != nil {
		t.Errorf("baseline pearson = %v (present %v), want null", v, ok)
	}
	q := got.Models[2]
	// qwen2vl-ft: 12 images, 10 scored (one refusal, one failure).
	if q["n"] != 12.0 || q["n_scored"] != 10.0 || q["n_failed"] != 1.0 || q["no_score_rate"] != 2.0/12 {
		t.Errorf("qwen2vl-ft counts: n %v scored %v failed %v no-score %v; want 12 10 1 0.1667", q["n"], q["n_scored"], q["n_failed"], q["no_score_rate"])
	}
	for _, k := range []string{"mae", "rmse", "acc1", "acc2", "bias", "pearson", "spearman", "qwk", "latency", "cost", "intervals", "paired"} {
		if _, ok := q[k]; !ok {
			t.Errorf("qwen2vl-ft has no %q", k)
		}
	}
}

func TestWorkbookReadBack(t *testing.T) {
	dir := t.TempDir()
	in := fixture(t, dir)
	if _, err := Write(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(filepath.Join(dir, "metrics.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{RunSheet, MetricsSheet, "median", "gpt4o-mini-ft", "qwen2vl-ft", SideBySideSheet}
	if got := f.GetSheetList(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sheets %q, want %q", got, want)
	}
	rows, err := f.GetRows(MetricsSheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "model" || rows[2][0] != "gpt4o-mini-ft" {
		t.Fatalf("Metrics rows %q", rows)
	}
	// MAE of gpt4o-mini-ft: |1|+0+1+0+1+1+2+0+1+0.5+0+0 = 7.5 over 12.
	col := indexOf(rows[0], "MAE")
	if got := rows[2][col]; got != "0.625" {
		t.Errorf("gpt4o-mini-ft MAE cell %q, want 0.625", got)
	}
	if got := rows[1][indexOf(rows[0], "holds")]; got != "baseline" {
		t.Errorf("median holds cell %q, want baseline", got)
	}
	side, err := f.GetRows(SideBySideSheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(side) != 13 || strings.Join(side[0], "|") != "image|expected score|median|gpt4o-mini-ft|qwen2vl-ft|disagreement" {
		t.Fatalf("side by side header %q and %d rows, want 13", side[0], len(side))
	}
	// Image 8: expected 5, median 6, fine-tuned 6, qwen refused (empty),
	// so the disagreement is 0.
	if r := side[9]; len(r) != 6 || r[0] != "images/street_08.jpg" || r[1] != "5" || r[2] != "6" || r[3] != "6" || r[4] != "" || r[5] != "0" {
		t.Errorf("side by side row 9 = %q", r)
	}
	qrows, err := f.GetRows("qwen2vl-ft")
	if err != nil {
		t.Fatal(err)
	}
	if len(qrows) != 13 || qrows[11][indexOf(qrows[0], "error")] == "" {
		t.Errorf("qwen2vl-ft sheet: %d rows, failure row %q", len(qrows), qrows[11])
	}
	rf, err := excelize.OpenFile(filepath.Join(dir, "qwen2vl-ft_results.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if r, _ := rf.GetRows("Results"); len(r) != 13 {
		t.Errorf("qwen2vl-ft_results.xlsx has %d rows, want 13", len(r))
	}
}

func indexOf(s []string, v string) int {
	for i := range s {
		if s[i] == v {
			return i
		}
	}
	return -1
}

func TestPlotData(t *testing.T) {
	in := fixture(t, t.TempDir())
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	names, bars := MetricBars(res)
	if len(names) != 4 || len(bars[0]) != 3 {
		t.Fatalf("MetricBars: %d metrics, %d bars", len(names), len(bars[0]))
	}
	if b := bars[0][1]; b.Model != "gpt4o-mini-ft" || b.Value != 0.625 || !(b.Lo <= b.Value && b.Value <= b.Hi) {
		t.Errorf("MAE bar %+v, want 0.625 inside its interval", b)
	}
	if b := bars[1][0]; !math.IsNaN(b.Lo) {
		t.Errorf("RMSE bar has an interval: %+v", b)
	}
	if b := bars[2][1]; b.Value != 100*res.Models[1].Acc1 {
		t.Errorf("Acc@1 bar %v, want percent %v", b.Value, 100*res.Models[1].Acc1)
	}

	q := &in.Models[2]
	pts := ScatterPoints(q)
	if len(pts) != 10 {
		t.Errorf("scatter: %d points, want the 10 scored", len(pts))
	}
	for _, p := range pts {
		if math.Abs(p.X-p.Expected) > Jitter || math.Abs(p.Y-p.Predicted) > Jitter {
			t.Errorf("point %+v moved more than %v", p, Jitter)
		}
	}
	if again := ScatterPoints(q); again[3] != pts[3] {
		t.Error("jitter is not deterministic")
	}
	// Two images at the same integer point must not be drawn on top of
	// each other: the baseline predicts 6 for both images expected 8.
	bp := ScatterPoints(&in.Models[0])
	if bp[3].X == bp[11].X && bp[3].Y == bp[11].Y {
		t.Error("jitter left two identical points on top of each other")
	}

	// gpt4o-mini-ft errors: +1,0,−1,0,+1,+1,−2,0,+1,+0.5,0,0 → bins.
	bins := ErrorBins(&in.Models[1])
	want := map[int]float64{-2: 1, -1: 1, 0: 5, 1: 5}
	for i, b := range bins {
		c := i - 9
		if b.Weight != want[c] || b.Min != float64(c)-0.5 || b.Max != float64(c)+0.5 {
			t.Errorf("bin %d: %+v, want weight %v", c, b, want[c])
		}
	}

	cm := ConfusionCounts(q, 1, 10)
	total := 0
	for _, r := range cm {
		for _, v := range r {
			total += v
		}
	}
	// Expected 8 predicted 2 (image 3): row 8, column 2.
	if total != 10 || cm[7][1] != 1 {
		t.Errorf("confusion: total %d (want 10), [8][2] = %d (want 1)", total, cm[7][1])
	}
}

func TestPlotsRender(t *testing.T) {
	dir := t.TempDir()
	in := fixture(t, dir)
	w, err := Write(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	res := w.Metrics
	figs, err := Figures(in, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, fig := range figs {
		path := filepath.Join(dir, "plots", fig.Name+".png")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ww, hh := fig.PixelSize()
		if b := img.Bounds(); b.Dx() != ww || b.Dy() != hh {
			t.Errorf("%s: %dx%d, want %dx%d", path, b.Dx(), b.Dy(), ww, hh)
		}
		if !hasInk(img) {
			t.Errorf("%s: blank image", path)
		}
		svg, err := os.ReadFile(filepath.Join(dir, "plots", fig.Name+".svg"))
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("%s.svg: %v, not an SVG", fig.Name, err)
		}
	}
	// Three models: panels in one row of three; metrics in two by two.
	if w, h := figs[1].PixelSize(); w != 3*4*PlotDPI || h != int(3.5*PlotDPI) {
		t.Errorf("score_distribution size %dx%d, want %dx%d", w, h, 3*4*PlotDPI, int(3.5*PlotDPI))
	}
}

// hasInk reports whether img has at least a few hundred pixels that are not
// white.
func hasInk(img image.Image) bool {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			if r, g, bb, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bb < 0xf000 {
				n++
			}
		}
	}
	return n > 200
}

func TestHTMLSelfContainedAndEscaped(t *testing.T) {
	dir := t.TempDir()
	in := fixture(t, dir)
	in.NoThumbnails = false
	// A real image for the worst prediction of qwen2vl-ft (image 3:
	// expected 8, predicted 2) and an unreadable one for the next.
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "street_03.png")
	if err := os.WriteFile(good, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	in.Models[2].Predictions[3].ImagePath = good
	in.Models[2].Predictions[0].ImagePath = filepath.Join(dir, "missing.jpg")
	if _, err := Write(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	if n := strings.Count(s, `src="data:image/png;base64,`); n != 4 {
		t.Errorf("report.html embeds %d plots, want 4", n)
	}
	if n := strings.Count(s, `src="data:image/jpeg;base64,`); n != 1 {
		t.Errorf("report.html has %d thumbnails, want 1 (the readable image)", n)
	}
	if strings.Contains(s, "<looks>") || !strings.Contains(s, "&lt;looks&gt;") {
		t.Error("answers are not escaped")
	}
	for _, bad := range []string{`src="http`, `href="http`, `src="/`, `<script src`} {
		if strings.Contains(s, bad) {
			t.Errorf("report.html refers outside itself: %q", bad)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		in   *Input
		want string
	}{
		{"no dir", &Input{Models: []ModelResult{{Name: "a"}}}, "no run folder"},
		{"no models", &Input{RunDir: t.TempDir()}, "no models"},
		{"unknown baseline", &Input{RunDir: t.TempDir(), Baseline: "gpt4", Models: []ModelResult{{Name: "a"}}}, `baseline "gpt4"`},
	}
	for _, tt := range tests {
		_, err := Write(t.Context(), tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func TestWriteEmptyModel(t *testing.T) {
	// A model with no predictions at all, and one whose every answer has
	// no score: every output is still written, with n/a where undefined.
	dir := t.TempDir()
	in := &Input{RunDir: dir, Models: []ModelResult{
		{Name: "empty"},
		{Name: "silent", Predictions: []Prediction{{ID: "a", Expected: 5, Text: "hmm"}, {ID: "b", Expected: 7, Text: "?"}}},
	}}
	w, err := Write(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := os.ReadFile(w.Text)
	if !strings.Contains(string(txt), "No model produced a score") {
		t.Errorf("report.txt does not say nothing was scored:\n%s", txt)
	}
}

func TestSheetName(t *testing.T) {
	taken := map[string]bool{"metrics": true}
	for _, tt := range []struct{ in, want string }{
		{"gpt4", "gpt4"},
		{"Metrics", "Metrics (2)"},
		{"a/b:c", "a_b_c"},
		{strings.Repeat("x", 40), strings.Repeat("x", 31)},
		{strings.Repeat("x", 40), strings.Repeat("x", 27) + " (2)"},
	} {
		if got := SheetName(tt.in, taken); got != tt.want {
			t.Errorf("SheetName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSummaryReference checks the fixture's figures against values computed
// independently with Python 3.11's standard library (statistics.correlation,
// statistics.quantiles(method="inclusive"), average ranks, Cohen's kappa
// formula, and itertools.product over every sign pattern for the p-values);
// the script is quoted in the report of the session that wrote this test.
func TestSummaryReference(t *testing.T) {
	in := fixture(t, t.TempDir())
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	ft, qw := res.Find("gpt4o-mini-ft"), res.Find("qwen2vl-ft")
	tests := []struct {
		name      string
		got, want float64
	}{
		{"ft mae", ft.MAE, 0.625},
		{"ft rmse", ft.RMSE, 0.8779711460710616},
		{"ft pearson", ft.Pearson, 0.9140334503044357},
		{"ft spearman", ft.Spearman, 0.8930608977563343},
		{"ft qwk", ft.QWK, 0.8780487804878049},
		{"ft p50", ft.LatencyP50MS, 603.5},
		{"ft p95", ft.LatencyP95MS, 786.65},
		{"ft diff", ft.Paired.DiffMAE, -1.0416666666666667},
		{"ft p (10/512)", ft.Paired.PValue, 0.01953125},
		{"qw mae", qw.MAE, 3},
		{"qw rmse", qw.RMSE, 3.714835124201342},
		{"qw pearson", qw.Pearson, -0.6259616374891231},
		{"qw spearman", qw.Spearman, -0.6347022996669022},
		{"qw qwk", qw.QWK, -0.6159250585480094},
		{"qw p50", qw.LatencyP50MS, 955},
		{"qw p95", qw.LatencyP95MS, 1010},
		{"qw diff", qw.Paired.DiffMAE, 1.1},
		{"qw p (26/256)", qw.Paired.PValue, 0.1015625},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-12*math.Max(1, math.Abs(tt.want)) {
			t.Errorf("%s = %.17g, want %.17g", tt.name, tt.got, tt.want)
		}
	}
}
