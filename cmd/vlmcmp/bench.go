package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
)

// benchOptions are the options of vlmcmp bench.
type benchOptions struct {
	Engine        engineOptions
	Images        string // folder of images
	Synthetic     int    // number of synthetic images, when Images is empty
	SyntheticSize string // WxH of synthetic images
	Seed          uint64
	Batch         []int
	MaxTokens     int
	Repeat        int
	Prompt        string
	JSON          string
	Plot          string
	Format        string // table or benchstat
}

func newBenchCommand(s *streams) *cli.Command {
	flags := append(engineFlags(),
		&cli.StringFlag{Name: "images", Usage: "`DIR` of images to score (JPEG, PNG, WebP, GIF, BMP)"},
		&cli.IntFlag{Name: "synthetic", Usage: "score `N` synthetic street-like images instead of --images"},
		&cli.StringFlag{Name: "synthetic-size", Value: "448x336", Usage: "`WxH` pixels of the synthetic images"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "`SEED` of the synthetic images"},
		&cli.StringFlag{Name: "batch", Value: "1,2,4,8,16", Usage: "comma-separated batch `SIZES` (parallel sequences)"},
		&cli.IntFlag{Name: "max-tokens", Value: 16, Usage: "answer length `N` in tokens"},
		&cli.IntFlag{Name: "repeat", Value: 3, Usage: "`R` timed runs per batch size, after one warm-up request"},
		&cli.StringFlag{Name: "prompt", Value: llm.DefaultPrompt, Usage: "the user's `TEXT`"},
		&cli.StringFlag{Name: "json", Usage: "write every figure as JSON to `FILE`"},
		&cli.StringFlag{Name: "plot", Usage: "write a PNG plot of images/s and decode tokens/s against batch size to `FILE`"},
		&cli.StringFlag{Name: "format", Value: "table", Usage: "stdout `FORMAT`: table, or benchstat (one line per run, for golang.org/x/perf/cmd/benchstat)"},
	)
	return &cli.Command{
		Name:  "bench",
		Usage: "measure local inference throughput at several batch sizes",
		UsageText: "vlmcmp bench --model-file <gguf> --mmproj <gguf> [--lora <gguf>[:<scale>]]... {--images <dir> | --synthetic <n>}\n" +
			"  [--batch 1,2,4,8,16] [--max-tokens <n>] [--repeat <r>] [--json <file>] [--plot <file.png>] [--format {table | benchstat}]",
		Description: `bench scores the same images with the local Qwen2-VL at each batch size (the
number of sequences decoded together by continuous batching). For each size it
loads the model, answers one warm-up request, then scores every image --repeat
times and reports the medians (with min and max) of: wall time, images per
second, vision encoder milliseconds per image, prefill and decode tokens per
second (engine time), time to first token (queueing included), peak process
memory, GPU memory in use where a GPU is used, and the share of answers
identical to batch size 1's (floating-point sums can round differently with
other batch shapes). Answers are greedy and --max-tokens long unless the model
ends them first.

Examples:
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 32 --batch 1,2,4,8
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --gpu-layers -1 --images photos \
    --batch 1,8,16,32 --json bench.json --plot bench.png
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 16 --format benchstat > new.txt`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("bench takes no arguments, got %q", c.Args().First())
			}
			sizes, err := parseBatchSizes(c.String("batch"))
			if err != nil {
				return err
			}
			return runBench(c.Context, s, benchOptions{
				Engine:        engineOptionsFrom(c),
				Images:        c.String("images"),
				Synthetic:     c.Int("synthetic"),
				SyntheticSize: c.String("synthetic-size"),
				Seed:          c.Uint64("seed"),
				Batch:         sizes,
				MaxTokens:     c.Int("max-tokens"),
				Repeat:        c.Int("repeat"),
				Prompt:        c.String("prompt"),
				JSON:          c.String("json"),
				Plot:          c.String("plot"),
				Format:        c.String("format"),
			})
		},
	}
}

func parseBatchSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("--batch: %q is not a positive whole number", f)
		}
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	return sizes, nil
}

