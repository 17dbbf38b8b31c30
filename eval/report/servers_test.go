package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestServedBy(t *testing.T) {
	served := func(n int, s Served) []Prediction {
		out := make([]Prediction, n)
		for i := range out {
			out[i].Served = s
		}
		return out
	}
	a := Served{URL: "http://a:8080/v1", Model: "qwen2-vl-7b", Software: "llama.cpp", Fingerprint: "b4567"}
	b := a
	b.URL = "http://b:8080/v1"
	oldB := b
	oldB.Fingerprint = "b4100"
	api := Served{URL: "https://api.openai.com/v1", Model: "gpt-4o-2024-08-06", Fingerprint: "fp_1"}
	tests := []struct {
		name  string
		preds []Prediction
		want  string
	}{
		{"no server", served(3, Served{}), ""},
		{"fleet of one build", append(served(17, b), served(31, a)...),
			"http://a:8080/v1 (31), http://b:8080/v1 (17) — llama.cpp; model qwen2-vl-7b; fingerprint b4567"},
		{"builds differ", append(served(2, a), served(3, oldB)...),
			"http://b:8080/v1 (3), http://a:8080/v1 (2) — llama.cpp; model qwen2-vl-7b; fingerprint b4100 (3), b4567 (2)"},
		{"openai api, failures without server", append(served(4, api), served(2, Served{})...),
			"https://api.openai.com/v1 (4) — model gpt-4o-2024-08-06; fingerprint fp_1"},
		{"url only", served(1, Served{URL: "http://c/v1"}), "http://c/v1 (1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServedBy(&ModelResult{Predictions: tt.preds}); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The text and HTML reports say, per model, which servers answered; models
// without a server (baselines, local) get no such line.
func TestReportsSayWhichServerAnswered(t *testing.T) {
	dir := t.TempDir()
	in := fixture(t, dir)
	fine := &in.Models[1]
	for i := range fine.Predictions {
		s := Served{URL: "http://a:8080/v1", Model: "ft:gpt-4o-mini:acme::abc", Software: "llama.cpp"}
		if i%3 == 0 {
			s.URL = "http://b:8080/v1"
		}
		fine.Predictions[i].Served = s
	}
	if _, err := Write(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	var sum SummaryFile
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	wantServers := []ServerSummary{
		{URL: "http://a:8080/v1", Answers: 8, Software: "llama.cpp", Model: "ft:gpt-4o-mini:acme::abc"},
		{URL: "http://b:8080/v1", Answers: 4, Software: "llama.cpp", Model: "ft:gpt-4o-mini:acme::abc"},
	}
	for _, m := range sum.Models {
		switch {
		case m.Name == fine.Name && !reflect.DeepEqual(m.Servers, wantServers):
			t.Errorf("summary.json servers of %s: %+v, want %+v", m.Name, m.Servers, wantServers)
		case m.Name != fine.Name && m.Servers != nil:
			t.Errorf("summary.json servers of %s: %+v, want none", m.Name, m.Servers)
		}
	}
	want := "answered by http://a:8080/v1 (8), http://b:8080/v1 (4) — llama.cpp; model ft:gpt-4o-mini:acme::abc"
	for _, name := range []string{"report.txt", "report.html"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "answered by "); n != 1 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d \"answered by\" lines, want 1 with %q", name, n, want)
		}
	}
}
