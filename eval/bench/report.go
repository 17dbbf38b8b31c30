package bench

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// Stat is the median, min and max of one figure over the repeats.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// StatOf is the median, min and max of v (eval/metrics' quantiles); zero
// for no values.
func StatOf(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	return Stat{Median: metrics.Quantile(0.5, v), Min: metrics.Quantile(0, v), Max: metrics.Quantile(1, v)}
}

// Pass is one timed pass over every image.
type Pass struct {
	WallMS          float64 `json:"wall_ms"`
	ImagesPerSec    float64 `json:"images_per_sec"`
	EncodeMSPerImg  float64 `json:"image_encode_ms_per_image"`
	PrefillTokPerS  float64 `json:"prefill_tokens_per_sec"`
	DecodeTokPerS   float64 `json:"decode_tokens_per_sec"`
	TTFTMS          float64 `json:"ttft_ms_median"`
	LatencyMS       float64 `json:"latency_ms_median"` // request to answer, queueing in the backend included
	PromptTokens    int     `json:"prompt_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	Steps           int     `json:"decode_steps"`
	PrefixReuses    int     `json:"prefix_reuses"`
	Failed          int     `json:"failed"`
	// Phases is where the time went, in milliseconds per image (local
	// path only).
	Phases *Phases `json:"phases_ms_per_image,omitempty"`
}

// Phases splits a local pass's time by phase, in milliseconds per image.
// The preparer's phases (image decode, tokenize, and the encoder when it
// encodes ahead) overlap the owner's; the owner's (the rest) plus Gap make
// up the wall time: Gap is what no engine call covers (scheduling,
// answering, goroutine hand-offs, sequence copies and clears).
type Phases struct {
	ImageDecode   float64 `json:"image_decode"`
	Tokenize      float64 `json:"tokenize"`
	Encode        float64 `json:"encode"`
	EncodeAhead   bool    `json:"encode_ahead"`
	PrefixPrefill float64 `json:"prefix_prefill"`
	ImagePrefill  float64 `json:"image_prefill"`
	TextPrefill   float64 `json:"text_prefill"`
	Decode        float64 `json:"decode_steps"`
	Sample        float64 `json:"sample"`
	Wait          float64 `json:"owner_wait"`
	Gap           float64 `json:"gap"`
	Wall          float64 `json:"wall"`
}

// Size is every figure of one batch size.
type Size struct {
	Batch          int     `json:"batch"`
	EncodeAhead    bool    `json:"encode_ahead"`
	Runs           []Pass  `json:"runs"`
	WallMS         Stat    `json:"wall_ms"`
	ImagesPerSec   Stat    `json:"images_per_sec"`
	EncodeMSPerImg Stat    `json:"image_encode_ms_per_image"`
	PrefillTokPerS Stat    `json:"prefill_tokens_per_sec"`
	DecodeTokPerS  Stat    `json:"decode_tokens_per_sec"`
	TTFTMS         Stat    `json:"ttft_ms"`
	LatencyMS      Stat    `json:"latency_ms"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	GPUUsedMiB     float64 `json:"gpu_used_mib,omitempty"`
	SameAsBatch1   float64 `json:"same_as_batch1"` // share of answers identical to batch size 1's first run
	Speedup        float64 `json:"speedup_vs_batch1"`
	// Answers are the first run's answers by image, so that two reports (a
	// CPU and a GPU run, say) can be compared answer for answer.
	Answers map[string]string `json:"answers,omitempty"`
}

