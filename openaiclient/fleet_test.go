package openaiclient

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// newFleetPredictor returns a predictor for a fleet of the fakes, with fast
// retries.
func newFleetPredictor(t testing.TB, srvs []*openaitest.Server, mod func(*Config)) (*Predictor, *bytes.Buffer) {
	t.Helper()
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.URL())
	}
	return newTestPredictor(t, srvs[0], func(c *Config) {
		c.BaseURL, c.BaseURLs = "", urls
		c.Timeout = 10 * time.Second
		if mod != nil {
			mod(c)
		}
	})
}

// fleetRequests are n requests for images of shades 0, 5, 10, …, each
// with the score the fake gives it.
func fleetRequests(t testing.TB, n int) ([]*llm.Request, map[string]float64) {
	reqs := make([]*llm.Request, n)
	want := map[string]float64{}
	for i := range reqs {
		shade := uint8(i * 5 % 256)
		reqs[i] = &llm.Request{ID: fmt.Sprintf("img%03d", i), Image: pngOf(t, 8, 8, shade), Prompt: "Rate"}
		want[reqs[i].ID] = float64(1 + int(float64(shade)/255*9+0.5))
	}
	return reqs, want
}

func chats(s *openaitest.Server) int { return s.Count(http.MethodPost, "/v1/chat/completions") }

// A server killed in the middle of a run loses nothing: every image is
// answered exactly once, right, and the requests were spread over both
// servers before the kill.
func TestFleetServerKilledMidRun(t *testing.T) {
	a, b := openaitest.New(t), openaitest.New(t)
	a.Latency, b.Latency = 5*time.Millisecond, 5*time.Millisecond
	p, logBuf := newFleetPredictor(t, []*openaitest.Server{a, b}, func(c *Config) { c.Concurrency = 4 })
	reqs, want := fleetRequests(t, 80)

	var beforeA, beforeB, killedB int
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for chats(b) < 10 {
			time.Sleep(time.Millisecond)
		}
		beforeA, beforeB = chats(a), chats(b)
		b.Kill()
		// Kill returns once b's handlers have ended, each recorded: what b
		// ever received. Requests can reach b between the counts above
		// and the kill, so beforeB is no bound.
		killedB = chats(b)
	}()
	got := map[string]int{}
	byServer := map[string]int{}
	for r := range p.PredictBatch(t.Context(), reqs) {
		got[r.Request.ID]++
		if r.Err != nil {
			t.Errorf("%s: %v", r.Request.ID, r.Err)
			continue
		}
		if r.Prediction.Score == nil || *r.Prediction.Score != want[r.Request.ID] {
			t.Errorf("%s: score %v, want %v", r.Request.ID, r.Prediction.Score, want[r.Request.ID])
		}
		byServer[r.Prediction.Server.URL]++
	}
	<-killed
	for _, r := range reqs {
		if got[r.ID] != 1 {
			t.Errorf("%s answered %d times, want once", r.ID, got[r.ID])
		}
	}
	if beforeA == 0 || beforeB == 0 {
		t.Errorf("before the kill a had %d requests and b %d: not spread over both", beforeA, beforeB)
	}
	if byServer[a.URL()] == 0 || byServer[b.URL()] == 0 || byServer[a.URL()]+byServer[b.URL()] != len(reqs) {
		t.Errorf("answers by server %v, want both and %d in all", byServer, len(reqs))
	}
	if byServer[b.URL()] > killedB {
		t.Errorf("b answered %d, more than the %d requests it had when killed", byServer[b.URL()], killedB)
	}
	// The requests b had in flight, or was sent next, failed and went to a.
	if n := strings.Count(logBuf.String(), "server failed, trying another"); n == 0 {
		t.Error("no request failed over from the killed server")
	}
	t.Logf("before the kill: a %d requests, b %d (%d when killed); answers: %v", beforeA, beforeB, killedB, byServer)
}

