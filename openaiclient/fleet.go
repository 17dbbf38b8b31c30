package openaiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// A fleet is the servers one model's requests go to: the one base URL of
// the usual case, or several OpenAI-compatible servers (vLLM, llama-server
// on several machines) serving the same model ([Config.BaseURLs]).
//
// Each attempt of a request goes to the healthy server with the fewest
// requests in flight, ties taken in turn. A server that fails (no
// connection, a reset, a 5xx or 408, a cut-off or malformed body, no answer
// within the attempt's timeout, a 429, or a 404, 401 or 403 that says the
// server lacks the model or refuses the key) is set aside for a backoff
// that doubles with each failure in a row, and a rate-limited one at least
// until its Retry-After, then given a single request to prove itself; an
// answer makes it healthy again. The doer retries the failed request at
// once on another server while one is healthy; when none is, the retry
// policy's backoff and limit apply, and the final error names every
// server's failure. With one server nothing changes but the bookkeeping.
type fleet struct {
	mu        sync.Mutex
	servers   []*server
	next      int           // where the search starts, so that ties take turns
	base, cap time.Duration // the set-aside time after the first failure, and its bound
	now       func() time.Time
}

// server is one member of a fleet. Its fields are guarded by fleet.mu.
type server struct {
	url      string     // base URL, without a trailing slash or query
	query    url.Values // the base URL's query (Azure's api-version), added to every request
	shown    string     // the base URL with its password redacted, for errors and logs
	inflight int
	sent     int       // attempts sent, answered or not
	fails    int       // failures in a row; 0 when healthy
	retryAt  time.Time // a failed server is not tried before then
	lastErr  string
}

// newFleet makes a fleet of the base URLs (trailing slashes removed), which
// must not be empty.
func newFleet(urls []string, base, cap time.Duration) *fleet {
	f := &fleet{base: base, cap: cap, now: time.Now}
	for _, u := range urls {
		base, query := splitQuery(u)
		f.servers = append(f.servers, &server{url: base, query: query, shown: RedactURL(strings.TrimRight(u, "/"))})
	}
	return f
}

// usable reports whether s may take a request now: it is healthy, or its
// set-aside time is over and no other request is already probing it.
func (f *fleet) usable(s *server, now time.Time) bool {
	return s.fails == 0 || (!now.Before(s.retryAt) && s.inflight == 0)
}

// acquire picks the server for the next attempt and counts it in flight:
// the usable one with the fewest in flight, or, when none is usable, the
// one that may be retried soonest (the retry policy paces those attempts).
// Every acquire must be followed by one release.
func (f *fleet) acquire() *server {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var best *server
	bestAt := 0
	for i := range f.servers {
		at := (f.next + i) % len(f.servers)
		s := f.servers[at]
		if f.usable(s, now) && (best == nil || s.inflight < best.inflight) {
			best, bestAt = s, at
		}
	}
	if best == nil {
		for at, s := range f.servers {
			if best == nil || s.retryAt.Before(best.retryAt) {
				best, bestAt = s, at
			}
		}
	}
	f.next = (bestAt + 1) % len(f.servers)
	best.inflight++
	best.sent++
	return best
}

// release ends an attempt on s: failure is why the server failed it, ""
// when the server answered (whatever the answer) or the caller gave up.
func (f *fleet) release(s *server, failure string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.inflight--
	if failure == "" {
		s.fails, s.lastErr = 0, ""
		return
	}
	s.fails++
	s.lastErr = failure
	wait := f.base << min(s.fails-1, 20)
	if wait > f.cap || wait <= 0 {
		wait = f.cap
	}
	s.retryAt = f.now().Add(wait)
}

// holdFor keeps s set aside for at least d from now (the Retry-After of a
// 429): a rate-limited server gets no request before its limit resets.
func (f *fleet) holdFor(s *server, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at := f.now().Add(d); s.fails > 0 && at.After(s.retryAt) {
		s.retryAt = at
	}
}

// otherUsable reports whether a server other than but may take a request
// now.
func (f *fleet) otherUsable(but *server) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, s := range f.servers {
		if s != but && f.usable(s, now) {
			return true
		}
	}
	return false
}