// Report is every figure of a bench: what vlmcmp bench --json writes.
type Report struct {
	Date      time.Time `json:"date"`
	Model     string    `json:"model"`
	Mmproj    string    `json:"mmproj"`
	LoRA      []string  `json:"lora,omitempty"`
	Images    int       `json:"images"`
	ImageSize string    `json:"image_size,omitempty"`
	MaxTokens int       `json:"max_tokens"`
	Repeat    int       `json:"repeat"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	CPUs      int       `json:"cpus"`
	System    string    `json:"llama_system_info"`
	Devices   []string  `json:"devices"`
	Sizes     []Size    `json:"sizes"`
	// Server is the same images through an OpenAI-compatible server
	// (bench --server); nil without one.
	Server *ServerRun `json:"server,omitempty"`
}

// WriteTable prints the report as a table, one row per batch size, then
// one per server concurrency when the bench had a server, and the ratio of
// the two paths' best images/s.
func WriteTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "model %s, %d images, %d new tokens, %d runs per batch size (median [min-max])\n",
		filepath.Base(rep.Model), rep.Images, rep.MaxTokens, rep.Repeat)
	if rep.Server != nil {
		fmt.Fprintf(w, "server %s (model %s): batch is the requests in flight; its decode tok/s is answer tokens over wall time\n",
			rep.Server.URL, rep.Server.Model)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tbatch\twall s\timages/s\tspeedup\tencode ms/img\tprefill tok/s\tdecode tok/s\tTTFT ms\tlatency ms\tpeak RSS MiB\tGPU MiB\tsame as b1\t")
	row := func(path string, z Size, local bool) {
		gpu, rss, same, speedup := "-", "-", "-", "-"
		if z.GPUUsedMiB > 0 {
			gpu = fmt.Sprintf("%.0f", z.GPUUsedMiB)
		}
		if z.SameAsBatch1 >= 0 {
			same = fmt.Sprintf("%.0f%%", 100*z.SameAsBatch1)
		}
		if z.Speedup > 0 {
			speedup = fmt.Sprintf("%.2fx", z.Speedup)
		}
		enc, pre, ttft := "-", "-", "-"
		if local {
			enc, pre, ttft = fmtStat(z.EncodeMSPerImg, 1, 1), fmtStat(z.PrefillTokPerS, 1, 0), fmtStat(z.TTFTMS, 1, 0)
			rss = fmt.Sprintf("%.0f", z.PeakRSSMiB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", path, z.Batch,
			fmtStat(z.WallMS, 1e-3, 2), fmtStat(z.ImagesPerSec, 1, 2), speedup, enc, pre,
			fmtStat(z.DecodeTokPerS, 1, 1), ttft, fmtStat(z.LatencyMS, 1, 0), rss, gpu, same)
	}
	for _, z := range rep.Sizes {
		row("local", z, true)
	}
	if rep.Server != nil {
		for _, z := range rep.Server.Sizes {
			row("server", z, false)
		}
	}
	tw.Flush()
	if rep.Server != nil {
		l, s := Best(rep.Sizes), Best(rep.Server.Sizes)
		if l != nil && s != nil && s.ImagesPerSec.Median > 0 {
			fmt.Fprintf(w, "best: local %.2f images/s (batch %d), server %.2f images/s (concurrency %d): local/server %.2fx\n",
				l.ImagesPerSec.Median, l.Batch, s.ImagesPerSec.Median, s.Batch, l.ImagesPerSec.Median/s.ImagesPerSec.Median)
		}
	}
}

// WritePhases prints, per batch size, where the first run's time went in
// milliseconds per image (see Phases).
func WritePhases(w io.Writer, rep *Report) {
	fmt.Fprintln(w, "phases, ms per image (first run); * runs beside the owner (encode ahead), not in its wall time")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\tGo decode*\ttokenize*\tencode\tprefix\timage prefill\ttext prefill\tdecode steps\tsample\twait\tgap\twall\t")
	for _, z := range rep.Sizes {
		if len(z.Runs) == 0 || z.Runs[0].Phases == nil {
			continue
		}
		ph := z.Runs[0].Phases
		enc := fmt.Sprintf("%.2f", ph.Encode)
		if ph.EncodeAhead {
			enc += "*"
		}
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", z.Batch,
			ph.ImageDecode, ph.Tokenize, enc, ph.PrefixPrefill, ph.ImagePrefill, ph.TextPrefill, ph.Decode, ph.Sample, ph.Wait, ph.Gap, ph.Wall)
	}
	tw.Flush()
}

func fmtStat(st Stat, scale float64, prec int) string {
	return fmt.Sprintf("%.*f [%.*f-%.*f]", prec, st.Median*scale, prec, st.Min*scale, prec, st.Max*scale)
}

// WriteBenchstat prints one benchmark line per run, in the format of
// `go test -bench`, so that benchstat compares two bench outputs.
func WriteBenchstat(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: vlmcmp/bench\n", rep.GOOS, rep.GOARCH)
	name := strings.TrimSuffix(filepath.Base(rep.Model), filepath.Ext(rep.Model))
	for _, z := range rep.Sizes {
		for _, r := range z.Runs {
			fmt.Fprintf(w, "BenchmarkLocal/model=%s/batch=%d 1 %.0f ns/op %.4f images/s %.2f encode-ms/image %.2f prefill-tok/s %.2f decode-tok/s %.2f ttft-ms\n",
				name, z.Batch, r.WallMS*1e6, r.ImagesPerSec, r.EncodeMSPerImg, r.PrefillTokPerS, r.DecodeTokPerS, r.TTFTMS)
		}
	}
	if rep.Server == nil {
		return
	}
	for _, z := range rep.Server.Sizes {
		for _, r := range z.Runs {
			fmt.Fprintf(w, "BenchmarkServer/model=%s/concurrency=%d 1 %.0f ns/op %.4f images/s %.2f latency-ms\n",
				name, z.Batch, r.WallMS*1e6, r.ImagesPerSec, r.LatencyMS)
		}
	}
}

// WritePlot draws images/s (medians, with min-max bars) against batch size,
// and the server's against concurrency when the bench had one, in the first
// panel; decode tokens/s and the local time to first token in the others.
func WritePlot(path string, rep *Report) (err error) {
	defer func() {
		if r := recover(); r != nil { // gonum/plot panics on some degenerate data
			err = fmt.Errorf("plot %s: %v", path, r)
		}
	}()
	type series struct {
		name  string
		sizes []Size
		color color.Color
	}
	local := series{"local", rep.Sizes, color.RGBA{R: 31, G: 119, B: 180, A: 255}}
	all := []series{local}
	if rep.Server != nil {
		all = append(all, series{"server", rep.Server.Sizes, color.RGBA{R: 214, G: 39, B: 40, A: 255}})
	}
	panel := func(title, xlabel, ylabel string, ss []series, get func(Size) Stat) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = xlabel
		p.Y.Label.Text = ylabel
		var ticks []plot.Tick
		seen := map[int]bool{}
		p.Add(plotter.NewGrid())
		for _, se := range ss {
			if len(se.sizes) == 0 {
				continue
			}
			pts := make(plotter.XYs, len(se.sizes))
			errs := make(plotter.YErrors, len(se.sizes))
			for i, z := range se.sizes {
				st := get(z)
				pts[i] = plotter.XY{X: float64(z.Batch), Y: st.Median}
				errs[i] = struct{ Low, High float64 }{st.Median - st.Min, st.Max - st.Median}
				if !seen[z.Batch] {
					seen[z.Batch] = true
					ticks = append(ticks, plot.Tick{Value: float64(z.Batch), Label: strconv.Itoa(z.Batch)})
				}
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			line.Color = se.color
			points.Color = se.color
			bars, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{pts, errs})
			if err != nil {
				return nil, err
			}
			bars.Color = se.color
			p.Add(line, points, bars)
			if len(ss) > 1 {
				p.Legend.Add(se.name, line, points)
			}
		}
		p.Legend.Top = true
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Min = 0
		return p, nil
	}
	xlabel := "batch size (sequences)"
	if rep.Server != nil {
		xlabel = "batch size / requests in flight"
	}
	a, err := panel("Images per second", xlabel, "images/s", all, func(z Size) Stat { return z.ImagesPerSec })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	b, err := panel("Decode tokens per second", "batch size (sequences)", "tokens/s", []series{local}, func(z Size) Stat { return z.DecodeTokPerS })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	c, err := panel("Time to first token (local)", "batch size (sequences)", "ms", []series{local}, func(z Size) Stat { return z.TTFTMS })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	img := vgimg.NewWith(vgimg.UseWH(12*vg.Inch, 4*vg.Inch), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: 3, PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	plots := [][]*plot.Plot{{a, b, c}}
	canvases := plot.Align(plots, t, dc)
	a.Draw(canvases[0][0])
	b.Draw(canvases[0][1])
	c.Draw(canvases[0][2])
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Close()
}
