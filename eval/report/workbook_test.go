package report

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// workbookFixture is the fixture with its images on disk in a folder beside
// the run folder (one name with a space), a long answer, and run settings.
func workbookFixture(t *testing.T) (*Input, string) {
	t.Helper()
	root := t.TempDir()
	runDir := filepath.Join(root, "results", "run 1")
	in := fixture(t, runDir)
	in.Settings = []Setting{{"data", "data/truth.json"}, {"split", "val (12 images)"}}
	imgDir := filepath.Join(root, "data", "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range in.Models {
		for j := range in.Models[i].Predictions {
			name := fmt.Sprintf("street %02d.jpg", j)
			in.Models[i].Predictions[j].ImagePath = filepath.Join(imgDir, name)
			if i == 0 {
				if err := os.WriteFile(filepath.Join(imgDir, name), []byte("jpeg"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	in.Models[1].Predictions[2].Text = strings.Repeat("a long answer that goes on ", 20)
	in.Incomplete = &Incomplete{Missing: 2, Expected: 38, Images: 12, Models: []IncompleteModel{{Name: "qwen2vl-ft", Missing: 2, NoLine: 2}}}
	return in, runDir
}

func styleOf(t *testing.T, f *excelize.File, sheet, addr string) *excelize.Style {
	t.Helper()
	id, err := f.GetCellStyle(sheet, addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func numFmtOf(t *testing.T, f *excelize.File, sheet, addr string) string {
	s := styleOf(t, f, sheet, addr)
	if s.CustomNumFmt == nil {
		return fmt.Sprintf("builtin %d", s.NumFmt)
	}
	return *s.CustomNumFmt
}

func colWidth(t *testing.T, f *excelize.File, sheet, col string) float64 {
	t.Helper()
	w, err := f.GetColWidth(sheet, col)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWorkbookFormatted reads metrics.xlsx and a results workbook back and
// checks what a person sees: the Run sheet first with the verdict and the
// settings; bold frozen headers with an autofilter; number formats; widths
// fitted to the content and capped; colour scales on absolute error and
// disagreement; image names that link to the image files, relative to the
// workbook.
func TestWorkbookFormatted(t *testing.T) {
	in, runDir := workbookFixture(t)
	if _, err := Write(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(filepath.Join(runDir, "metrics.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// The first sheet, the one that opens: the verdict and the settings.
	if got := f.GetSheetList()[f.GetActiveSheetIndex()]; got != RunSheet {
		t.Errorf("the workbook opens on %q, want %q", got, RunSheet)
	}
	run, err := f.GetRows(RunSheet)
	if err != nil {
		t.Fatal(err)
	}
	var runText []string
	for _, r := range run {
		runText = append(runText, strings.Join(r, " = "))
	}
	all := strings.Join(runText, "\n")
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"run = golden", "baseline = median", "Verdict", "intervals = 95%, percentile bootstrap with",
		"paired test = ", "data = data/truth.json", "incomplete run = 2 of 38 image × model answers are missing (qwen2vl-ft 2: 2 without a line)", "split = val (12 images)", "gpt4o-mini-ft = openai · ft:gpt-4o-mini:acme::abc"},
		Decide(in, res).Sentences...)
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the Run sheet lacks %q; it reads:\n%s", w, all)
		}
	}
	if s := styleOf(t, f, RunSheet, "A1"); s.Font == nil || !s.Font.Bold {
		t.Error("the Run sheet's title is not bold")
	}

	// Every table: bold header, frozen, with an autofilter over it all.
	filters := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" {
			filters[dn.Scope] = dn.RefersTo
		}
	}
	for sheet, ref := range map[string]string{
		MetricsSheet:    "$A$1:$AC$4",
		"median":        "$A$1:$I$13",
		"qwen2vl-ft":    "$A$1:$I$13",
		SideBySideSheet: "$A$1:$F$13",
	} {
		if got := filters[sheet]; !strings.HasSuffix(got, "!"+ref) {
			t.Errorf("%s: autofilter %q, want one over %s", sheet, got, ref)
		}
		if s := styleOf(t, f, sheet, "B1"); s.Font == nil || !s.Font.Bold {
			t.Errorf("%s: header not bold", sheet)
		}
		p, err := f.GetPanes(sheet)
		if err != nil || !p.Freeze || p.YSplit != 1 {
			t.Errorf("%s: header not frozen (%+v, %v)", sheet, p, err)
		}
	}

	// Number formats, by the header each cell is under.
	mh, err := f.GetRows(MetricsSheet)
	if err != nil {
		t.Fatal(err)
	}
	at := func(header []string, name string, row int) string {
		col, err := excelize.ColumnNumberToName(indexOf(header, name) + 1)
		if err != nil {
			t.Fatalf("no column %q in %q", name, header)
		}
		return fmt.Sprintf("%s%d", col, row)
	}
	for name, want := range map[string]string{
		"MAE": "0.00", "bias": "0.00", "Acc@1": "0.0%", "no score": "0.0%", "p-value": "0.0000",
		"latency p50 ms": "0", "n scored": "0", "QWK": "0.000", "cost per image USD": "0.0000",
	} {
		if got := numFmtOf(t, f, MetricsSheet, at(mh[0], name, 3)); got != want {
			t.Errorf("Metrics %s: number format %q, want %q", name, got, want)
		}
	}
	// Shown as a person reads them: 0.625 as 0.63, 11/12 as 91.7%.
	if v, _ := f.GetCellValue(MetricsSheet, at(mh[0], "MAE", 3)); v != "0.63" {
		t.Errorf("gpt4o-mini-ft MAE shows %q, want 0.63", v)
	}
	if v, _ := f.GetCellValue(MetricsSheet, at(mh[0], "Acc@1", 3)); v != "91.7%" {
		t.Errorf("gpt4o-mini-ft Acc@1 shows %q, want 91.7%%", v)
	}
	for col, want := range map[string]string{"B": "0.00", "C": "0.00", "D": "0.00", "H": "0", "I": "0.0000"} {
		if got := numFmtOf(t, f, "gpt4o-mini-ft", col+"5"); got != want {
			t.Errorf("gpt4o-mini-ft column %s: number format %q, want %q", col, got, want)
		}
	}

	// Widths: fitted to the longest cell, capped.
	if w := colWidth(t, f, MetricsSheet, "C"); w < float64(len("ft:gpt-4o-mini:acme::abc")) || w > maxWidth {
		t.Errorf("Metrics model id column is %.1f wide, want room for ft:gpt-4o-mini:acme::abc", w)
	}
	if w := colWidth(t, f, "gpt4o-mini-ft", "A"); w < float64(len("images/street_00.jpg")) || w > 30 {
		t.Errorf("image column is %.1f wide, want about the length of images/street_00.jpg", w)
	}
	if w := colWidth(t, f, "gpt4o-mini-ft", "E"); w != 60 {
		t.Errorf("response column is %.1f wide with a 540-character answer, want the cap 60", w)
	}
	if w := colWidth(t, f, MetricsSheet, "D"); w < minWidth || w > 8 {
		t.Errorf("Metrics n column is %.1f wide, want narrow", w)
	}

	// Colour scales on the absolute error and the disagreement.
	for sheet, ref := range map[string]string{"median": "D2:D13", "qwen2vl-ft": "D2:D13", SideBySideSheet: "F2:F13"} {
		cf, err := f.GetConditionalFormats(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if o := cf[ref]; len(o) != 1 || o[0].Type != "2_color_scale" || !strings.EqualFold(strings.TrimPrefix(o[0].MaxColor, "#"), "F8696B") {
			t.Errorf("%s: conditional formats %+v, want a colour scale on %s", sheet, cf, ref)
		}
	}

	// Image names link to the files, relative to the workbook: a HYPERLINK
	// formula that shows the name (its cached value) and opens the file.
	link := regexp.MustCompile(`^HYPERLINK\("([^"]*)","([^"]*)"\)$`)
	checkLinks := func(f *excelize.File, sheet string) {
		t.Helper()
		for row := 2; row <= 13; row++ {
			addr := fmt.Sprintf("A%d", row)
			formula, err := f.GetCellFormula(sheet, addr)
			if err != nil {
				t.Fatal(err)
			}
			m := link.FindStringSubmatch(formula)
			if m == nil {
				t.Fatalf("%s!%s: formula %q, want a HYPERLINK", sheet, addr, formula)
			}
			target, text := m[1], m[2]
			shows, err := f.GetCellValue(sheet, addr)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("images/street_%02d.jpg", row-2)
			if text != id || shows != id {
				t.Errorf("%s!%s shows %q (link text %q), want %q", sheet, addr, shows, text, id)
			}
			if filepath.IsAbs(target) || strings.Contains(target, ":") || !strings.HasPrefix(target, "../") {
				t.Fatalf("%s!%s links to %q, want a path relative to the workbook", sheet, addr, target)
			}
			want := fmt.Sprintf("street %02d.jpg", row-2)
			if path.Base(target) != want {
				t.Errorf("%s!%s links to %q, want the file %s", sheet, addr, target, want)
			}
			if _, err := os.Stat(filepath.Join(runDir, filepath.FromSlash(target))); err != nil {
				t.Errorf("%s!%s: %q does not lead from the workbook to the image: %v", sheet, addr, target, err)
			}
		}
		if s := styleOf(t, f, sheet, "A2"); s.Font == nil || s.Font.Underline == "" {
			t.Errorf("%s: links do not look like links", sheet)
		}
	}
	checkLinks(f, "qwen2vl-ft")
	checkLinks(f, SideBySideSheet)

	rf, err := excelize.OpenFile(filepath.Join(runDir, "qwen2vl-ft_results.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	checkLinks(rf, "Results")
	if got := numFmtOf(t, rf, "Results", "D2"); got != "0.00" {
		t.Errorf("results workbook: absolute error format %q, want 0.00", got)
	}
	if cf, _ := rf.GetConditionalFormats("Results"); len(cf["D2:D13"]) != 1 {
		t.Errorf("results workbook: no colour scale on the absolute error: %+v", cf)
	}
}
