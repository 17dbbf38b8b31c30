package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Served says which server gave an answer: what an OpenAI-compatible
// server (llama-server, vLLM, Ollama, the OpenAI API) tells about itself.
// It is zero for backends that ask no server.
type Served struct {
	// URL is the base URL the request went to.
	URL string
	// Model is the model name the server returned.
	Model string
	// Software is the answer's Server header (llama.cpp, uvicorn…).
	Software string
	// Fingerprint is the answer's system_fingerprint.
	Fingerprint string
}

// ServedBy says which servers answered m's predictions, most answers
// first, and what they said of themselves, e.g.
//
//	http://a:8080/v1 (31), http://b:8080/v1 (17) — llama.cpp; model qwen2-vl-7b; fingerprint b4567
//
// A field with several values lists each with its count, so that a fleet
// whose servers run different builds or models shows it. It is "" when no
// prediction names a server.
func ServedBy(m *ModelResult) string {
	var urls, soft, models, prints []string
	for _, p := range m.Predictions {
		if p.Served.URL == "" {
			continue
		}
		urls = append(urls, p.Served.URL)
		soft = append(soft, p.Served.Software)
		models = append(models, p.Served.Model)
		prints = append(prints, p.Served.Fingerprint)
	}
	if len(urls) == 0 {
		return ""
	}
	var about []string
	if s := tally(soft, false); s != "" {
		about = append(about, s)
	}
	if s := tally(models, false); s != "" {
		about = append(about, "model "+s)
	}
	if s := tally(prints, false); s != "" {
		about = append(about, "fingerprint "+s)
	}
	out := tally(urls, true)
	if len(about) > 0 {
		out += " — " + strings.Join(about, "; ")
	}
	return out
}

// ServerSummary is one server in summary.json: what it said of itself and
// how many of the model's answers it gave.
type ServerSummary struct {
	URL         string `json:"url"`
	Answers     int    `json:"answers"`
	Software    string `json:"software,omitempty"`
	Model       string `json:"model,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Servers lists the servers that answered m's predictions, one entry per
// distinct Served (a server that changed builds mid-run has two), most
// answers first (ties by URL, then fingerprint); nil when none names a
// server.
func Servers(m *ModelResult) []ServerSummary {
	n := map[Served]int{}
	for _, p := range m.Predictions {
		if p.Served.URL != "" {
			n[p.Served]++
		}
	}
	var out []ServerSummary
	for s, c := range n {
		out = append(out, ServerSummary{URL: s.URL, Answers: c, Software: s.Software, Model: s.Model, Fingerprint: s.Fingerprint})
	}
	slices.SortFunc(out, func(a, b ServerSummary) int {
		return cmp.Or(b.Answers-a.Answers, strings.Compare(a.URL, b.URL), strings.Compare(a.Fingerprint, b.Fingerprint),
			strings.Compare(a.Model, b.Model), strings.Compare(a.Software, b.Software))
	})
	return out
}

// tally lists the distinct non-empty values with their counts, most
// frequent first (ties by value); a single value goes without its count
// unless always.
func tally(values []string, always bool) string {
	n := map[string]int{}
	for _, v := range values {
		if v != "" {
			n[v]++
		}
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(n[b]-n[a], strings.Compare(a, b)) })
	if len(keys) == 1 && !always {
		return keys[0]
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", k, n[k])
	}
	return strings.Join(parts, ", ")
}
