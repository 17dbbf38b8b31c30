package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// meanFixture is a run with the mean and median baselines, fine-tuned
// models that beat mean, are worse than it, copy it and differ from it by
// chance, and a model with no scores. The mean baseline answers 6 for all
// twelve images, so its absolute errors are 3,1,1,2,4,0,3,2,1,1,0,2 (MAE
// 20/12).
func meanFixture(t testing.TB, runDir, baseline string, withMean bool) *Input {
	t.Helper()
	exp := []float64{3, 5, 7, 8, 2, 6, 9, 4, 5, 7, 6, 8}
	pred := map[string]func(e float64) float64{
		"mean":   func(float64) float64 { return 6 },
		"median": func(float64) float64 { return 6 },
		// Exact: errors 0, ten images better than mean, two equal.
		"ft-good": func(e float64) float64 { return e },
		// 11 − e: errors 5,1,3,5,7,1,7,3,1,3,1,5 (MAE 42/12), ten
		// images worse than mean, two equal.
		"ft-bad": func(e float64) float64 { return 11 - e },
		// The score distribution's copy: mean's answers exactly.
		"ft-copy": func(float64) float64 { return 6 },
		// 5 everywhere: errors 2,0,2,3,3,1,4,1,0,2,1,3 (MAE 22/12), seven
		// images worse by 1, five better by 1.
		"ft-noisy": func(float64) float64 { return 5 },
	}
	models := []ModelResult{
		{Name: "gpt4", Backend: "openai", Model: "gpt-4o"},
		{Name: "ft-noisy", Backend: "openai", Model: "ft:gpt-4o-mini-2024-07-18:acme:noisy:D4"},
		{Name: "median", Backend: "baseline", Model: "median"},
		{Name: "ft-good", Backend: "openai", Model: "ft:gpt-4o-mini-2024-07-18:acme:good:A1"},
		{Name: "ft-bad", Backend: "openai", Model: "ft:gpt-4o-mini-2024-07-18:acme:bad:B2"},
		{Name: "ft-copy", Backend: "openai", Model: "ft:gpt-4o-mini-2024-07-18:acme:copy:C3"},
	}
	if withMean {
		// The mean baseline under another name: found by its model.
		models = append(models, ModelResult{Name: "avg", Backend: "baseline", Model: "mean"})
		pred["avg"] = pred["mean"]
	}
	for i := range models {
		m := &models[i]
		for j, e := range exp {
			p := Prediction{ID: fmt.Sprintf("img_%02d.jpg", j), Expected: e}
			if f, ok := pred[m.Name]; ok {
				v := f(e)
				p.Score, p.Text = &v, fmt.Sprintf("Safety score: %g/10.", v)
			} else {
				p.Error = "request refused"
			}
			m.Predictions = append(m.Predictions, p)
		}
	}
	return &Input{RunDir: runDir, RunID: "vsmean", Baseline: baseline, Models: models,
		Options: metrics.Options{Seed: 7}, NoThumbnails: true}
}

// wantVsMean are the verdict's first lines for meanFixture with the mean
// baseline: fine-tuned models first, in the run's order, then the others.
// The p-values are exact sign-flip tests worked by hand: ten differences of
// one sign give 2/2^10 = 0.00195; seven +1 and five −1 give
// 1 − C(12,6)/2^12 = 0.7744; all differences zero give 1.
var wantVsMean = []struct {
	model, outcome, sentence string
}{
	{"ft-noisy", NotShown, "ft-noisy (fine-tuned ft:gpt-4o-mini-2024-07-18:acme:noisy:D4): does not beat avg: the difference may be chance (MAE 1.833 vs 1.667 on 12 images both scored, paired p = 0.7744 ≥ 0.05)."},
	{"ft-good", Beats, "ft-good (fine-tuned ft:gpt-4o-mini-2024-07-18:acme:good:A1): beats avg (MAE 0.000 vs 1.667 on 12 images both scored, paired p = 0.0020 < 0.05)."},
	{"ft-bad", Worse, "ft-bad (fine-tuned ft:gpt-4o-mini-2024-07-18:acme:bad:B2): does not beat avg, it is worse (MAE 3.500 vs 1.667 on 12 images both scored, paired p = 0.0020 < 0.05)."},
	{"ft-copy", Tie, "ft-copy (fine-tuned ft:gpt-4o-mini-2024-07-18:acme:copy:C3): does not beat avg, it ties (MAE 1.667 vs 1.667 on 12 images both scored, paired p = 1.0000 ≥ 0.05)."},
	{"gpt4", Untested, "gpt4: cannot be tested against avg (it has no scores)."},
}

