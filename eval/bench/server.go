package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// ServerOptions are the settings of the server half of a bench: the same
// images, prompt and answer length sent to an OpenAI-compatible server
// (llama-server, vLLM) through the OpenAI backend, at each concurrency.
type ServerOptions struct {
	// URL is the API's base URL (http://127.0.0.1:8088/v1); Model the
	// model name sent (a local llama-server ignores it).
	URL, Model string
	// Key is the API key; empty sends none (a local server needs none).
	Key string
	// Concurrency lists the requests in flight to time, in any order;
	// Repeat timed passes each, after one warm-up request.
	Concurrency []int
	Repeat      int
	// MaxTokens is the answer length asked for (the requests' own, when
	// they set one).
	MaxTokens int
	// Timeout bounds one request (default the backend's, 60 s).
	Timeout  time.Duration
	Progress func(format string, args ...any)
}

// ServerRun is the server half of a report.
type ServerRun struct {
	URL   string `json:"url"`
	Model string `json:"model"`
	// Sizes has one entry per concurrency (its Batch field); only the wall
	// time, images/s, latency and answers are known for a server.
	Sizes []Size `json:"sizes"`
}

// RunServer times reqs through the server at every concurrency (1 first:
// the others are compared with its answers) and returns the figures.
func RunServer(ctx context.Context, reqs []*llm.Request, opts ServerOptions) (*ServerRun, error) {
	if opts.URL == "" {
		return nil, fmt.Errorf("bench: no server URL")
	}
	if len(reqs) == 0 || len(opts.Concurrency) == 0 || opts.Repeat < 1 {
		return nil, fmt.Errorf("bench: %d images, %d concurrencies, %d repeats: want at least one of each", len(reqs), len(opts.Concurrency), opts.Repeat)
	}
	if opts.Model == "" {
		opts.Model = "local"
	}
	logf := opts.Progress
	if logf == nil {
		logf = func(string, ...any) {}
	}
	run := &ServerRun{URL: opts.URL, Model: opts.Model}
	levels := slices.Clone(opts.Concurrency)
	slices.Sort(levels)
	var base map[string]string
	for li, c := range levels {
		pred, err := openaiclient.New(openaiclient.Config{
			Model: opts.Model, BaseURL: opts.URL, APIKey: opts.Key, NoKey: opts.Key == "",
			// "high" sends images of up to 2048 pixels as they are, as the
			// local backend gets them; a server scales them itself.
			Detail: openaiclient.DetailHigh, MaxTokens: opts.MaxTokens, Concurrency: c,
			Timeout: opts.Timeout, MaxRetries: -1,
		})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		// Every request a level times carries an image the server has not
		// seen: a server that caches prompts would otherwise answer a
		// repeated image from its cache without encoding it (llama-server
		// keeps each slot's last prompt, so at --parallel >= the number of
		// images every repeat was a cache hit; vLLM's prefix cache keys on
		// the image too). The answers compared between levels come from an
		// untimed pass over the images themselves.
		variant := func(r int) ([]*llm.Request, error) {
			return Variants(reqs, li*(opts.Repeat+1)+r+1)
		}
		warm, err := variant(opts.Repeat)
		if err != nil {
			return nil, err
		}
		logf("bench: server concurrency %d: warm-up\n", c)
		if _, err := pred.Predict(ctx, warm[0]); err != nil {
			return nil, fmt.Errorf("server %s: warm-up: %w", opts.URL, err)
		}
		size := Size{Batch: c}
		for r := range opts.Repeat {
			pass := Pass{}
			var lat []float64
			timed, err := variant(r)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			for res := range pred.PredictBatch(ctx, timed) {
				if res.Err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					pass.Failed++
					logf("bench: server: %s: %v\n", res.Request.ID, res.Err)
					continue
				}
				lat = append(lat, durMS(res.Prediction.Latency))
				pass.GeneratedTokens += res.Prediction.Usage.CompletionTokens
				pass.PromptTokens += res.Prediction.Usage.PromptTokens
			}
			wall := time.Since(start)
			if pass.Failed == len(reqs) {
				return nil, fmt.Errorf("server %s: every request failed at concurrency %d", opts.URL, c)
			}
			pass.WallMS = durMS(wall)
			pass.ImagesPerSec = float64(len(reqs)-pass.Failed) / wall.Seconds()
			pass.DecodeTokPerS = float64(pass.GeneratedTokens) / wall.Seconds()
			pass.LatencyMS = StatOf(lat).Median
			size.Runs = append(size.Runs, pass)
			logf("bench: server concurrency %d run %d: %.2f images/s\n", c, r+1, pass.ImagesPerSec)
		}
		answers := map[string]string{}
		for res := range pred.PredictBatch(ctx, reqs) {
			if res.Err == nil {
				answers[res.Request.ID] = res.Prediction.Text
			} else if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		size.Answers = answers
		if base == nil && c == 1 {
			base = answers
		}
		size.SameAsBatch1 = sameShare(base, answers, len(reqs))
		size.summarize()
		run.Sizes = append(run.Sizes, size)
	}
	if run.Sizes[0].Batch == 1 {
		for i := range run.Sizes {
			run.Sizes[i].Speedup = run.Sizes[i].ImagesPerSec.Median / run.Sizes[0].ImagesPerSec.Median
		}
	}
	return run, nil
}

// Best is the size with the highest median images/s, or nil.
func Best(sizes []Size) *Size {
	var best *Size
	for i := range sizes {
		if best == nil || sizes[i].ImagesPerSec.Median > best.ImagesPerSec.Median {
			best = &sizes[i]
		}
	}
	return best
}