// A server that fails with a 5xx or cannot be reached has its request
// retried on the other at once, without using up the retry budget, and
// the answer says which server gave it.
func TestFleetFailover(t *testing.T) {
	tests := []struct {
		name string
		fail func(*openaitest.Server)
	}{
		{"5xx", func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 503})
		}},
		{"refused", func(s *openaitest.Server) { s.Kill() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := openaitest.New(t), openaitest.New(t)
			tt.fail(a)
			p, _ := newFleetPredictor(t, []*openaitest.Server{a, b}, func(c *Config) { c.MaxRetries = -1 })
			pred, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"})
			if err != nil {
				t.Fatal(err)
			}
			if pred.Server.URL != b.URL() {
				t.Errorf("answered by %s, want %s", pred.Server.URL, b.URL())
			}
			a.Verify(t)
		})
	}
}

// Each request goes to the server with the fewest in flight: a slow
// server holds its requests, and the fast one takes the rest.
func TestFleetLeastBusy(t *testing.T) {
	slow, fast := openaitest.New(t), openaitest.New(t)
	slow.Latency = 300 * time.Millisecond
	p, _ := newFleetPredictor(t, []*openaitest.Server{slow, fast}, func(c *Config) { c.Concurrency = 4 })
	reqs, _ := fleetRequests(t, 40)
	for r := range p.PredictBatch(t.Context(), reqs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	ns, nf := chats(slow), chats(fast)
	if ns == 0 || nf < 3*ns {
		t.Errorf("slow server had %d requests, fast %d: want some on the slow one and at least three times as many on the fast one", ns, nf)
	}
	if m := slow.MaxInFlight(); m > 2 {
		t.Errorf("slow server had %d requests in flight at once, want at most 2 of 4", m)
	}
	t.Logf("slow %d requests, fast %d", ns, nf)
}

// The routing rule itself, with a clock the test moves: fewest in flight,
// ties in turn, a failed server set aside for a backoff that doubles, then
// one probe at a time, healthy again once it answers.
func TestFleetPicks(t *testing.T) {
	now := time.Unix(1000, 0)
	f := newFleet([]string{"http://a/v1/", "http://b/v1", "http://c/v1"}, time.Second, 4*time.Second)
	f.now = func() time.Time { return now }
	names := func(ss ...*server) string {
		var out []string
		for _, s := range ss {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(s.url, "http://"), "/v1"))
		}
		return strings.Join(out, " ")
	}
	s1, s2, s3 := f.acquire(), f.acquire(), f.acquire()
	if got := names(s1, s2, s3); got != "a b c" {
		t.Fatalf("first three picks %s, want a b c", got)
	}
	f.release(s2, "")
	if got := names(f.acquire()); got != "b" {
		t.Fatalf("after b finished: picked %s, want b (fewest in flight)", got)
	}
	// Now a, b, c have one each; a fails.
	f.release(s1, "connection refused")
	if got := names(f.acquire(), f.acquire()); got != "c b" {
		t.Fatalf("with a set aside: picked %s, want c b (ties in turn after b)", got)
	}
	now = now.Add(999 * time.Millisecond)
	if got := names(f.acquire()); got == "a" {
		t.Fatal("a picked before its first second set aside was over")
	}
	now = now.Add(time.Millisecond)
	probe := f.acquire()
	if got := names(probe); got != "a" {
		t.Fatalf("after a's set-aside: picked %s, want a (0 in flight)", got)
	}
	if got := names(f.acquire()); got == "a" {
		t.Fatal("a given a second request while its probe is in flight")
	}
	f.release(probe, "status 502")
	if d := f.servers[0].retryAt.Sub(now); d != 2*time.Second {
		t.Errorf("second failure in a row sets a aside for %s, want 2s", d)
	}
	for range 4 {
		s := f.acquire()
		f.release(s, "")
		if s == f.servers[0] {
			t.Fatal("a picked while set aside")
		}
	}
	a := f.servers[0]
	a.inflight++ // a probe that fails twice more reaches the cap
	f.release(a, "reset")
	a.inflight++
	f.release(a, "reset")
	if d := a.retryAt.Sub(now); d != 4*time.Second {
		t.Errorf("fourth failure sets a aside for %s, want the 4s cap", d)
	}
	if got := f.failures(); !strings.Contains(got, "http://a/v1 (4 failures in a row, last: reset)") {
		t.Errorf("failures %q", got)
	}
	now = now.Add(4 * time.Second)
	probe = f.acquire()
	for probe != a {
		f.release(probe, "")
		probe = f.acquire()
	}
	f.release(probe, "")
	if a.fails != 0 || f.failures() != "" {
		t.Errorf("a answered but is still failing: %d, %q", a.fails, f.failures())
	}

	// One server has no other to fail over to, however long it waits:
	// its retries keep the retry policy's backoff and count.
	one := newFleet([]string{"http://x/v1"}, time.Millisecond, time.Millisecond)
	x := one.acquire()
	one.release(x, "status 500")
	time.Sleep(2 * time.Millisecond)
	if one.otherUsable(x) {
		t.Error("a fleet of one offers another server")
	}
	if !f.otherUsable(a) {
		t.Error("a fleet of three healthy servers offers no other")
	}
}