func TestVerdictVsMean(t *testing.T) {
	// With mean as the run's baseline the verdict reuses the run's paired
	// comparisons; with median as the baseline it compares with mean
	// itself. Both must say the same.
	for _, baseline := range []string{"avg", "median"} {
		t.Run("baseline "+baseline, func(t *testing.T) {
			in := meanFixture(t, t.TempDir(), baseline, true)
			res, err := Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			v := Decide(in, res)
			if v.Mean != "avg" {
				t.Errorf("mean baseline %q, want avg", v.Mean)
			}
			if len(v.VsMean) != len(wantVsMean) || len(v.Sentences) < len(wantVsMean) {
				t.Fatalf("%d checks and %d sentences, want %d checks first:\n%s", len(v.VsMean), len(v.Sentences), len(wantVsMean), strings.Join(v.Sentences, "\n"))
			}
			for i, w := range wantVsMean {
				c := v.VsMean[i]
				if c.Model != w.model || c.Outcome != w.outcome {
					t.Errorf("check %d: %s %q, want %s %q", i, c.Model, c.Outcome, w.model, w.outcome)
				}
				if got := v.Sentences[i]; got != w.sentence {
					t.Errorf("verdict line %d:\n got %s\nwant %s", i+1, got, w.sentence)
				}
			}
			if v.Winner != "ft-good" {
				t.Errorf("winner %q, want ft-good", v.Winner)
			}
			if rest := v.Sentences[len(wantVsMean)]; !strings.HasPrefix(rest, "ft-good has the lowest MAE") {
				t.Errorf("after the lines about mean: %q, want the winner", rest)
			}
		})
	}
}

func TestVerdictNoMean(t *testing.T) {
	in := meanFixture(t, t.TempDir(), "median", false)
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	v := Decide(in, res)
	if v.Mean != "" {
		t.Errorf("mean baseline %q in a run without one", v.Mean)
	}
	for _, c := range v.VsMean {
		if c.Outcome != NoMean || c.Paired != nil {
			t.Errorf("%s: outcome %q, paired %v; want %q and nothing tested", c.Model, c.Outcome, c.Paired, NoMean)
		}
	}
	first := v.Sentences[0]
	for _, want := range []string{
		"Whether ft-noisy, ft-good, ft-bad, ft-copy beats mean cannot be said: the mean baseline was not run",
		MeanRule(res.Options.Confidence), "p < 0.05", "backend: baseline and model: mean",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first verdict line %q does not say %q", first, want)
		}
	}
	for _, s := range v.Sentences {
		if strings.Contains(s, "beats mean (") || strings.Contains(s, "does not beat") {
			t.Errorf("a verdict line claims a result against mean, which was not run: %q", s)
		}
	}

	// Only baselines: nothing to say about mean, and no rule either.
	in.Models = []ModelResult{in.Models[2]}
	if res, err = Evaluate(in); err != nil {
		t.Fatal(err)
	}
	if v := Decide(in, res); strings.Contains(strings.Join(v.Sentences, " "), "mean") {
		t.Errorf("verdict of a median-only run speaks of mean: %q", v.Sentences)
	}
}

