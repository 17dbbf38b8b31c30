package openaiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"
)

// doer is the HTTP doer go-openai sends every request through: limiter,
// per-attempt timeout, retries. It is safe for concurrent use.
type doer struct {
	client     *http.Client
	rpm, tpm   *rate.Limiter // nil: unlimited
	timeout    time.Duration // per attempt
	maxRetries int
	base, cap  time.Duration // backoff's first and largest interval
	key        string        // for redaction only
	fleet      *fleet        // the servers requests go to
	log        *slog.Logger
	sleep      func(ctx context.Context, d time.Duration) error
}

type (
	tokensKey   struct{}
	timeoutKey  struct{}
	progressKey struct{}
	servedKey   struct{}
	retryKey    struct{}
)

// withBeforeRetry has the doer call fn before each retry of the requests
// under ctx (after the backoff's wait); an error from fn ends the request
// with that error instead of sending it again. Uploads use it to find a
// file the server received although its answer never came.
func withBeforeRetry(ctx context.Context, fn func() error) context.Context {
	return context.WithValue(ctx, retryKey{}, fn)
}

// withServed has the doer write into *url the base URL of the server that
// answered the requests under ctx.
func withServed(ctx context.Context, url *string) context.Context {
	return context.WithValue(ctx, servedKey{}, url)
}

// Progress is told how many bytes of a request body have been sent of how
// many (total is -1 when unknown). It is called from the sending goroutine;
// a retried attempt starts again from 0.
type Progress func(sent, total int64)

// withAttemptTimeout gives the requests under ctx their own per-attempt
// timeout instead of the doer's; 0 means none but the context's.
func withAttemptTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, timeoutKey{}, d)
}

// withProgress reports the upload progress of the requests under ctx.
func withProgress(ctx context.Context, fn Progress) context.Context {
	if fn == nil {
		return ctx
	}
	return context.WithValue(ctx, progressKey{}, fn)
}

// withTokens tells the doer how many tokens the request will use, for the
// tokens-per-minute limiter.
func withTokens(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, tokensKey{}, n)
}

func newLimiter(perMinute int) *rate.Limiter {
	if perMinute <= 0 {
		return nil
	}
	// A burst of a tenth of a minute keeps a run from front-loading the
	// whole minute's budget and then stalling.
	burst := max(1, perMinute/10)
	return rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryable reports whether a status is worth retrying: rate limits,
// timeouts, lock conflicts and server errors. 400, 401, 403, 404 and 422 are
// the caller's to fix.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
		status == http.StatusConflict || status >= 500
}

// maxServerWait bounds a wait the server asks for, so that an absurd
// header cannot overflow a duration.
const maxServerWait = 24 * time.Hour

// retryAfter reads retry-after-ms or Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(h.Get("retry-after-ms"), 64); err == nil && ms >= 0 {
		return time.Duration(min(ms, float64(maxServerWait/time.Millisecond)) * float64(time.Millisecond)), true
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(min(s, float64(maxServerWait/time.Second)) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(0, t.Sub(now)), maxServerWait), true
	}
	return 0, false
}

// rateLimitReset reads, from a 429 without Retry-After, how long until the
// exhausted limit resets: x-ratelimit-reset-requests when no request is
// left, x-ratelimit-reset-tokens when no token is left (durations such as
// "1s", "6m0s", "17ms"), the longer when both are out.
func rateLimitReset(h http.Header) (time.Duration, bool) {
	var wait time.Duration
	found := false
	for _, kind := range []string{"requests", "tokens"} {
		if h.Get("x-ratelimit-remaining-"+kind) != "0" {
			continue
		}
		if d, err := time.ParseDuration(h.Get("x-ratelimit-reset-" + kind)); err == nil && d >= 0 {
			wait, found = max(wait, min(d, maxServerWait)), true
		}
	}
	return wait, found
}

