// Package bench measures the local backend's (llm/local) throughput at
// several batch sizes: it loads the model once per size, times repeated
// passes over the same images, and reports medians with min and max, peak
// process memory (Linux /proc) and GPU memory, and how many answers match
// batch size 1's. It writes the report as a table, as benchstat lines and as
// a plot. Its statistics are eval/metrics'.
//
// With a server URL it also sends the same images, prompt and answer length
// to an OpenAI-compatible server (llama-server, vLLM) through the OpenAI
// backend at several concurrencies, and reports both paths side by side.
// Spec and Bench are a whole bench as `vlmcmp bench` runs it (checks,
// requests, both paths, trace and CPU profile); Write and WriteJSON print it.
//
// It may import llm, llm/local, llm/imagefile, native, openaiclient, eval/demo
// (the synthetic street painter) and eval/metrics; nothing imports it but
// the command layer.
package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
)

// Images says which images a bench scores and how it asks about them.
type Images struct {
	Dir           string // folder of images
	Synthetic     int    // number of synthetic images, when Dir is empty
	SyntheticSize string // WxH of synthetic images
	Seed          uint64
	Prompt        string
	MaxTokens     int
}

// Options are a bench's settings.
type Options struct {
	// Engine is the local model; its Parallel is set to each batch size.
	Engine local.Config
	// LoRA names the adapters, for the report.
	LoRA []string
	// Batch sizes, in any order; Repeat timed runs of each.
	Batch  []int
	Repeat int
	// MaxTokens and ImageSize are recorded in the report.
	MaxTokens int
	ImageSize string
	// Progress receives a line per load and run; nil: none.
	Progress io.Writer
	// Trace, when set, receives every scheduler step of the timed runs,
	// with the batch size (local.Predictor.SetTrace).
	Trace func(batch int, ev local.TraceEvent)
}

func (o Options) progress() io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

// Run benches reqs at every batch size (batch size 1 first: the others are
// compared with its answers) and returns the report.
func Run(ctx context.Context, reqs []*llm.Request, opts Options) (*Report, error) {
	if len(reqs) == 0 || len(opts.Batch) == 0 || opts.Repeat < 1 {
		return nil, fmt.Errorf("bench: %d images, %d batch sizes, %d repeats: want at least one of each", len(reqs), len(opts.Batch), opts.Repeat)
	}
	rep := &Report{
		Date: time.Now().UTC(), Model: opts.Engine.ModelFile, Mmproj: opts.Engine.MmprojFile, LoRA: opts.LoRA,
		Images: len(reqs), ImageSize: opts.ImageSize, MaxTokens: opts.MaxTokens, Repeat: opts.Repeat,
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}
	sizes := slices.Clone(opts.Batch)
	slices.Sort(sizes)
	var base map[string]string
	for _, p := range sizes {
		fmt.Fprintf(opts.progress(), "bench: batch %d: loading\n", p)
		size, answers, err := benchSize(ctx, opts.Engine, p, reqs, opts)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", p, err)
		}
		size.Answers = answers
		if base == nil && p == 1 {
			base = answers
		}
		size.SameAsBatch1 = sameShare(base, answers, len(reqs))
		rep.Sizes = append(rep.Sizes, size)
	}
	if rep.Sizes[0].Batch == 1 {
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
	return rep, nil
}

// sameShare is the share of answers identical to base's, or -1 without a
// base (no batch size 1).
func sameShare(base, answers map[string]string, n int) float64 {
	if base == nil {
		return -1
	}
	same := 0
	for id, a := range answers {
		if b, ok := base[id]; ok && a == b {
			same++
		}
	}
	return float64(same) / float64(n)
}

