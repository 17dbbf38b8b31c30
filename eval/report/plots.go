package report

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image/color"
	"math"
	"math/rand/v2"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Plot geometry: every figure is a grid of panels of PanelWidth ×
// PanelHeight, rendered to PNG at PlotDPI.
const (
	PanelWidth  = 4 * vg.Inch
	PanelHeight = 3.5 * vg.Inch
	PlotDPI     = 96
	// Jitter is the largest shift, in score points, added to each
	// coordinate of the scatter plot so that images on the same integer
	// point show as a cloud.
	Jitter = 0.18
)

// Figure is one plot file pair (name.png, name.svg) of the plots folder.
type Figure struct {
	// Name is the file name without extension.
	Name string
	// Cols and Rows are the panel grid.
	Cols, Rows int
	panels     []*plot.Plot
}

// PixelSize is the PNG's size in pixels.
func (f *Figure) PixelSize() (w, h int) {
	return int(math.Round(float64(vg.Length(f.Cols)*PanelWidth) / vg.Inch.Points() * PlotDPI)),
		int(math.Round(float64(vg.Length(f.Rows)*PanelHeight) / vg.Inch.Points() * PlotDPI))
}

// grid lays k panels out in at most three columns.
func grid(k int) (cols, rows int) {
	cols = min(max(k, 1), 3)
	return cols, (max(k, 1) + cols - 1) / cols
}

// render draws the figure as PNG and SVG.
func (f *Figure) render() (pngData, svgData []byte, err error) {
	defer func() {
		// gonum/plot panics on some degenerate data; report it as an
		// error naming the figure rather than crash the run.
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", f.Name, r)
		}
	}()
	w, h := vg.Length(f.Cols)*PanelWidth, vg.Length(f.Rows)*PanelHeight
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(PlotDPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(img))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return nil, nil, fmt.Errorf("plot %s: %w", f.Name, err)
	}
	svg := vgsvg.New(w, h)
	f.draw(draw.New(svg))
	var sb bytes.Buffer
	if _, err := svg.WriteTo(&sb); err != nil {
		return nil, nil, fmt.Errorf("plot %s: %w", f.Name, err)
	}
	return pb.Bytes(), sb.Bytes(), nil
}

func (f *Figure) draw(dc draw.Canvas) {
	plots := make([][]*plot.Plot, f.Rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, f.Cols)
		for c := range plots[r] {
			if i := r*f.Cols + c; i < len(f.panels) {
				plots[r][c] = f.panels[i]
			}
		}
	}
	t := draw.Tiles{Rows: f.Rows, Cols: f.Cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, dc)
	for r := range plots {
		for c := range plots[r] {
			if plots[r][c] != nil {
				plots[r][c].Draw(canvases[r][c])
			}
		}
	}
}

// Bar is one model's value of one metric, with its interval when it has one
// (Lo and Hi NaN otherwise). Undefined values are NaN.
type Bar struct {
	Model         string
	Value, Lo, Hi float64
}

// MetricBars is the data of the metric bar chart: per metric (MAE, RMSE,
// Acc@1 %, Acc@2 %), one bar per model in order; MAE and Acc@1 carry their
// bootstrap intervals.
func MetricBars(res *metrics.Result) (names []string, bars [][]Bar) {
	names = []string{"MAE (lower is better)", "RMSE (lower is better)", "Acc@1 % (higher is better)", "Acc@2 % (higher is better)"}
	bars = make([][]Bar, 4)
	nan := math.NaN()
	for _, s := range res.Models {
		bars[0] = append(bars[0], Bar{s.Model, s.MAE, s.MAECI.Lo, s.MAECI.Hi})
		bars[1] = append(bars[1], Bar{s.Model, s.RMSE, nan, nan})
		bars[2] = append(bars[2], Bar{s.Model, 100 * s.Acc1, 100 * s.Acc1CI.Lo, 100 * s.Acc1CI.Hi})
		bars[3] = append(bars[3], Bar{s.Model, 100 * s.Acc2, nan, nan})
	}
	return names, bars
}

// Point is one image in the scatter plot: its expected and predicted scores,
// and where it is drawn after jitter.
type Point struct {
	ID                  string
	Expected, Predicted float64
	X, Y                float64
}

// ScatterPoints is the data of one model's predicted-vs-expected panel: one
// point per scored image, shifted by a deterministic jitter of at most
// [Jitter] on each axis (seeded by the model and image names), so that the
// plot is the same on every run.
func ScatterPoints(m *ModelResult) []Point {
	var pts []Point
	for _, p := range m.Predictions {
		if p.Score == nil {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(m.Name + "\x00" + p.ID))
		r := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
		pts = append(pts, Point{
			ID: p.ID, Expected: p.Expected, Predicted: *p.Score,
			X: p.Expected + Jitter*(2*r.Float64()-1),
			Y: *p.Score + Jitter*(2*r.Float64()-1),
		})
	}
	return pts
}