// checkBody reads a 2xx JSON answer whole and puts it back, so that a body
// cut off on the way or not JSON at all is retried like a 5xx. It returns
// the reason the body is unusable, "" when it is fine.
func checkBody(resp *http.Response) string {
	if resp.StatusCode < 200 || resp.StatusCode >= 300 || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	switch {
	case err != nil:
		return "body cut off after " + strconv.Itoa(len(b)) + " bytes: " + err.Error()
	case !json.Valid(b):
		return "body is not JSON"
	}
	return ""
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tokens, _ := ctx.Value(tokensKey{}).(int)
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = d.base
	bo.MaxInterval = d.cap
	bo.Multiplier = 2
	bo.RandomizationFactor = 0.5
	bo.MaxElapsedTime = 0
	bo.Reset()
	sent, failovers := 0, 0
	for attempt := 0; ; attempt++ {
		if err := d.wait(ctx, tokens); err != nil {
			return nil, err
		}
		srv := d.fleet.acquire()
		resp, err := d.attempt(req, sent, srv)
		sent++
		if err != nil && ctx.Err() != nil {
			d.fleet.release(srv, "")
			return nil, ctx.Err()
		}
		var status int
		bad := ""
		if resp != nil {
			status = resp.StatusCode
			bad = checkBody(resp)
		}
		failure := serverFailure(err, resp, bad)
		d.fleet.release(srv, Redact(failure, d.key))
		if status == http.StatusTooManyRequests {
			// A rate-limited server takes nothing more until its limit
			// resets; the others take its requests meanwhile.
			if ra, ok := serverWait(resp); ok {
				d.fleet.holdFor(srv, ra)
			}
		}
		if failure != "" && failovers < d.fleet.size() && d.fleet.otherUsable(srv) {
			// Another server is healthy: try it at once, without using
			// up a retry.
			failovers++
			attempt--
			d.log.Debug("openai: server failed, trying another", "server", srv.shown, "path", req.URL.Path,
				"err", Redact(failure, d.key))
			discard(resp)
			continue
		}
		failovers = 0
		again := err != nil || retryable(status) || bad != ""
		if status == http.StatusTooManyRequests && isQuotaExhausted(resp) {
			again = false // waiting does not refill a quota
		}
		if !again || attempt >= d.maxRetries {
			if failure != "" && d.fleet.size() > 1 {
				discard(resp)
				return nil, fmt.Errorf("%s %s: %w: %s", req.Method, req.URL.Path, ErrEveryServerFailed, d.fleet.failures())
			}
			if err != nil {
				return nil, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, Redact(err.Error(), d.key))
			}
			if bad != "" && strings.HasPrefix(bad, "body cut off") {
				resp.Body.Close()
				return nil, fmt.Errorf("%s %s: %w: %s", req.Method, req.URL.Path, ErrMalformed, bad)
			}
			if u, ok := ctx.Value(servedKey{}).(*string); ok {
				*u = srv.url
			}
			return resp, nil
		}
		if bad != "" {
			err = fmt.Errorf("%w: %s", ErrMalformed, bad)
		}
		wait := bo.NextBackOff()
		if resp != nil {
			if ra, ok := serverWait(resp); ok {
				// The server's word, plus a little jitter so that many
				// waiting workers do not return in the same instant.
				wait = ra + time.Duration(rand.Int64N(int64(ra/10)+int64(10*time.Millisecond)))
			}
			discard(resp)
		}
		d.log.Debug("openai: retrying", "method", req.Method, "path", req.URL.Path, "server", srv.shown, "status", status,
			"err", errString(err, d.key), "attempt", attempt+1, "wait", wait)
		if err := d.sleep(ctx, wait); err != nil {
			return nil, err
		}
		if fn, ok := ctx.Value(retryKey{}).(func() error); ok {
			if err := fn(); err != nil {
				return nil, err
			}
		}
	}
}

// serverWait is how long the server asks to be left alone: its
// Retry-After, or for a 429 without one the reset of its exhausted limit.
func serverWait(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	ra, ok := retryAfter(resp.Header, time.Now())
	if !ok && resp.StatusCode == http.StatusTooManyRequests {
		ra, ok = rateLimitReset(resp.Header)
	}
	return ra, ok
}

// discard drains a little of an unused response's body and closes it.
func discard(resp *http.Response) {
	if resp == nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

func errString(err error, key string) string {
	if err == nil {
		return ""
	}
	return Redact(err.Error(), key)
}

func (d *doer) wait(ctx context.Context, tokens int) error {
	if d.rpm != nil {
		if err := d.rpm.Wait(ctx); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	if d.tpm != nil && tokens > 0 {
		n := min(tokens, d.tpm.Burst())
		if err := d.tpm.WaitN(ctx, n); err != nil {
			return fmt.Errorf("token rate limit: %w", err)
		}
	}
	return nil
}

// attempt sends one try of req to srv with its own timeout; n is how many
// tries were sent before. The timeout's cancel runs when the body is
// closed.
func (d *doer) attempt(req *http.Request, n int, srv *server) (*http.Response, error) {
	r, err := d.fleet.route(req, srv)
	if err != nil {
		return nil, err
	}
	if n > 0 && req.Body != nil {
		if req.GetBody == nil {
			return nil, errors.New("request body cannot be sent again")
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		if r == req {
			r = req.Clone(req.Context())
		}
		r.Body = body
	}
	timeout := d.timeout
	if t, ok := req.Context().Value(timeoutKey{}).(time.Duration); ok {
		timeout = t
	}
	if fn, ok := req.Context().Value(progressKey{}).(Progress); ok && r.Body != nil {
		if r == req {
			r = req.Clone(req.Context())
		}
		r.Body = &progressBody{ReadCloser: r.Body, fn: fn, total: req.ContentLength}
		fn(0, req.ContentLength)
	}
	ctx, cancel := context.WithCancel(req.Context())
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(req.Context(), timeout)
	}
	r = r.WithContext(ctx)
	resp, err := d.client.Do(r)
	if err != nil {
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && req.Context().Err() == nil {
			return nil, fmt.Errorf("no answer within %s", timeout)
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// progressBody counts the bytes read from a request body.
type progressBody struct {
	io.ReadCloser
	fn          Progress
	sent, total int64
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.sent += int64(n)
		b.fn(b.sent, b.total)
	}
	return n, err
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// isQuotaExhausted peeks at a 429's body for the insufficient_quota code and
// puts the body back.
func isQuotaExhausted(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return bytes.Contains(b, []byte("insufficient_quota"))
}