// failures lists the failing servers and why, for the error of a request
// that every server failed.
func (f *fleet) failures() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for _, s := range f.servers {
		if s.fails > 0 {
			parts = append(parts, fmt.Sprintf("%s (%d failures in a row, last: %s)", s.shown, s.fails, s.lastErr))
		}
	}
	return strings.Join(parts, "; ")
}

// primary is the base URL go-openai builds request URLs with.
func (f *fleet) primary() string { return f.servers[0].url }

// size is the number of servers.
func (f *fleet) size() int { return len(f.servers) }

// route returns req aimed at s: its URL's primary base URL replaced by s's,
// and s's base URL query (Azure's ?api-version=) added. The request is
// returned as is for a primary server without a query, or a URL outside it.
func (f *fleet) route(req *http.Request, s *server) (*http.Request, error) {
	from := req.URL.String()
	rest, ok := strings.CutPrefix(from, f.primary())
	if !ok || (s == f.servers[0] && len(s.query) == 0) {
		return req, nil
	}
	u, err := url.Parse(s.url + rest)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.shown, err)
	}
	if len(s.query) > 0 {
		q := u.Query()
		for k, vs := range s.query {
			if !q.Has(k) {
				q[k] = vs
			}
		}
		u.RawQuery = q.Encode()
	}
	r := req.Clone(req.Context())
	r.URL, r.Host = u, u.Host
	return r, nil
}

// splitQuery parts a base URL into the base that request paths are
// appended to (no trailing slash, no query) and its query, which goes on
// every request: "https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21"
// is the base ".../deployments/d" and api-version.
func splitQuery(u string) (string, url.Values) {
	base, raw, ok := strings.Cut(u, "?")
	base = strings.TrimRight(base, "/")
	if !ok || raw == "" {
		return base, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil || len(q) == 0 {
		return base, nil
	}
	return base, q
}

// serverFailure says why an attempt counts against its server, "" when it
// does not: the server could not be reached or reset the connection, took
// too long, answered 5xx or 408, sent a body cut off or not JSON, or
// answered with a status that is the server's and not the request's (see
// [serverStatus]). Other answers (400, 422: the request's own faults) are
// the server working as it should.
func serverFailure(err error, resp *http.Response, bad string) string {
	switch {
	case err != nil:
		return err.Error()
	case resp == nil:
		return ""
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Sprintf("status %d", resp.StatusCode)
	case serverStatus(resp.StatusCode):
		if msg := errorMessage(resp); msg != "" {
			return fmt.Sprintf("status %d: %s", resp.StatusCode, msg)
		}
		return fmt.Sprintf("status %d", resp.StatusCode)
	case bad != "":
		return bad
	}
	return ""
}

// serverStatus reports whether a 4xx answer is the server's rather than the
// request's: every server of a fleet gets the same request, so a 429 (this
// server is rate-limited), a 404 (this server lacks the model or the
// endpoint), a 401 or a 403 (this server refuses the key) says something of
// the server, and another server may well answer.
func serverStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// errorMessage peeks at an error answer's body for the API's error message
// (OpenAI's {"error": {"message"}}, vLLM's {"message"}, Ollama's
// {"error": "..."}) and puts the body back; "" when there is none.
func errorMessage(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	var inner struct {
		Message string `json:"message"`
	}
	var plain string
	msg := v.Message
	switch {
	case json.Unmarshal(v.Error, &inner) == nil && inner.Message != "":
		msg = inner.Message
	case json.Unmarshal(v.Error, &plain) == nil && plain != "":
		msg = plain
	}
	msg = strings.TrimRight(strings.TrimSpace(msg), ". ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// CheckBaseURLs returns the base URLs of a fleet without trailing slashes,
// or says which one is not an http(s) URL or is listed twice.
func CheckBaseURLs(urls []string) ([]string, error) {
	var out []string
	for _, raw := range urls {
		u := strings.TrimRight(strings.TrimSpace(raw), "/")
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("openai: base URL %q is not an http:// or https:// URL", raw)
		}
		if slices.Contains(out, u) {
			return nil, fmt.Errorf("openai: base URL %s is listed twice", u)
		}
		out = append(out, u)
	}
	return out, nil
}