// Stat is the median, min and max of one figure over the repeats.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func statOf(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// BenchRun is one timed pass over every image.
type BenchRun struct {
	WallMS          float64 `json:"wall_ms"`
	ImagesPerSec    float64 `json:"images_per_sec"`
	EncodeMSPerImg  float64 `json:"image_encode_ms_per_image"`
	PrefillTokPerS  float64 `json:"prefill_tokens_per_sec"`
	DecodeTokPerS   float64 `json:"decode_tokens_per_sec"`
	TTFTMS          float64 `json:"ttft_ms_median"`
	PromptTokens    int     `json:"prompt_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	Steps           int     `json:"decode_steps"`
	PrefixReuses    int     `json:"prefix_reuses"`
	Failed          int     `json:"failed"`
}

// BenchSize is every figure of one batch size.
type BenchSize struct {
	Batch          int        `json:"batch"`
	EncodeAhead    bool       `json:"encode_ahead"`
	Runs           []BenchRun `json:"runs"`
	WallMS         Stat       `json:"wall_ms"`
	ImagesPerSec   Stat       `json:"images_per_sec"`
	EncodeMSPerImg Stat       `json:"image_encode_ms_per_image"`
	PrefillTokPerS Stat       `json:"prefill_tokens_per_sec"`
	DecodeTokPerS  Stat       `json:"decode_tokens_per_sec"`
	TTFTMS         Stat       `json:"ttft_ms"`
	PeakRSSMiB     float64    `json:"peak_rss_mib"`
	GPUUsedMiB     float64    `json:"gpu_used_mib,omitempty"`
	SameAsBatch1   float64    `json:"same_as_batch1"` // share of answers identical to batch size 1's first run
	Speedup        float64    `json:"speedup_vs_batch1"`
	// Answers are the first run's answers by image, so that two reports (a
	// CPU and a GPU run, say) can be compared answer for answer.
	Answers map[string]string `json:"answers,omitempty"`
}

// BenchReport is what --json writes.
type BenchReport struct {
	Date      time.Time   `json:"date"`
	Model     string      `json:"model"`
	Mmproj    string      `json:"mmproj"`
	LoRA      []string    `json:"lora,omitempty"`
	Images    int         `json:"images"`
	ImageSize string      `json:"image_size,omitempty"`
	MaxTokens int         `json:"max_tokens"`
	Repeat    int         `json:"repeat"`
	GOOS      string      `json:"goos"`
	GOARCH    string      `json:"goarch"`
	CPUs      int         `json:"cpus"`
	System    string      `json:"llama_system_info"`
	Devices   []string    `json:"devices"`
	Sizes     []BenchSize `json:"sizes"`
}

func runBench(ctx context.Context, s *streams, opts benchOptions) error {
	cfg, err := opts.Engine.config()
	if err != nil {
		return err
	}
	switch {
	case opts.Images == "" && opts.Synthetic <= 0:
		return usagef("give --images DIR or --synthetic N")
	case opts.Images != "" && opts.Synthetic > 0:
		return usagef("give --images or --synthetic, not both")
	case opts.Repeat < 1:
		return usagef("--repeat is %d, want 1 or more", opts.Repeat)
	case opts.MaxTokens < 1:
		return usagef("--max-tokens is %d, want 1 or more", opts.MaxTokens)
	case opts.Format != "table" && opts.Format != "benchstat":
		return usagef("--format %q is not one of table, benchstat", opts.Format)
	case len(opts.Batch) == 0:
		return usagef("--batch names no batch size")
	}
	reqs, err := benchRequests(opts)
	if err != nil {
		return err
	}
	rep := &BenchReport{
		Date: time.Now().UTC(), Model: cfg.ModelFile, Mmproj: cfg.MmprojFile, LoRA: opts.Engine.LoRA,
		Images: len(reqs), MaxTokens: opts.MaxTokens, Repeat: opts.Repeat,
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}
	if opts.Synthetic > 0 {
		rep.ImageSize = opts.SyntheticSize
	}
	// Batch size 1 first: the others are compared with its answers.
	sizes := slices.Clone(opts.Batch)
	slices.Sort(sizes)
	var base map[string]string
	for _, p := range sizes {
		fmt.Fprintf(s.Err, "bench: batch %d: loading\n", p)
		size, answers, err := benchSize(ctx, s, cfg, p, reqs, opts)
		if err != nil {
			return fmt.Errorf("batch %d: %w", p, err)
		}
		size.Answers = answers
		if base == nil && p == 1 {
			base = answers
		}
		if base != nil {
			same := 0
			for id, a := range answers {
				if b, ok := base[id]; ok && a == b {
					same++
				}
			}
			size.SameAsBatch1 = float64(same) / float64(len(reqs))
		} else {
			size.SameAsBatch1 = -1
		}
		rep.Sizes = append(rep.Sizes, size)
	}
	if len(rep.Sizes) > 0 && rep.Sizes[0].Batch == 1 {
		for i := range rep.Sizes {
			rep.Sizes[i].Speedup = rep.Sizes[i].ImagesPerSec.Median / rep.Sizes[0].ImagesPerSec.Median
		}
	}
	if info, err := native.SystemInfo(); err == nil {
		rep.System = info
	}
	if devs, err := native.Devices(); err == nil {
		for _, d := range devs {
			rep.Devices = append(rep.Devices, fmt.Sprintf("%s (%s, %s)", d.Name, d.Type, d.Description))
		}
	}
	if opts.Format == "benchstat" {
		writeBenchstat(s, rep)
	} else {
		writeBenchTable(s, rep)
	}
	if opts.JSON != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("bench json: %w", err)
		}
		if err := os.WriteFile(opts.JSON, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench json: %w", err)
		}
	}
	if opts.Plot != "" {
		if err := writeBenchPlot(opts.Plot, rep); err != nil {
			return err
		}
	}
	return nil
}

// benchSize loads the model with p sequences, warms up, and times the
// repeats. It returns the figures and the first run's answer per request ID.
func benchSize(ctx context.Context, s *streams, cfg local.Config, p int, reqs []*llm.Request, opts benchOptions) (BenchSize, map[string]string, error) {
	cfg.Parallel = p
	resetPeakRSS()
	pred, err := local.New(ctx, cfg)
	if err != nil {
		return BenchSize{}, nil, err
	}
	defer pred.Close()
	size := BenchSize{Batch: p, EncodeAhead: pred.EncodesAhead()}
	if _, err := pred.Predict(ctx, reqs[0]); err != nil {
		return size, nil, fmt.Errorf("warm-up: %w", err)
	}
	var answers map[string]string
	for r := range opts.Repeat {
		pred.ResetStats()
		start := time.Now()
		run := BenchRun{}
		got := map[string]string{}
		var ttft []float64
		for res := range pred.PredictBatch(ctx, reqs) {
			if res.Err != nil {
				if ctx.Err() != nil {
					return size, nil, ctx.Err()
				}
				run.Failed++
				fmt.Fprintf(s.Err, "bench: %s: %v\n", res.Request.ID, res.Err)
				continue
			}
			got[res.Request.ID] = res.Prediction.Text
			if t := res.Prediction.Timings; t != nil {
				ttft = append(ttft, t.FirstTokenMS)
			}
			run.GeneratedTokens += res.Prediction.Usage.CompletionTokens
		}
		wall := time.Since(start)
		st := pred.Stats()
		run.WallMS = durMS(wall)
		run.ImagesPerSec = float64(len(reqs)-run.Failed) / wall.Seconds()
		run.EncodeMSPerImg = ratio(durMS(st.ImageEncode), float64(st.Images))
		run.PrefillTokPerS = ratio(float64(st.PrefillTokens), st.Prefill.Seconds())
		run.DecodeTokPerS = ratio(float64(st.DecodeTokens), st.Decode.Seconds())
		run.TTFTMS = statOf(ttft).Median
		run.PromptTokens = st.PrefillTokens
		run.Steps = st.Steps
		run.PrefixReuses = st.PrefixReuses
		size.Runs = append(size.Runs, run)
		if r == 0 {
			answers = got
		}
		fmt.Fprintf(s.Err, "bench: batch %d run %d: %.2f images/s, %.1f decode tok/s\n", p, r+1, run.ImagesPerSec, run.DecodeTokPerS)
	}
	pick := func(f func(BenchRun) float64) Stat {
		v := make([]float64, len(size.Runs))
		for i, r := range size.Runs {
			v[i] = f(r)
		}
		return statOf(v)
	}
	size.WallMS = pick(func(r BenchRun) float64 { return r.WallMS })
	size.ImagesPerSec = pick(func(r BenchRun) float64 { return r.ImagesPerSec })
	size.EncodeMSPerImg = pick(func(r BenchRun) float64 { return r.EncodeMSPerImg })
	size.PrefillTokPerS = pick(func(r BenchRun) float64 { return r.PrefillTokPerS })
	size.DecodeTokPerS = pick(func(r BenchRun) float64 { return r.DecodeTokPerS })
	size.TTFTMS = pick(func(r BenchRun) float64 { return r.TTFTMS })
	size.PeakRSSMiB = float64(peakRSS()) / (1 << 20)
	if cfg.GPULayers != 0 {
		if devs, err := native.Devices(); err == nil {
			for _, d := range devs {
				if d.Type == native.DeviceGPU {
					size.GPUUsedMiB += float64(d.MemoryTotal-d.MemoryFree) / (1 << 20)
				}
			}
		}
	}
	return size, answers, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func durMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchRequests makes one request per image.
func benchRequests(opts benchOptions) ([]*llm.Request, error) {
	var reqs []*llm.Request
	add := func(id string, data []byte) {
		reqs = append(reqs, &llm.Request{ID: id, ImagePath: id, Image: data, Prompt: opts.Prompt,
			Options: llm.Options{MaxTokens: opts.MaxTokens}})
	}
	if opts.Images != "" {
		entries, err := os.ReadDir(opts.Images)
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp":
			default:
				continue
			}
			path := filepath.Join(opts.Images, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read image: %w", err)
			}
			add(path, data)
		}
		if len(reqs) == 0 {
			return nil, fmt.Errorf("images: %s holds no JPEG, PNG, WebP, GIF or BMP file", opts.Images)
		}
		return reqs, nil
	}
	var w, h int
	if _, err := fmt.Sscanf(opts.SyntheticSize, "%dx%d", &w, &h); err != nil || w < 28 || h < 28 || w > 8192 || h > 8192 {
		return nil, usagef("--synthetic-size %q is not WxH between 28x28 and 8192x8192", opts.SyntheticSize)
	}
	for i, data := range syntheticImages(opts.Synthetic, opts.Seed, w, h) {
		add(fmt.Sprintf("synthetic-%03d.png", i+1), data)
	}
	return reqs, nil
}

// syntheticImages draws n street-like scenes (eval/demo's painter) at w×h
// and encodes them as PNG. The same seed gives the same images.
func syntheticImages(n int, seed uint64, w, h int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 0x62656e6368))
	out := make([][]byte, n)
	for i := range out {
		sc := demo.Scene{
			Daylight: r.Float64(), Lights: r.IntN(6), Greenery: r.Float64(),
			RoadWidth: 0.2 + 0.4*r.Float64(), Clutter: r.Float64() * r.Float64(),
			Windows: r.Float64(), BuildingsH: 0.3 + 0.5*r.Float64(),
		}
		img := imagefile.Resize(demo.Draw(sc, r.Uint64()), w, h)
		var b bytes.Buffer
		_ = png.Encode(&b, img) // encoding an in-memory RGBA cannot fail
		out[i] = b.Bytes()
	}
	return out
}

func writeBenchTable(s *streams, rep *BenchReport) {
	fmt.Fprintf(s.Out, "model %s, %d images, %d new tokens, %d runs per batch size (median [min-max])\n",
		filepath.Base(rep.Model), rep.Images, rep.MaxTokens, rep.Repeat)
	tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\twall s\timages/s\tspeedup\tencode ms/img\tprefill tok/s\tdecode tok/s\tTTFT ms\tpeak RSS MiB\tGPU MiB\tsame as b1\t")
	for _, z := range rep.Sizes {
		gpu := "-"
		if z.GPUUsedMiB > 0 {
			gpu = fmt.Sprintf("%.0f", z.GPUUsedMiB)
		}
		same := "-"
		if z.SameAsBatch1 >= 0 {
			same = fmt.Sprintf("%.0f%%", 100*z.SameAsBatch1)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2fx\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t\n", z.Batch,
			fmtStat(z.WallMS, 1e-3, 2), fmtStat(z.ImagesPerSec, 1, 2), z.Speedup, fmtStat(z.EncodeMSPerImg, 1, 1),
			fmtStat(z.PrefillTokPerS, 1, 0), fmtStat(z.DecodeTokPerS, 1, 1), fmtStat(z.TTFTMS, 1, 0),
			z.PeakRSSMiB, gpu, same)
	}
	tw.Flush()
}

func fmtStat(st Stat, scale float64, prec int) string {
	return fmt.Sprintf("%.*f [%.*f-%.*f]", prec, st.Median*scale, prec, st.Min*scale, prec, st.Max*scale)
}

// writeBenchstat prints one benchmark line per run, in the format of
// `go test -bench`, so that benchstat compares two bench outputs.
func writeBenchstat(s *streams, rep *BenchReport) {
	fmt.Fprintf(s.Out, "goos: %s\ngoarch: %s\npkg: vlmcmp/bench\n", rep.GOOS, rep.GOARCH)
	name := strings.TrimSuffix(filepath.Base(rep.Model), filepath.Ext(rep.Model))
	for _, z := range rep.Sizes {
		for _, r := range z.Runs {
			fmt.Fprintf(s.Out, "BenchmarkLocal/model=%s/batch=%d 1 %.0f ns/op %.4f images/s %.2f encode-ms/image %.2f prefill-tok/s %.2f decode-tok/s %.2f ttft-ms\n",
				name, z.Batch, r.WallMS*1e6, r.ImagesPerSec, r.EncodeMSPerImg, r.PrefillTokPerS, r.DecodeTokPerS, r.TTFTMS)
		}
	}
}

// writeBenchPlot draws images/s and decode tokens/s (medians, with min-max
// bars) against batch size, one panel each.
func writeBenchPlot(path string, rep *BenchReport) (err error) {
	defer func() {
		if r := recover(); r != nil { // gonum/plot panics on some degenerate data
			err = fmt.Errorf("plot %s: %v", path, r)
		}
	}()
	panel := func(title, ylabel string, get func(BenchSize) Stat) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "batch size (sequences)"
		p.Y.Label.Text = ylabel
		pts := make(plotter.XYs, len(rep.Sizes))
		errs := make(plotter.YErrors, len(rep.Sizes))
		var ticks []plot.Tick
		for i, z := range rep.Sizes {
			st := get(z)
			pts[i] = plotter.XY{X: float64(z.Batch), Y: st.Median}
			errs[i] = struct{ Low, High float64 }{st.Median - st.Min, st.Max - st.Median}
			ticks = append(ticks, plot.Tick{Value: float64(z.Batch), Label: strconv.Itoa(z.Batch)})
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
		points.Color = line.Color
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return nil, err
		}
		p.Add(line, points, bars, plotter.NewGrid())
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Min = 0
		return p, nil
	}
	a, err := panel("Images per second", "images/s", func(z BenchSize) Stat { return z.ImagesPerSec })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	b, err := panel("Decode tokens per second", "tokens/s", func(z BenchSize) Stat { return z.DecodeTokPerS })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	img := vgimg.NewWith(vgimg.UseWH(8*vg.Inch, 4*vg.Inch), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	plots := [][]*plot.Plot{{a, b}}
	canvases := plot.Align(plots, t, dc)
	a.Draw(canvases[0][0])
	b.Draw(canvases[0][1])
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

// resetPeakRSS resets the kernel's high-water mark of the process's
// resident memory (Linux; elsewhere peakRSS keeps the process-wide peak).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the peak resident memory in bytes since resetPeakRSS (Linux
// VmHWM), or 0 where unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
