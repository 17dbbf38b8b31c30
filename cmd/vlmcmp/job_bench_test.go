package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// TestJobBench times the job of issue 25, as docs/benchmarks.md reports it:
// vlmcmp binaries built with llama.cpp ($VLMCMP_BENCH_BIN: PATH, or
// NAME=PATH,NAME=PATH to time builds against each other, job by job in
// turn so that the machine's load falls on both alike) run compare on 32
// images of 320×240 with two models on the loopback OpenAI fake (700 ms a
// request, 4 in flight each) and the small synthetic model (with its LoRA
// fine-tune), each model alone and together, $VLMCMP_BENCH_ROUNDS rounds
// (3), and prints every wall time and their medians. Each run is its own
// process, so no cache of one run serves another. Skipped without the
// binary: it takes minutes.
func TestJobBench(t *testing.T) {
	spec := os.Getenv("VLMCMP_BENCH_BIN")
	if spec == "" {
		t.Skip("set VLMCMP_BENCH_BIN to a vlmcmp binary built with llama.cpp to time the comparison job")
	}
	var names []string
	bins := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(f, "=")
		if !ok {
			name, path = "vlmcmp", f
		}
		path, _ = filepath.Abs(path)
		names, bins[name] = append(names, name), path
	}
	bin := bins[names[0]]
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("VLMCMP_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	srv := openaiEnv(t)
	srv.Latency = 700 * time.Millisecond
	if out, err := exec.Command(bin, "synth-model", "--shape", "small", "--seed", "1", "--lora", "--out", "model").CombinedOutput(); err != nil {
		t.Fatalf("synth-model: %v\n%s", err, out)
	}
	const n = 32
	if err := os.MkdirAll("data/images", 0o755); err != nil {
		t.Fatal(err)
	}
	var recs []string
	for i := range n {
		img := imagefile.Resize(demo.Draw(demo.Scene{Daylight: float64(i%8) / 8}, uint64(i)), 320, 240)
		name := fmt.Sprintf("images/%03d.png", i)
		writeBenchPNG(t, filepath.Join("data", name), img)
		recs = append(recs, fmt.Sprintf(`{"image": %q, "score": %d}`, name, 1+i%10))
	}
	if err := os.WriteFile("data/gt.json", []byte("["+strings.Join(recs, ",\n")+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// One thread each by default ($VLMCMP_BENCH_THREADS): on a loaded
	// 2-core machine ggml's two threads stall at every barrier whenever one
	// is descheduled (docs/benchmarks.md).
	threads := "1"
	if v := os.Getenv("VLMCMP_BENCH_THREADS"); v != "" {
		threads = v
	}
	local := "model_file: model/model.gguf, mmproj: model/mmproj.gguf, max_tokens: 16, threads: " + threads
	cfg := "data: data/gt.json\noutput_dir: results\nmodels:\n" +
		"  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 4}\n" +
		"  - {name: mini, backend: openai, model: gpt-4o-mini, concurrency: 4}\n" +
		"  - {name: local, backend: local, " + local + "}\n" +
		"  - {name: local-ft, backend: local, " + local + ", lora: [model/lora.gguf]}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	jobs := []string{"gpt4", "mini", "local", "gpt4,mini,local", "local-ft", "local,local-ft"}
	times := map[string][]float64{} // by binary name + " " + job
	run := 0
	for r := range rounds {
		for _, job := range jobs {
			for _, name := range names {
				run++
				t0 := time.Now()
				cmd := exec.Command(bins[name], "compare", "--split", "all", "--no-cache", "--models", job, "--run-id", fmt.Sprint("r", run))
				out, err := cmd.CombinedOutput()
				d := time.Since(t0).Seconds()
				if err != nil {
					t.Fatalf("%s compare --models %s: %v\n%s", name, job, err, out)
				}
				times[name+" "+job] = append(times[name+" "+job], d)
				t.Logf("round %d %-8s %-16s %6.2f s", r+1, name, job, d)
			}
		}
	}
	for _, name := range names {
		med := map[string]float64{}
		for _, job := range jobs {
			s := slices.Clone(times[name+" "+job])
			slices.Sort(s)
			med[job] = s[len(s)/2]
			t.Logf("%-8s median %-16s %6.2f s  %.2f", name, job, med[job], times[name+" "+job])
		}
		slowest := max(med["gpt4"], med["mini"], med["local"])
		t.Logf("%-8s three models together / slowest alone = %.2f / %.2f = %.2fx", name, med["gpt4,mini,local"], slowest, med["gpt4,mini,local"]/slowest)
		seq := med["local"] + med["local-ft"]
		t.Logf("%-8s base + fine-tune together / one after the other = %.2f / %.2f = %.2fx", name, med["local,local-ft"], seq, med["local,local-ft"]/seq)
	}
}

func writeBenchPNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