// benchSize loads the model with p sequences, warms up, and times the
// repeats. It returns the figures and the first run's answer per request ID.
func benchSize(ctx context.Context, cfg local.Config, p int, reqs []*llm.Request, opts Options) (Size, map[string]string, error) {
	cfg.Parallel = p
	cfg.EmbeddingCacheMiB = -1 // time the encoder on every pass
	resetPeakRSS()
	pred, err := local.New(ctx, cfg)
	if err != nil {
		return Size{}, nil, err
	}
	defer pred.Close()
	size := Size{Batch: p, EncodeAhead: pred.EncodesAhead()}
	if _, err := pred.Predict(ctx, reqs[0]); err != nil {
		return size, nil, fmt.Errorf("warm-up: %w", err)
	}
	if opts.Trace != nil {
		pred.SetTrace(func(ev local.TraceEvent) { opts.Trace(p, ev) })
	}
	var answers map[string]string
	for r := range opts.Repeat {
		pred.ResetStats()
		start := time.Now()
		run := Pass{}
		got := map[string]string{}
		var ttft, lat []float64
		for res := range pred.PredictBatch(ctx, reqs) {
			if res.Err != nil {
				if ctx.Err() != nil {
					return size, nil, ctx.Err()
				}
				run.Failed++
				fmt.Fprintf(opts.progress(), "bench: %s: %v\n", res.Request.ID, res.Err)
				continue
			}
			got[res.Request.ID] = res.Prediction.Text
			if t := res.Prediction.Timings; t != nil {
				ttft = append(ttft, t.FirstTokenMS)
			}
			run.GeneratedTokens += res.Prediction.Usage.CompletionTokens
			lat = append(lat, durMS(res.Prediction.Latency))
		}
		wall := time.Since(start)
		st := pred.Stats()
		run.WallMS = durMS(wall)
		run.ImagesPerSec = float64(len(reqs)-run.Failed) / wall.Seconds()
		run.EncodeMSPerImg = ratio(durMS(st.ImageEncode), float64(st.Images))
		run.PrefillTokPerS = ratio(float64(st.PrefillTokens), st.Prefill.Seconds())
		run.DecodeTokPerS = ratio(float64(st.DecodeTokens), st.Decode.Seconds())
		run.TTFTMS = StatOf(ttft).Median
		run.LatencyMS = StatOf(lat).Median
		run.PromptTokens = st.PrefillTokens
		run.Steps = st.Steps
		run.PrefixReuses = st.PrefixReuses
		run.Phases = phasesOf(st, wall, len(reqs), size.EncodeAhead)
		size.Runs = append(size.Runs, run)
		if r == 0 {
			answers = got
		}
		fmt.Fprintf(opts.progress(), "bench: batch %d run %d: %.2f images/s, %.1f decode tok/s\n", p, r+1, run.ImagesPerSec, run.DecodeTokPerS)
	}
	size.summarize()
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

// phasesOf splits a pass's wall time by phase, per image.
func phasesOf(st local.Stats, wall time.Duration, n int, ahead bool) *Phases {
	per := func(d time.Duration) float64 { return durMS(d) / float64(n) }
	ph := &Phases{
		ImageDecode: per(st.ImageDecode), Tokenize: per(st.Tokenize), Encode: per(st.ImageEncode), EncodeAhead: ahead,
		PrefixPrefill: per(st.PrefixPrefill), ImagePrefill: per(st.ImagePrefill), TextPrefill: per(st.TextPrefill),
		Decode: per(st.Decode), Sample: per(st.Sample), Wait: per(st.OwnerWait), Wall: per(wall),
	}
	owner := ph.PrefixPrefill + ph.ImagePrefill + ph.TextPrefill + ph.Decode + ph.Sample + ph.Wait
	if !ahead {
		owner += ph.Encode
	}
	ph.Gap = ph.Wall - owner
	return ph
}

// summarize sets the size's statistics from its runs.
func (size *Size) summarize() {
	pick := func(f func(Pass) float64) Stat {
		v := make([]float64, len(size.Runs))
		for i, r := range size.Runs {
			v[i] = f(r)
		}
		return StatOf(v)
	}
	size.WallMS = pick(func(r Pass) float64 { return r.WallMS })
	size.ImagesPerSec = pick(func(r Pass) float64 { return r.ImagesPerSec })
	size.EncodeMSPerImg = pick(func(r Pass) float64 { return r.EncodeMSPerImg })
	size.PrefillTokPerS = pick(func(r Pass) float64 { return r.PrefillTokPerS })
	size.DecodeTokPerS = pick(func(r Pass) float64 { return r.DecodeTokPerS })
	size.TTFTMS = pick(func(r Pass) float64 { return r.TTFTMS })
	size.LatencyMS = pick(func(r Pass) float64 { return r.LatencyMS })
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func durMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
