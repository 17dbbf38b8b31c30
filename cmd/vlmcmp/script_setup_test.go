package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/xuri/excelize/v2"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/report"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// fakeKey is where a script's fake OpenAI server is kept in its Env.Values.
type fakeKey struct{}

// setupScript starts what scripts talk to: a fake OpenAI API of their own
// (package openaitest), at OPENAI_BASE_URL with its key in OPENAI_API_KEY
// and FAKE_OPENAI_URL and FAKE_OPENAI_KEY (a script unsets OPENAI_API_KEY to test a missing
// key). No script can reach the real API. The server lives until t ends.
func setupScript(t *testing.T, env *testscript.Env) error {
	fake := openaitest.New(t)
	env.Values[fakeKey{}] = fake
	env.Setenv("OPENAI_BASE_URL", fake.URL())
	env.Setenv("OPENAI_API_KEY", fake.Key)
	env.Setenv("FAKE_OPENAI_KEY", fake.Key)
	env.Setenv("FAKE_OPENAI_URL", fake.URL())
	return nil
}

// cmdOpenAIRequests checks how many chat completions the script's fake
// OpenAI server has answered so far: openai-requests N.
func cmdOpenAIRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: openai-requests N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	fake := ts.Value(fakeKey{}).(*openaitest.Server)
	got := fake.Count("POST", "/v1/chat/completions")
	if (got == want) == neg {
		ts.Fatalf("the fake OpenAI API answered %d chat requests, want %s%d", got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
	ts.Logf("%d chat requests", got)
}

// plotNames are the figures every run writes, as PNG and SVG.
var plotNames = []string{"metrics_comparison", "score_distribution", "error_distribution", "confusion_matrices"}

// cmdOutputs checks every output of a run and sets $RUN to its folder:
// outputs DIR MODEL...; DIR is the run folder, or the output folder whose
// latest run is checked. The files must be there and not empty, the plots
// must decode as PNGs, the workbook must open with a sheet per model, and
// the reports must name every model.
func cmdOutputs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: outputs DIR MODEL...")
	}
	dir := ts.MkAbs(args[0])
	if _, err := os.Stat(filepath.Join(dir, eval.RunInfoFile)); err != nil {
		var lerr error
		dir, lerr = eval.LatestRun(dir)
		ts.Check(lerr)
	}
	ts.Setenv("RUN", dir)
	nonEmpty := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			ts.Fatalf("%v", err)
		}
		if len(b) == 0 {
			ts.Fatalf("%s is empty", rel)
		}
		return b
	}
	nonEmpty("summary.json")
	txt := string(nonEmpty("report.txt"))
	html := string(nonEmpty("report.html"))
	for _, p := range plotNames {
		img, err := png.Decode(bytes.NewReader(nonEmpty(filepath.Join("plots", p+".png"))))
		if err != nil {
			ts.Fatalf("plots/%s.png: %v", p, err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			ts.Fatalf("plots/%s.png is %dx%d", p, b.Dx(), b.Dy())
		}
		if svg := string(nonEmpty(filepath.Join("plots", p+".svg"))); !strings.Contains(svg, "<svg") {
			ts.Fatalf("plots/%s.svg is not SVG", p)
		}
	}
	wb, err := excelize.OpenFile(filepath.Join(dir, "metrics.xlsx"))
	ts.Check(err)
	defer wb.Close()
	sheets := strings.Join(wb.GetSheetList(), "|")
	for _, m := range args[1:] {
		safe := report.SafeFileName(m)
		nonEmpty(filepath.Join("predictions", m+".jsonl"))
		nonEmpty(safe + "_results.json")
		nonEmpty(safe + "_results.xlsx")
		if !strings.Contains(sheets, m) {
			ts.Fatalf("metrics.xlsx has no sheet for %s: %s", m, sheets)
		}
		if !strings.Contains(txt, m) || !strings.Contains(html, m) {
			ts.Fatalf("the reports do not name %s", m)
		}
	}
	for _, s := range []string{report.MetricsSheet, report.SideBySideSheet} {
		if !strings.Contains(sheets, s) {
			ts.Fatalf("metrics.xlsx has no sheet %s: %s", s, sheets)
		}
	}
	fmt.Fprintf(ts.Stdout(), "outputs of %s: ok\n", filepath.Base(dir))
}