// ErrorBins is the data of one model's error histogram: counts of
// predicted − expected over the scored images in bins one point wide
// centred on the integers −9..9 (an error of 0.5 falls in the bin of 1,
// rounding half away from zero).
func ErrorBins(m *ModelResult) []plotter.HistogramBin {
	bins := make([]plotter.HistogramBin, 19)
	for i := range bins {
		c := float64(i - 9)
		bins[i] = plotter.HistogramBin{Min: c - 0.5, Max: c + 0.5}
	}
	for _, p := range m.Predictions {
		if p.Score == nil {
			continue
		}
		e := int(math.Round(*p.Score - p.Expected))
		e = min(max(e, -9), 9)
		bins[e+9].Weight++
	}
	return bins
}

// ConfusionCounts is the data of one model's confusion matrix: counts of
// (expected, predicted) over the scored images, both rounded and clamped to
// the scale ([metrics.Confusion]).
func ConfusionCounts(m *ModelResult, lo, hi int) [][]int {
	var exp, pred []float64
	for _, p := range m.Predictions {
		if p.Score != nil {
			exp = append(exp, p.Expected)
			pred = append(pred, *p.Score)
		}
	}
	return metrics.Confusion(exp, pred, lo, hi)
}

var modelColors = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

func modelColor(i int) color.Color { return modelColors[i%len(modelColors)] }

// Figures builds every figure of a run: metrics_comparison,
// score_distribution, error_distribution and confusion_matrices.
func Figures(in *Input, res *metrics.Result) ([]*Figure, error) {
	var figs []*Figure
	for _, build := range []func(*Input, *metrics.Result) (*Figure, error){metricsFigure, scatterFigure, errorFigure, confusionFigure} {
		f, err := build(in, res)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

func metricsFigure(_ *Input, res *metrics.Result) (*Figure, error) {
	names, bars := MetricBars(res)
	fig := &Figure{Name: "metrics_comparison", Cols: 2, Rows: 2}
	for k, name := range names {
		p := plot.New()
		p.Title.Text = name
		vals := make(plotter.Values, len(bars[k]))
		labels := make([]string, len(bars[k]))
		var xys plotter.XYs
		var errs plotter.YErrors
		for i, b := range bars[k] {
			labels[i] = b.Model
			if !math.IsNaN(b.Value) {
				vals[i] = b.Value
			}
			if !math.IsNaN(b.Value) && !math.IsNaN(b.Lo) && !math.IsNaN(b.Hi) {
				xys = append(xys, plotter.XY{X: float64(i), Y: b.Value})
				errs = append(errs, struct{ Low, High float64 }{b.Value - b.Lo, b.Hi - b.Value})
			}
		}
		bc, err := plotter.NewBarChart(vals, vg.Points(24))
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", fig.Name, err)
		}
		bc.Color = modelColor(k)
		bc.LineStyle.Width = 0
		p.Add(bc)
		if len(xys) > 0 {
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{xys, errs})
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", fig.Name, err)
			}
			eb.LineStyle.Width = vg.Points(1.2)
			p.Add(eb)
		}
		// The value above each bar; "n/a" where it is undefined, so that
		// a model that scored nothing does not pass for a perfect zero.
		var vl plotter.XYLabels
		for i, b := range bars[k] {
			text := f(b.Value, 2)
			if k >= 2 {
				text = f(b.Value, 0) + "%"
				if math.IsNaN(b.Value) {
					text = "n/a"
				}
			}
			y := vals[i]
			if !math.IsNaN(b.Hi) {
				y = math.Max(y, b.Hi)
			}
			vl.XYs = append(vl.XYs, plotter.XY{X: float64(i), Y: y})
			vl.Labels = append(vl.Labels, text)
		}
		l, err := plotter.NewLabels(vl)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", fig.Name, err)
		}
		for j := range l.TextStyle {
			l.TextStyle[j].XAlign = draw.XCenter
			l.Offset = vg.Point{Y: vg.Points(3)}
		}
		p.Add(l)
		p.NominalX(labels...)
		p.Y.Min = 0
		if k >= 2 {
			p.Y.Max = 108 // room for the 100% label
		}
		fig.panels = append(fig.panels, p)
	}
	return fig, nil
}