// A killed server, once it is back and its set-aside time is over, is
// used again.
func TestFleetRecoveredServerUsedAgain(t *testing.T) {
	a, b := openaitest.New(t), openaitest.New(t)
	p, _ := newFleetPredictor(t, []*openaitest.Server{a, b}, func(c *Config) {
		c.Concurrency = 1
		c.RetryBase, c.RetryMax = 20*time.Millisecond, 40*time.Millisecond
	})
	predict := func(n int) map[string]int {
		by := map[string]int{}
		reqs, _ := fleetRequests(t, n)
		for _, r := range reqs {
			pred, err := p.Predict(t.Context(), r)
			if err != nil {
				t.Fatal(err)
			}
			by[pred.Server.URL]++
		}
		return by
	}
	if by := predict(4); by[a.URL()] != 2 || by[b.URL()] != 2 {
		t.Fatalf("two healthy servers, one request at a time: answers %v, want 2 each", by)
	}
	b.Kill()
	if by := predict(6); by[a.URL()] != 6 {
		t.Fatalf("b killed: answers %v, want all 6 from a", by)
	}
	before := chats(b)
	b.Restart(t)
	time.Sleep(100 * time.Millisecond) // past b's set-aside time
	by := predict(6)
	if by[b.URL()] < 2 {
		t.Fatalf("b back: answers %v, want b used again", by)
	}
	if chats(b) == before {
		t.Fatal("b restarted but got no request")
	}
}

// When every server is down, the retry limit applies and the error names
// each server and why it failed.
func TestFleetAllDown(t *testing.T) {
	a, b := openaitest.New(t), openaitest.New(t)
	b.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 500, Times: 100})
	a.Kill()
	p, _ := newFleetPredictor(t, []*openaitest.Server{a, b}, func(c *Config) { c.MaxRetries = 3 })
	_, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"})
	if err == nil {
		t.Fatal("no error with every server down")
	}
	msg := err.Error()
	for _, want := range []string{"every server failed", a.URL() + " (", "connect", b.URL() + " (", "status 500"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	// One try on each, then 3 retries: 5 or 6 sends, not unbounded.
	if n := chats(b); n < 2 || n > 5 {
		t.Errorf("b got %d requests, want the retry limit to bound them", n)
	}
}

// The answer records the server's base URL, its Server header, the
// system_fingerprint and the model name it returned.
func TestPredictRecordsServer(t *testing.T) {
	srv := openaitest.New(t)
	srv.Software, srv.Fingerprint = "llama.cpp", "b4567-abcdef"
	p, _ := newTestPredictor(t, srv, nil)
	pred, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"})
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Server{URL: srv.URL(), Software: "llama.cpp", Fingerprint: "b4567-abcdef"}
	if pred.Server == nil || *pred.Server != want || pred.Model != "gpt-4o-fake" {
		t.Errorf("server %+v, model %s; want %+v, gpt-4o-fake", pred.Server, pred.Model, want)
	}
}

