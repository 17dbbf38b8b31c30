package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/bench"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// TestBenchServer times the fake API as the server path of bench, alone (no
// local model): the table, JSON and plot carry its rows.
func TestBenchServer(t *testing.T) {
	srv := openaitest.New(t)
	t.Setenv("VLMCMP_SERVER_API_KEY", srv.Key)
	dir := t.TempDir()
	js, png := filepath.Join(dir, "b.json"), filepath.Join(dir, "b.png")
	code, out, errOut := vlmcmp(t, context.Background(), "bench", "--server", srv.URL(), "--server-model", "gpt-4o-mini",
		"--synthetic", "4", "--synthetic-size", "64x48", "--max-tokens", "5", "--repeat", "1",
		"--batch", "1,2", "--concurrency", "2,1", "--json", js, "--plot", png)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "server "+srv.URL()) {
		t.Errorf("table does not name the server:\n%s", out)
	}
	var rep bench.Report
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Server == nil || len(rep.Server.Sizes) != 2 || len(rep.Sizes) != 0 {
		t.Fatalf("report: server %+v, %d local sizes; want 2 server concurrencies and no local run", rep.Server, len(rep.Sizes))
	}
	// At each concurrency: a warm-up, one timed pass of 4 images, and an
	// untimed pass over the images themselves for the answers. The warm-up
	// and the timed passes send images the server has not seen (so that a
	// prompt cache cannot answer them): 2*(1+4) images seen once, and the
	// 4 originals once per concurrency.
	if n := srv.Count("POST", "/v1/chat/completions"); n != 2*(1+4+4) {
		t.Errorf("%d chat requests, want 18", n)
	}
	seen := map[string]int{}
	for _, r := range srv.Requests() {
		if img := dataURL.Find(r.Body); img != nil {
			seen[string(img)]++
		}
	}
	once, twice := 0, 0
	for _, n := range seen {
		switch n {
		case 1:
			once++
		case 2:
			twice++
		}
	}
	if once != 10 || twice != 4 || len(seen) != 14 {
		t.Errorf("%d distinct images: %d sent once, %d twice; want 10 once and 4 twice", len(seen), once, twice)
	}
	if fi, err := os.Stat(png); err != nil || fi.Size() == 0 {
		t.Errorf("plot not written: %v", err)
	}
}

var dataURL = regexp.MustCompile(`data:image/[a-z]+;base64,[A-Za-z0-9+/=]+`)

func TestBenchServerUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--server", "127.0.0.1:8088", "--synthetic", "2"}, "not an http(s) URL"},
		{[]string{"--server", "http://127.0.0.1:1/v1", "--synthetic", "2", "--concurrency", "0"}, "--concurrency"},
		{[]string{"--server", "http://127.0.0.1:1/v1", "--synthetic", "2", "--model-file", "m.gguf"}, "--mmproj is required"},
	}
	for _, tt := range tests {
		code, _, errOut := vlmcmp(t, context.Background(), append([]string{"bench"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("bench %v: exit %d, stderr %q, want a failure saying %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestBenchOptionErrorsNameTheFlag: a bad setting is a usage error (exit 2)
// whose sentence names the flag as the user typed it.
func TestBenchOptionErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repeat", "0"}, "--repeat is 0, want 1 or more"},
		{[]string{"--max-tokens", "0"}, "--max-tokens is 0, want 1 or more"},
		{[]string{"--format", "csv"}, `--format "csv" is not one of table, benchstat`},
		{[]string{"--synthetic-size", "9x9"}, `--synthetic-size "9x9" is not WxH`},
		{[]string{"--server", "h:1"}, `--server "h:1" is not an http(s) URL`},
	} {
		args := append([]string{"bench", "--model-file", "m.gguf", "--mmproj", "p.gguf", "--synthetic", "2"}, tc.args...)
		code, _, errOut := vlmcmp(t, context.Background(), args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
