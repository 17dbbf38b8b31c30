package llm

import (
	"context"
	"errors"
)

// PredictPool answers reqs by calling predict from n goroutines (at least 1,
// at most len(reqs)). It keeps the contract of [BatchPredictor.PredictBatch]:
// exactly one [Result] per request, in completion order; when ctx is
// cancelled, the requests not yet started are sent with ctx's error; the
// channel is closed after the last result, and the caller must drain it. It
// is unbuffered: a worker takes its next request only once its last result
// is read, so a caller that cancels on what it reads (the runner stops a
// model whose first answers all fail) stops the pool within n requests. A nil
// prediction without an error becomes an error, so callers never record an
// empty answer.
//
// It is the one worker pool of vlmcmp: the comparison runner uses it for
// backends that do not batch, and the OpenAI backend for PredictBatch.
func PredictPool(ctx context.Context, reqs []*Request, n int, predict func(context.Context, *Request) (*Prediction, error)) <-chan Result {
	out := make(chan Result)
	n = min(max(n, 1), max(len(reqs), 1))
	go func() {
		defer close(out)
		jobs := make(chan *Request)
		done := make(chan struct{})
		for range n {
			go func() {
				defer func() { done <- struct{}{} }()
				for r := range jobs {
					pred, err := predict(ctx, r)
					if err == nil && pred == nil {
						err = errors.New("backend returned no prediction")
					}
					out <- Result{Request: r, Prediction: pred, Err: err}
				}
			}()
		}
		i := 0
	feed:
		for ; i < len(reqs) && ctx.Err() == nil; i++ {
			select {
			case jobs <- reqs[i]:
			case <-ctx.Done():
				break feed
			}
		}
		close(jobs)
		for range n {
			<-done
		}
		for ; i < len(reqs); i++ {
			out <- Result{Request: reqs[i], Err: ctx.Err()}
		}
	}()
	return out
}