// TestVerdictOutputs checks that report.txt and report.html start their
// verdict with the lines about mean and that summary.json carries them.
func TestVerdictOutputs(t *testing.T) {
	for _, withMean := range []bool{true, false} {
		t.Run(fmt.Sprintf("mean run %v", withMean), func(t *testing.T) {
			dir := t.TempDir()
			in := meanFixture(t, dir, "median", withMean)
			w, err := Write(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			first := wantVsMean[0].sentence
			wantLines := len(wantVsMean)
			if !withMean {
				first = "Whether ft-noisy, ft-good, ft-bad, ft-copy beats mean cannot be said"
				wantLines = 1
			}
			if lines := w.Verdict.MeanLines(); len(lines) != wantLines || !strings.HasPrefix(lines[0], first) {
				t.Errorf("Written.Verdict.MeanLines() = %q, want %d lines starting with %q", lines, wantLines, first)
			}
			txt, err := os.ReadFile(w.Text)
			if err != nil {
				t.Fatal(err)
			}
			if _, after, ok := strings.Cut(string(txt), "\nVerdict\n\n  "); !ok || !strings.HasPrefix(after, first) {
				t.Errorf("report.txt's verdict does not start with %q:\n%s", first, txt)
			}
			html, err := os.ReadFile(w.HTML)
			if err != nil {
				t.Fatal(err)
			}
			if _, after, ok := strings.Cut(string(html), "<h2>Verdict</h2>\n<p>"); !ok || !strings.HasPrefix(after, template.HTMLEscapeString(first)) {
				t.Errorf("report.html's verdict does not start with %q", first)
			}

			data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			var sum struct {
				Verdict struct {
					MeanBaseline *string `json:"mean_baseline"`
					Rule         string  `json:"beats_mean_rule"`
					VsMean       []struct {
						Name      string   `json:"name"`
						FineTuned bool     `json:"fine_tuned"`
						BeatsMean *bool    `json:"beats_mean"`
						Outcome   string   `json:"outcome"`
						N         *int     `json:"n_common"`
						MAE       *float64 `json:"mae"`
						MeanMAE   *float64 `json:"mean_mae"`
						PValue    *float64 `json:"p_value"`
					} `json:"vs_mean"`
					Sentences []string `json:"sentences"`
				} `json:"verdict"`
			}
			if err := json.Unmarshal(data, &sum); err != nil {
				t.Fatal(err)
			}
			v := sum.Verdict
			if (v.MeanBaseline != nil) != withMean || (withMean && *v.MeanBaseline != "avg") {
				t.Errorf("mean_baseline %v, want avg only when mean was run", v.MeanBaseline)
			}
			if !strings.Contains(v.Rule, "p < 0.05") || len(v.Sentences) == 0 || !strings.HasPrefix(v.Sentences[0], first) {
				t.Errorf("verdict rule %q, sentences %q", v.Rule, v.Sentences)
			}
			if len(v.VsMean) != len(wantVsMean) {
				t.Fatalf("vs_mean has %d entries, want %d", len(v.VsMean), len(wantVsMean))
			}
			for i, want := range wantVsMean {
				got := v.VsMean[i]
				wantBeats := "false"
				switch {
				case !withMean || want.outcome == Untested:
					wantBeats = "null"
				case want.outcome == Beats:
					wantBeats = "true"
				}
				beats := "null"
				if got.BeatsMean != nil {
					beats = fmt.Sprint(*got.BeatsMean)
				}
				wantOutcome := want.outcome
				if !withMean {
					wantOutcome = NoMean
				}
				if got.Name != want.model || got.Outcome != wantOutcome || beats != wantBeats || got.FineTuned != strings.HasPrefix(want.model, "ft-") {
					t.Errorf("vs_mean[%d] = %s %q beats %s fine-tuned %v; want %s %q beats %s", i, got.Name, got.Outcome, beats, got.FineTuned, want.model, wantOutcome, wantBeats)
				}
				// Without mean nothing was compared; untested, no image was.
				wantMAEs := withMean && want.outcome != Untested
				if got.N != nil != withMean || (got.N != nil && (*got.N == 0) == wantMAEs) || (got.MeanMAE != nil) != wantMAEs {
					t.Errorf("vs_mean[%d] (%s): n_common %v, mean_mae %v; want n_common only with mean, MAEs only when tested", i, got.Name, got.N, got.MeanMAE)
				}
			}
			if withMean {
				if g := v.VsMean[1]; *g.MAE != 0 || *g.MeanMAE != 20.0/12 || *g.N != 12 || !(*g.PValue < 0.05) {
					t.Errorf("ft-good vs mean: mae %v, mean_mae %v, n %v, p %v; want 0, 1.667, 12, < 0.05", *g.MAE, *g.MeanMAE, *g.N, *g.PValue)
				}
			}
		})
	}
}