func TestCheckBaseURLs(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr string
	}{
		{[]string{"http://a:8080/v1/", " https://b/v1"}, "http://a:8080/v1 https://b/v1", ""},
		{[]string{"http://a/v1", "http://a/v1/"}, "", "listed twice"},
		{[]string{"a:8080/v1"}, "", "not an http"},
		{[]string{"ftp://a/v1"}, "", "not an http"},
		{[]string{""}, "", "not an http"},
	}
	for _, tt := range tests {
		got, err := CheckBaseURLs(tt.in)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || strings.Join(got, " ") != tt.want):
			t.Errorf("%q: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// Fine-tuning talks to one server: a fleet is refused.
func TestFineTuningRefusesFleet(t *testing.T) {
	if _, err := NewFineTuning(Config{APIKey: "k", BaseURLs: []string{"http://a/v1", "http://b/v1"}}); err == nil || !strings.Contains(err.Error(), "one server") {
		t.Errorf("error %v", err)
	}
}

// A server answering 429 with retry-after 30 s does not stall the fleet:
// its request moves to the other server at once, and the limited server
// gets nothing more until its retry-after is over.
func TestFleetRateLimitedServerHeldUntilRetryAfter(t *testing.T) {
	limited, ok := openaitest.New(t), openaitest.New(t)
	limited.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 429, RetryAfter: "30", Times: 1000,
		Message: "Rate limit reached for requests"})
	ok.Latency = 5 * time.Millisecond
	p, logBuf := newFleetPredictor(t, []*openaitest.Server{limited, ok}, func(c *Config) { c.Concurrency = 4 })
	reqs, want := fleetRequests(t, 40)
	start := time.Now()
	for r := range p.PredictBatch(t.Context(), reqs) {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Request.ID, r.Err)
		}
		if *r.Prediction.Score != want[r.Request.ID] || r.Prediction.Server.URL != ok.URL() {
			t.Errorf("%s: score %v from %s, want %v from %s", r.Request.ID, *r.Prediction.Score, r.Prediction.Server.URL, want[r.Request.ID], ok.URL())
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("40 images took %s with one server rate-limited for 30 s: requests waited on it", d)
	}
	// The first requests may reach it together; once one 429 is back it
	// is held for 30 s.
	if n := chats(limited); n == 0 || n > 4 {
		t.Errorf("the limited server got %d requests, want 1 to 4 (held after its first 429)", n)
	}
	if !strings.Contains(logBuf.String(), "server failed, trying another") {
		t.Error("no request moved off the rate-limited server")
	}
}

// A fleet member without the model (404 model_not_found) is the server's
// failure, not the model's answer: every request is answered by the server
// that has the model.
func TestFleetServerWithoutModelFailsOver(t *testing.T) {
	without, with := openaitest.New(t), openaitest.New(t)
	without.Serves = []string{"qwen2-vl"}
	p, _ := newFleetPredictor(t, []*openaitest.Server{without, with}, func(c *Config) {
		c.Concurrency = 4
		c.RetryBase, c.RetryMax = time.Second, 10*time.Second
	})
	reqs, want := fleetRequests(t, 40)
	for r := range p.PredictBatch(t.Context(), reqs) {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Request.ID, r.Err)
		}
		if *r.Prediction.Score != want[r.Request.ID] || r.Prediction.Server.URL != with.URL() {
			t.Errorf("%s: score %v from %s, want %v from %s", r.Request.ID, *r.Prediction.Score, r.Prediction.Server.URL, want[r.Request.ID], with.URL())
		}
	}
	if n := chats(without); n == 0 || n > 4 {
		t.Errorf("the server without the model got %d requests, want 1 to 4 (set aside after its first 404)", n)
	}
}

