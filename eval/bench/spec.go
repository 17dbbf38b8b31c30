package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/usage"
)

// Spec is a whole bench, as `vlmcmp bench` runs it: the local model at each
// batch size, an OpenAI-compatible server at each concurrency, or both, on
// the same images.
type Spec struct {
	// Engine is the local model; nil: only Server is timed. LoRA names its
	// adapters for the report.
	Engine *local.Config
	LoRA   []string
	// Images are the images scored and the request made of each.
	Images Images
	// Batch sizes of the local model and Repeat timed runs of each (and of
	// each server concurrency).
	Batch  []int
	Repeat int
	// Server, when its URL is set, is also timed; its Repeat, MaxTokens and
	// Progress are the Spec's.
	Server ServerOptions
	// Format is how Write prints the report: "table" or "benchstat".
	Format string
	// Trace is a file that receives every scheduler step of the local
	// timed runs as a JSON line; CPUProfile a file for a Go CPU profile of
	// the whole bench. Empty: none.
	Trace, CPUProfile string
	// Progress receives a line per load and run; nil: none.
	Progress io.Writer
}

// Check finds the mistakes of s that need no file: each a [usage.Error]
// whose key names the one setting at fault as `vlmcmp bench` names its flag
// ("repeat", "max-tokens", "format", "batch", "concurrency", "server",
// "synthetic-size"), and whose sentence starts with it; or, for a
// contradiction between settings, has no key.
func (s *Spec) Check() error {
	bad := func(setting, format string, args ...any) error {
		if setting == "" {
			return usage.Errorf("", format, args...)
		}
		return usage.Errorf(setting, setting+" "+format, args...)
	}
	im := s.Images
	switch {
	case s.Engine == nil && s.Server.URL == "":
		return bad("", "no local model and no server to time")
	case im.Dir == "" && im.Synthetic <= 0:
		return bad("", "give a folder of images or a number of synthetic images")
	}
	if err := usage.Exclusive(usage.Opt{Name: "a folder of images", Set: im.Dir != ""}, usage.Opt{Name: "synthetic images", Set: im.Synthetic > 0}); err != nil {
		return err
	}
	switch {
	case s.Repeat < 1:
		return bad("repeat", "is %d, want 1 or more", s.Repeat)
	case im.MaxTokens < 1:
		return bad("max-tokens", "is %d, want 1 or more", im.MaxTokens)
	case s.Format != "table" && s.Format != "benchstat":
		return bad("format", "%q is not one of table, benchstat", s.Format)
	case len(s.Batch) == 0:
		return bad("batch", "has no size")
	case s.Server.URL != "" && len(s.Server.Concurrency) == 0:
		return bad("concurrency", "has no value")
	}
	if s.Server.URL != "" {
		u, err := url.Parse(s.Server.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("server", "%q is not an http(s) URL such as http://127.0.0.1:8088/v1", s.Server.URL)
		}
	}
	if _, _, err := ParseSize(im.SyntheticSize); im.Synthetic > 0 && err != nil {
		return bad("synthetic-size", "%q is not WxH between 28x28 and 8192x8192", im.SyntheticSize)
	}
	return nil
}

// Bench checks s, makes its requests and times the local model (Run) and
// the server (RunServer) on them, with the CPU profile and trace s asks for.
func Bench(ctx context.Context, s Spec) (*Report, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	reqs, err := Requests(s.Images)
	if err != nil {
		return nil, err
	}
	o := Options{LoRA: s.LoRA, Batch: s.Batch, Repeat: s.Repeat, MaxTokens: s.Images.MaxTokens, Progress: s.Progress}
	if s.Images.Synthetic > 0 {
		o.ImageSize = s.Images.SyntheticSize
	}
	if s.CPUProfile != "" {
		f, err := os.Create(s.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("bench cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("bench cpuprofile %s: %w", s.CPUProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	if s.Trace != "" {
		flush, err := traceTo(s.Trace, &o)
		if err != nil {
			return nil, err
		}
		defer flush()
	}
	rep := &Report{Images: len(reqs), ImageSize: o.ImageSize, MaxTokens: o.MaxTokens, Repeat: s.Repeat}
	if s.Engine != nil {
		o.Engine = *s.Engine
		if rep, err = Run(ctx, reqs, o); err != nil {
			return nil, err
		}
	}
	if s.Server.URL != "" {
		if rep.Model == "" {
			rep.Model = s.Server.Model
		}
		so := s.Server
		so.Repeat, so.MaxTokens = s.Repeat, o.MaxTokens
		so.Progress = func(format string, args ...any) { fmt.Fprintf(o.progress(), format, args...) }
		if rep.Server, err = RunServer(ctx, reqs, so); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// traceTo creates the trace file path and sets o.Trace to write each
// scheduler step to it as a JSON line; flush writes out and closes it.
func traceTo(path string, o *Options) (flush func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench trace: %w", err)
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	var mu sync.Mutex
	o.Trace = func(batch int, ev local.TraceEvent) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(struct {
			Batch  int     `json:"batch"`
			Op     string  `json:"op"`
			Start  int64   `json:"start_us"`
			Dur    float64 `json:"dur_ms"`
			Seqs   int     `json:"seqs"`
			Tokens int     `json:"tokens"`
		}{batch, ev.Op, ev.Start.UnixMicro(), float64(ev.Dur) / float64(time.Millisecond), ev.Seqs, ev.Tokens})
	}
	return func() { bw.Flush(); f.Close() }, nil
}

// Write prints rep in format (see Spec.Format): the table and the phases
// of the local sizes, or benchstat lines.
func Write(w io.Writer, rep *Report, format string) {
	if format == "benchstat" {
		WriteBenchstat(w, rep)
		return
	}
	WriteTable(w, rep)
	if len(rep.Sizes) > 0 {
		fmt.Fprintln(w)
		WritePhases(w, rep)
	}
}

// WriteJSON writes rep, indented, to the file path.
func WriteJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench json: %w", err)
	}
	return nil
}
