package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// f formats v with prec decimals, "n/a" when undefined.
func f(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// pct formats a fraction as a percentage.
func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func ci(iv metrics.Interval, prec int, scale float64) string {
	if !iv.Defined() {
		return "n/a"
	}
	return fmt.Sprintf("[%.*f, %.*f]", prec, scale*iv.Lo, prec, scale*iv.Hi)
}

// level formats a confidence level: 0.95 is "95%".
func level(c float64) string {
	return strconv.FormatFloat(100*c, 'f', -1, 64) + "%"
}

// pval formats a p-value.
func pval(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 0.0001:
		return "<0.0001"
	default:
		return fmt.Sprintf("%.4f", p)
	}
}

// Verdict is the answer to "which model wins, and does it hold".
type Verdict struct {
	// Winner is the model with the lowest MAE (ties: higher Acc@1, then
	// the earlier model); empty when no model scored anything.
	Winner string
	// Mean names the mean baseline ("" when the run has none); VsMean says
	// for every model that is not a baseline whether it beats it
	// ([VsMean]), fine-tuned models first.
	Mean   string
	VsMean []MeanCheck
	// Sentences say it in words, for the reports: first whether each model
	// beats mean (or that mean was not run, and the rule), then the winner.
	Sentences []string
	// nMean counts the leading sentences about mean.
	nMean int
}

// MeanLines are the verdict's first sentences, those about the mean
// baseline (none when every model is a baseline).
func (v *Verdict) MeanLines() []string { return v.Sentences[:v.nMean] }

// Decide says first whether each model of in beats the mean baseline by the
// paired test ([VsMean]), then picks the winner and says whether its
// difference from the baseline holds by the paired test at the results'
// confidence level.
func Decide(in *Input, res *metrics.Result) Verdict {
	var v Verdict
	v.Mean, v.VsMean = VsMean(in, res)
	v.Sentences = meanSentences(v.Mean, v.VsMean, res.Options.Confidence)
	if v.Mean == "" && len(v.VsMean) > 0 && in.Incomplete.unanswered(MeanStat) {
		// mean is one of the run's models but has no answer yet (a run
		// still going, its file deleted): it was not "not run".
		v.Sentences = []string{fmt.Sprintf("Whether any model beats %s cannot be said yet: the %s baseline has no answers yet (the run is incomplete).", MeanStat, MeanStat)}
	}
	v.nMean = len(v.Sentences)
	var best *metrics.Summary
	for i := range res.Models {
		s := &res.Models[i]
		if s.NScored == 0 {
			continue
		}
		if best == nil || s.MAE < best.MAE || (s.MAE == best.MAE && s.Acc1 > best.Acc1) {
			best = s
		}
	}
	if best == nil {
		v.Sentences = append(v.Sentences, "No model produced a score, so there is no winner.")
		return v
	}
	v.Winner = best.Model
	alpha := 1 - res.Options.Confidence
	v.Sentences = append(v.Sentences, fmt.Sprintf("%s has the lowest MAE: %s points (%s interval %s).",
		best.Model, f(best.MAE, 3), level(res.Options.Confidence), ci(best.MAECI, 3, 1)))
	if best.Model == res.Baseline {
		v.Sentences = append(v.Sentences, fmt.Sprintf("That is the baseline: no model beats %s.", best.Model))
		for _, s := range res.Models {
			if p := s.Paired; p != nil && p.N > 0 {
				how := "the difference may be chance"
				if p.Significant(res.Options.Confidence) {
					how = "the difference holds"
				}
				v.Sentences = append(v.Sentences, fmt.Sprintf("Against %s on %d images: ΔMAE %+.3f, p = %s: %s.",
					s.Model, p.N, -p.DiffMAE, pval(p.PValue), how))
			}
		}
		return v
	}
	p := best.Paired
	switch {
	case p == nil || p.N == 0:
		v.Sentences = append(v.Sentences, fmt.Sprintf("It shares no scored image with the baseline %s, so the difference cannot be tested.", res.Baseline))
	case p.Significant(res.Options.Confidence):
		v.Sentences = append(v.Sentences, fmt.Sprintf("On the %d images both scored it beats the baseline %s by %.3f points of MAE (ΔMAE %s, %s interval %s); the difference holds (p = %s < %.2f, %s).",
			p.N, res.Baseline, -p.DiffMAE, f(p.DiffMAE, 3), level(res.Options.Confidence), ci(p.DiffCI, 3, 1), pval(p.PValue), alpha, p.Test))
	default:
		v.Sentences = append(v.Sentences, fmt.Sprintf("On the %d images both scored its MAE differs from the baseline %s by %+.3f points (%s interval %s), but the difference does not hold (p = %s ≥ %.2f, %s): it may be chance.",
			p.N, res.Baseline, p.DiffMAE, level(res.Options.Confidence), ci(p.DiffCI, 3, 1), pval(p.PValue), alpha, p.Test))
	}
	return v
}