// A request no server can answer is a missing answer, with its reason, and
// its error names the server: never an answer without a score.
func TestPredictFailureIsMissingAnswerNamingServer(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*openaitest.Server)
		reason string
		want   string
	}{
		{"no model", func(s *openaitest.Server) { s.Serves = []string{"other"} }, llm.MissingNoModel, "does not exist"},
		{"5xx", func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 503, Times: 100})
		}, llm.MissingServerError, "status 503"},
		{"refused", func(s *openaitest.Server) { s.Kill() }, llm.MissingUnreachable, "connect"},
		{"rate limited", func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 429, RetryAfterMS: "1", Times: 100})
		}, llm.MissingRateLimited, "status 429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.New(t)
			tt.setup(srv)
			p, _ := newTestPredictor(t, srv, func(c *Config) { c.MaxRetries = 2 })
			_, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"})
			if got := llm.MissingReason(err); got != tt.reason {
				t.Errorf("error %v: missing reason %q, want %q", err, got, tt.reason)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v lacks %q", err, tt.want)
			}
			if tt.name == "no model" && !strings.Contains(err.Error(), srv.URL()) {
				t.Errorf("error %v does not name the server %s", err, srv.URL())
			}
		})
	}
	// A request the API refuses for its own content is the request's: no
	// score, not missing.
	srv := openaitest.New(t)
	srv.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 400, Message: "Invalid image"})
	p, _ := newTestPredictor(t, srv, nil)
	if _, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"}); err == nil || llm.MissingReason(err) != "" {
		t.Errorf("a 400: error %v, missing reason %q; want an error that is not missing", err, llm.MissingReason(err))
	}
}

// Passwords in base URLs never reach an answer's server, an error or a
// debug log line.
func TestFleetRedactsURLPasswords(t *testing.T) {
	a, b := openaitest.New(t), openaitest.New(t)
	a.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 503})
	withPass := func(s *openaitest.Server) string {
		return strings.Replace(s.URL(), "http://", "http://user:S3CRETPASS@", 1)
	}
	p, logBuf := newTestPredictor(t, a, func(c *Config) {
		c.BaseURL, c.BaseURLs = "", []string{withPass(a), withPass(b)}
		c.MaxRetries = -1
	})
	pred, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"})
	if err != nil {
		t.Fatal(err)
	}
	b.Kill()
	_, err = p.Predict(t.Context(), &llm.Request{ID: "y", Image: pngOf(t, 8, 8, 100), Prompt: "Rate"})
	for what, s := range map[string]string{"server": pred.Server.URL, "log": logBuf.String(), "error": fmt.Sprint(err)} {
		if strings.Contains(s, "S3CRETPASS") {
			t.Errorf("the %s holds the password: %s", what, s)
		}
	}
	if !strings.Contains(pred.Server.URL, "user:xxxxx@") {
		t.Errorf("server %q, want the URL with its password redacted", pred.Server.URL)
	}
}

// A base URL with a query (Azure's ?api-version=) stays a valid URL: the
// request path goes before the query, which every request carries, on
// each server of a fleet too.
func TestBaseURLWithQuery(t *testing.T) {
	for _, fleet := range []bool{false, true} {
		t.Run(fmt.Sprintf("fleet %t", fleet), func(t *testing.T) {
			a, b := openaitest.New(t), openaitest.New(t)
			p, _ := newTestPredictor(t, a, func(c *Config) {
				c.BaseURL = a.URL() + "/?api-version=2024-10-21"
				if fleet {
					c.BaseURL, c.BaseURLs = "", []string{a.URL() + "?api-version=2024-10-21", b.URL() + "?api-version=2025-01-01"}
				}
			})
			for i := range 4 {
				if _, err := p.Predict(t.Context(), &llm.Request{ID: fmt.Sprint(i), Image: pngOf(t, 8, 8, 100), Prompt: "Rate"}); err != nil {
					t.Fatal(err)
				}
			}
			for s, want := range map[*openaitest.Server]string{a: "api-version=2024-10-21", b: "api-version=2025-01-01"} {
				for _, r := range s.Requests() {
					if r.Path != "/v1/chat/completions" || r.Query != want {
						t.Errorf("request to %s?%s, want /v1/chat/completions?%s", r.Path, r.Query, want)
					}
				}
			}
			if fleet && (chats(a) == 0 || chats(b) == 0) {
				t.Errorf("a got %d requests, b %d: want both", chats(a), chats(b))
			}
		})
	}
}