func scatterFigure(in *Input, res *metrics.Result) (*Figure, error) {
	f := &Figure{Name: "score_distribution"}
	f.Cols, f.Rows = grid(len(in.Models))
	lo, hi := float64(res.Options.ScaleMin), float64(res.Options.ScaleMax)
	for i := range in.Models {
		m := &in.Models[i]
		p := plot.New()
		p.Title.Text = m.Name
		p.X.Label.Text = "expected score"
		p.Y.Label.Text = "predicted score"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo-0.5, hi+0.5, lo-0.5, hi+0.5
		diag, err := plotter.NewLine(plotter.XYs{{X: lo - 0.5, Y: lo - 0.5}, {X: hi + 0.5, Y: hi + 0.5}})
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", f.Name, err)
		}
		diag.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		diag.LineStyle.Color = color.Gray{0x80}
		p.Add(plotter.NewGrid(), diag)
		pts := ScatterPoints(m)
		if len(pts) > 0 {
			xys := make(plotter.XYs, len(pts))
			for j, q := range pts {
				xys[j] = plotter.XY{X: q.X, Y: q.Y}
			}
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", f.Name, err)
			}
			sc.GlyphStyle.Color = modelColor(i)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			sc.GlyphStyle.Radius = vg.Points(2.5)
			p.Add(sc)
		}
		ticks(p, lo, hi)
		f.panels = append(f.panels, p)
	}
	return f, nil
}

// ticks puts a tick on every integer of the scale on both axes.
func ticks(p *plot.Plot, lo, hi float64) {
	var t []plot.Tick
	for v := lo; v <= hi; v++ {
		t = append(t, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(t)
	p.Y.Tick.Marker = plot.ConstantTicks(t)
}

func errorFigure(in *Input, _ *metrics.Result) (*Figure, error) {
	f := &Figure{Name: "error_distribution"}
	f.Cols, f.Rows = grid(len(in.Models))
	for i := range in.Models {
		m := &in.Models[i]
		p := plot.New()
		p.Title.Text = m.Name
		p.X.Label.Text = "predicted − expected"
		p.Y.Label.Text = "images"
		h := &plotter.Histogram{Bins: ErrorBins(m), Width: 1, FillColor: modelColor(i), LineStyle: plotter.DefaultLineStyle}
		p.Add(h)
		p.X.Min, p.X.Max, p.Y.Min = -9.5, 9.5, 0
		p.Y.Tick.Marker = integerTicks{}
		f.panels = append(f.panels, p)
	}
	return f, nil
}

// countGrid is a confusion matrix as a heat map grid: column c is the
// predicted rating lo+c, row r the expected rating lo+r.
type countGrid struct {
	m  [][]int
	lo int
}

func (g countGrid) Dims() (c, r int)   { return len(g.m), len(g.m) }
func (g countGrid) Z(c, r int) float64 { return float64(g.m[r][c]) }
func (g countGrid) X(c int) float64    { return float64(g.lo + c) }
func (g countGrid) Y(r int) float64    { return float64(g.lo + r) }

func confusionFigure(in *Input, res *metrics.Result) (*Figure, error) {
	f := &Figure{Name: "confusion_matrices"}
	f.Cols, f.Rows = grid(len(in.Models))
	lo, hi := res.Options.ScaleMin, res.Options.ScaleMax
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil, fmt.Errorf("plot %s: %w", f.Name, err)
	}
	for i := range in.Models {
		m := &in.Models[i]
		counts := ConfusionCounts(m, lo, hi)
		p := plot.New()
		p.Title.Text = m.Name
		p.X.Label.Text = "predicted score"
		p.Y.Label.Text = "expected score"
		hm := plotter.NewHeatMap(countGrid{counts, lo}, pal)
		hm.Min, hm.Max = 0, 1
		var labels plotter.XYLabels
		for r := range counts {
			for c := range counts[r] {
				hm.Max = math.Max(hm.Max, float64(counts[r][c]))
				if counts[r][c] > 0 {
					labels.XYs = append(labels.XYs, plotter.XY{X: float64(lo + c), Y: float64(lo + r)})
					labels.Labels = append(labels.Labels, fmt.Sprint(counts[r][c]))
				}
			}
		}
		p.Add(hm)
		if len(labels.XYs) > 0 {
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", f.Name, err)
			}
			for j := range l.TextStyle {
				l.TextStyle[j].XAlign = draw.XCenter
				l.TextStyle[j].YAlign = draw.YCenter
				// Dark cells get white counts, light cells black.
				l.TextStyle[j].Color = color.Black
				if v, _ := strconv.Atoi(labels.Labels[j]); float64(v) > hm.Max/2 {
					l.TextStyle[j].Color = color.White
				}
			}
			p.Add(l)
		}
		ticks(p, float64(lo), float64(hi))
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = float64(lo)-0.5, float64(hi)+0.5, float64(lo)-0.5, float64(hi)+0.5
		f.panels = append(f.panels, p)
	}
	return f, nil
}

// integerTicks marks whole numbers only (image counts), at most about six.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/6))
	var t []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		t = append(t, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return t
}