// meanSentences are the verdict's first lines: one per model saying whether
// it beats mean, or, when mean was not run, one saying so with the rule.
func meanSentences(mean string, checks []MeanCheck, conf float64) []string {
	if len(checks) == 0 {
		return nil
	}
	if mean == "" {
		var ft []string
		for _, c := range checks {
			if c.FineTuned {
				ft = append(ft, c.Model)
			}
		}
		which := "any model"
		if len(ft) > 0 {
			which = strings.Join(ft, ", ")
		}
		return []string{fmt.Sprintf("Whether %s beats %s cannot be said: the %s baseline was not run (%s; add a model with backend: baseline and model: %s to run it).",
			which, MeanStat, MeanStat, MeanRule(conf), MeanStat)}
	}
	out := make([]string, len(checks))
	for i := range checks {
		out[i] = checks[i].Sentence(conf)
	}
	return out
}

// Extremes returns the n best and n worst scored predictions of m (by
// absolute error; ties broken by ID), and the predictions with no score.
func Extremes(m *ModelResult, n int) (best, worst, noScore []Prediction) {
	var scored []Prediction
	for _, p := range m.Predictions {
		if p.Missing != "" {
			continue // not the model's answer: counted apart (Incomplete)
		}
		if p.Score == nil {
			noScore = append(noScore, p)
		} else {
			scored = append(scored, p)
		}
	}
	sort.SliceStable(scored, func(i, j int) bool {
		a, _ := scored[i].AbsError()
		b, _ := scored[j].AbsError()
		if a != b {
			return a < b
		}
		return scored[i].ID < scored[j].ID
	})
	best = scored[:min(n, len(scored))]
	for i := len(scored) - 1; i >= 0 && len(worst) < n; i-- {
		worst = append(worst, scored[i])
	}
	// Worst first, ties by ID as for best.
	sort.SliceStable(worst, func(i, j int) bool {
		a, _ := worst[i].AbsError()
		b, _ := worst[j].AbsError()
		if a != b {
			return a > b
		}
		return worst[i].ID < worst[j].ID
	})
	return best, worst, noScore
}

