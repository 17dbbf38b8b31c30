package report

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"io"
	"log/slog"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// ThumbnailSize bounds the thumbnails of report.html, in pixels.
const ThumbnailSize = 160

// Thumbnail reads the image at path and returns it scaled to fit
// ThumbnailSize × ThumbnailSize as a JPEG data URL.
func Thumbnail(path string) (template.URL, error) {
	u, err := thumbnail(path, ThumbnailSize, 80)
	// The data is our own JPEG, so the URL is safe to mark as such.
	return template.URL(u), err
}

type htmlPred struct {
	ID, Expected, Predicted, Error, Text, Why string
	Thumb                                     template.URL
}

type htmlModel struct {
	Name, Backend, Model string
	ServedBy             string
	Best, Worst, NoScore []htmlPred
	NoScoreCount         int
}

type htmlRow struct {
	Model, N, Scored, MAE, MAECI, RMSE, Acc1, Acc1CI, Acc2, Bias, Pearson, Spearman, QWK, NoScore, P50, P95, Cost string
	Baseline                                                                                                      bool
}

type htmlPaired struct {
	Model, N, MAE, BaseMAE, Diff, DiffCI, P, Holds string
}

type htmlPlot struct {
	Name string
	Src  template.URL
}

type htmlData struct {
	RunID, Created, Baseline, Confidence, Test, Missing string
	Incomplete                                          string
	Resamples                                           int
	Verdict                                             []string
	Rows                                                []htmlRow
	Paired                                              []htmlPaired
	Plots                                               []htmlPlot
	Models                                              []htmlModel
	Every                                               template.HTML
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vlmcmp report {{.RunID}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.baseline { background: #f3f3f3; }
.pred { display: flex; gap: 1em; align-items: flex-start; margin: 0.6em 0; border-bottom: 1px solid #eee; padding-bottom: 0.6em; }
.pred img { max-width: 160px; max-height: 160px; }
.answer { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.85em; }
.plots img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
.note { color: #555; }
</style>
</head>
<body>
<h1>vlmcmp comparison report</h1>
<p>Run <b>{{.RunID}}</b>{{if .Created}}, {{.Created}}{{end}}. Baseline: <b>{{.Baseline}}</b>.
Intervals: {{.Confidence}}, percentile bootstrap with {{.Resamples}} resamples.</p>
{{if .Incomplete}}<p class="incomplete" id="incomplete"><b>Incomplete run</b>: {{.Incomplete}}. The figures are over the answers there are.</p>
{{end}}<h2>Verdict</h2>
{{range .Verdict}}<p>{{.}}</p>
{{end}}
<h2>Metrics</h2>
<table>
<tr><th>model</th><th>n</th><th>scored</th><th>MAE</th><th>MAE CI</th><th>RMSE</th><th>Acc@1</th><th>Acc@1 CI</th><th>Acc@2</th><th>bias</th><th>Pearson</th><th>Spearman</th><th>QWK</th><th>no score</th><th>p50 ms</th><th>p95 ms</th><th>$/image</th></tr>
{{range .Rows}}<tr{{if .Baseline}} class="baseline"{{end}}><td>{{.Model}}</td><td>{{.N}}</td><td>{{.Scored}}</td><td>{{.MAE}}</td><td>{{.MAECI}}</td><td>{{.RMSE}}</td><td>{{.Acc1}}</td><td>{{.Acc1CI}}</td><td>{{.Acc2}}</td><td>{{.Bias}}</td><td>{{.Pearson}}</td><td>{{.Spearman}}</td><td>{{.QWK}}</td><td>{{.NoScore}}</td><td>{{.P50}}</td><td>{{.P95}}</td><td>{{.Cost}}</td></tr>
{{end}}</table>
<p class="note">{{.Missing}}.</p>
{{if .Paired}}<h2>Paired comparison with {{.Baseline}}</h2>
<p class="note">On the images both models scored; {{.Test}}.</p>
<table>
<tr><th>model</th><th>images</th><th>MAE</th><th>baseline MAE</th><th>ΔMAE</th><th>ΔMAE CI</th><th>p-value</th><th>holds</th></tr>
{{range .Paired}}<tr><td>{{.Model}}</td><td>{{.N}}</td><td>{{.MAE}}</td><td>{{.BaseMAE}}</td><td>{{.Diff}}</td><td>{{.DiffCI}}</td><td>{{.P}}</td><td>{{.Holds}}</td></tr>
{{end}}</table>{{end}}
{{.Every}}
<h2>Plots</h2>
<div class="plots">
{{range .Plots}}<h3>{{.Name}}</h3>
<img src="{{.Src}}" alt="{{.Name}}">
{{end}}</div>
{{range .Models}}<h2>{{.Name}}</h2>
<p class="note">{{.Backend}}{{if .Model}} · {{.Model}}{{end}}{{if .ServedBy}}<br>answered by {{.ServedBy}}{{end}}</p>
<h3>Worst predictions</h3>
{{range .Worst}}{{template "pred" .}}{{else}}<p>None scored.</p>{{end}}
<h3>Best predictions</h3>
{{range .Best}}{{template "pred" .}}{{else}}<p>None scored.</p>{{end}}
{{if .NoScoreCount}}<h3>No score ({{.NoScoreCount}})</h3>
{{range .NoScore}}{{template "pred" .}}{{end}}{{end}}
{{end}}
</body>
</html>
{{define "pred"}}<div class="pred">{{if .Thumb}}<img src="{{.Thumb}}" alt="{{.ID}}">{{end}}<div>
<b>{{.ID}}</b><br>expected {{.Expected}} · predicted {{.Predicted}}{{if .Error}} · error {{.Error}}{{end}}{{if .Why}} · {{.Why}}{{end}}
<div class="answer">{{.Text}}</div></div></div>
{{end}}`))

// WriteHTML writes report.html: one self-contained file with the metrics,
// the verdict, the plots (pngs, keyed by figure name, embedded as base64
// PNG) and per model the worst, best and unscored predictions with their
// answers, the worst with thumbnails of their images unless
// in.NoThumbnails. An image that cannot be read gets no thumbnail (logged at
// debug level). Answers are escaped by html/template.
func WriteHTML(w io.Writer, in *Input, res *metrics.Result, pngs []NamedPNG) error {
	d := htmlData{
		RunID: in.runID(), Baseline: res.Baseline, Confidence: level(res.Options.Confidence), Incomplete: incompleteText(in),
		Resamples: res.Options.Resamples, Test: metrics.TestName, Missing: sentenceCase(MissingScores),
		Verdict: Decide(in, res).Sentences,
	}
	if !in.Created.IsZero() {
		d.Created = in.Created.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for _, s := range res.Models {
		d.Rows = append(d.Rows, htmlRow{
			Model: s.Model, N: itoa(s.N), Scored: itoa(s.NScored), MAE: f(s.MAE, 3), MAECI: ci(s.MAECI, 2, 1),
			RMSE: f(s.RMSE, 3), Acc1: pct(s.Acc1), Acc1CI: ci(s.Acc1CI, 0, 100), Acc2: pct(s.Acc2), Bias: f(s.Bias, 2),
			Pearson: f(s.Pearson, 3), Spearman: f(s.Spearman, 3), QWK: f(s.QWK, 3), NoScore: pct(s.NoScoreRate),
			P50: f(s.LatencyP50MS, 0), P95: f(s.LatencyP95MS, 0), Cost: f(s.CostPerImageUSD, 4), Baseline: s.Model == res.Baseline,
		})
		if p := s.Paired; p != nil {
			holds := "no"
			if p.Significant(res.Options.Confidence) {
				holds = "yes"
			}
			d.Paired = append(d.Paired, htmlPaired{s.Model, itoa(p.N), f(p.MAE, 3), f(p.BaselineMAE, 3), f(p.DiffMAE, 3), ci(p.DiffCI, 3, 1), pval(p.PValue), holds})
		}
	}
	for _, p := range pngs {
		d.Plots = append(d.Plots, htmlPlot{p.Name, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(p.Data))})
	}
	var err error
	if d.Every, err = everyImageHTML(in, newThumbCache(nil)); err != nil {
		return err
	}
	n := in.extremes()
	for i := range in.Models {
		m := &in.Models[i]
		best, worst, none := Extremes(m, n)
		hm := htmlModel{Name: m.Name, Backend: m.Backend, Model: m.Model, ServedBy: ServedBy(m), NoScoreCount: len(none)}
		hm.Best = htmlPreds(best, false, in)
		hm.Worst = htmlPreds(worst, !in.NoThumbnails, in)
		hm.NoScore = htmlPreds(none[:min(n, len(none))], false, in)
		d.Models = append(d.Models, hm)
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, d); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

func htmlPreds(ps []Prediction, thumbs bool, in *Input) []htmlPred {
	var out []htmlPred
	for _, p := range ps {
		h := htmlPred{ID: p.ID, Expected: f(p.Expected, 1), Predicted: "none", Text: p.Text, Why: p.ScoreError}
		if p.Error != "" {
			h.Why = "no answer: " + p.Error
		}
		if p.Score != nil {
			h.Predicted = f(*p.Score, 1)
			e, _ := p.AbsError()
			h.Error = f(e, 1)
		}
		if thumbs && p.ImagePath != "" {
			if u, err := Thumbnail(p.ImagePath); err != nil {
				slog.Debug("no thumbnail", "image", p.ImagePath, "err", err)
			} else {
				h.Thumb = u
			}
		}
		out = append(out, h)
	}
	return out
}

func itoa(n int) string { return f(float64(n), 0) }

// NamedPNG is a rendered figure.
type NamedPNG struct {
	Name string
	Data []byte
}