// oneLine shortens an answer to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// WriteText writes report.txt: the metrics table, the verdict, the paired
// comparisons, how missing scores count, and the best and worst
// predictions per model with their answers.
func WriteText(w io.Writer, in *Input, res *metrics.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "vlmcmp comparison report\n\nrun:       %s\n", in.runID())
	if !in.Created.IsZero() {
		fmt.Fprintf(&b, "created:   %s\n", in.Created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	fmt.Fprintf(&b, "baseline:  %s\nintervals: %s, percentile bootstrap, %d resamples, seed %d\n\n",
		res.Baseline, level(res.Options.Confidence), res.Options.Resamples, res.Options.Seed)
	if ic := in.Incomplete; ic != nil {
		fmt.Fprintf(&b, "INCOMPLETE RUN: %s.\nThe figures below are over the answers there are.\n\n", strings.TrimPrefix(ic.Sentence(), "incomplete: "))
	}

	b.WriteString("Metrics (errors in score points over the images with a score)\n\n")
	w0 := nameWidth(res)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tn\tscored\tMAE\tMAE CI\tRMSE\tAcc@1\tAcc@1 CI\tAcc@2\tbias\tPearson\tSpearman\tQWK\tno score\tp50 ms\tp95 ms\t$/image\t\n", w0, "model")
	for _, s := range res.Models {
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			w0, s.Model, s.N, s.NScored, f(s.MAE, 3), ci(s.MAECI, 2, 1), f(s.RMSE, 3), pct(s.Acc1), ci(s.Acc1CI, 0, 100),
			pct(s.Acc2), f(s.Bias, 2), f(s.Pearson, 3), f(s.Spearman, 3), f(s.QWK, 3), pct(s.NoScoreRate),
			f(s.LatencyP50MS, 0), f(s.LatencyP95MS, 0), f(s.CostPerImageUSD, 4))
	}
	tw.Flush()

	b.WriteString("\nVerdict\n\n")
	for _, s := range Decide(in, res).Sentences {
		b.WriteString("  " + s + "\n")
	}

	fmt.Fprintf(&b, "\nPaired comparison with the baseline %s (images both scored; %s)\n\n", res.Baseline, metrics.TestName)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\timages\tMAE\tbaseline MAE\tΔMAE\tΔMAE CI\tp-value\tholds\t\n", w0, "model")
	for _, s := range res.Models {
		p := s.Paired
		if p == nil {
			continue
		}
		holds := "no"
		if p.Significant(res.Options.Confidence) {
			holds = "yes"
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", w0, s.Model, p.N, f(p.MAE, 3), f(p.BaselineMAE, 3),
			f(p.DiffMAE, 3), ci(p.DiffCI, 3, 1), pval(p.PValue), holds)
	}
	tw.Flush()

	b.WriteString("\nMissing scores\n\n  " + sentenceCase(MissingScores) + ".\n")

	n := in.extremes()
	for i := range in.Models {
		m := &in.Models[i]
		best, worst, none := Extremes(m, n)
		fmt.Fprintf(&b, "\n%s\n%s\n", m.Name, strings.Repeat("=", len([]rune(m.Name))))
		if by := ServedBy(m); by != "" {
			fmt.Fprintf(&b, "\n  answered by %s\n", by)
		}
		writePreds(&b, "Best predictions", best)
		writePreds(&b, "Worst predictions", worst)
		if len(none) > 0 {
			fmt.Fprintf(&b, "\n  No score (%d):\n", len(none))
			for _, p := range none[:min(n, len(none))] {
				why := p.ScoreError
				if p.Error != "" {
					why = "no answer: " + p.Error
				}
				fmt.Fprintf(&b, "    %s  expected %s  %s\n      answer: %s\n", p.ID, f(p.Expected, 1), why, quote(p.Text))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writePreds(b *strings.Builder, title string, ps []Prediction) {
	fmt.Fprintf(b, "\n  %s:\n", title)
	if len(ps) == 0 {
		b.WriteString("    (none scored)\n")
	}
	for _, p := range ps {
		e, _ := p.AbsError()
		fmt.Fprintf(b, "    %s  expected %s  predicted %s  error %s\n      answer: %s\n",
			p.ID, f(p.Expected, 1), f(*p.Score, 1), f(e, 1), quote(p.Text))
	}
}

func quote(s string) string {
	if s == "" {
		return "(empty)"
	}
	return fmt.Sprintf("%q", oneLine(s, 160))
}

func sentenceCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// nameWidth is the widest model name, in runes, for left-aligned columns.
func nameWidth(res *metrics.Result) int {
	w := len("model")
	for _, s := range res.Models {
		w = max(w, len([]rune(s.Model)))
	}
	return w
}
