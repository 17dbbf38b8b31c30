package llm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func poolRequests(n int) []*Request {
	reqs := make([]*Request, n)
	for i := range reqs {
		reqs[i] = &Request{ID: fmt.Sprint(i)}
	}
	return reqs
}

func TestPredictPool(t *testing.T) {
	tests := []struct {
		name    string
		reqs, n int
	}{
		{"more requests than workers", 20, 3},
		{"more workers than requests", 2, 8},
		{"no workers asked for", 5, 0},
		{"no requests", 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inFlight, peak atomic.Int32
			predict := func(ctx context.Context, r *Request) (*Prediction, error) {
				now := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				if r.ID == "1" {
					return nil, nil // no prediction, no error
				}
				return &Prediction{Text: r.ID}, nil
			}
			seen := map[string]bool{}
			for res := range PredictPool(context.Background(), poolRequests(tt.reqs), tt.n, predict) {
				if seen[res.Request.ID] {
					t.Fatalf("request %s answered twice", res.Request.ID)
				}
				seen[res.Request.ID] = true
				switch {
				case res.Request.ID == "1" && res.Err == nil:
					t.Errorf("a nil prediction came back without an error")
				case res.Request.ID != "1" && (res.Err != nil || res.Prediction.Text != res.Request.ID):
					t.Errorf("request %s: got %+v, %v", res.Request.ID, res.Prediction, res.Err)
				}
			}
			if len(seen) != tt.reqs {
				t.Errorf("got %d results for %d requests", len(seen), tt.reqs)
			}
			if want := int32(max(tt.n, 1)); peak.Load() > want {
				t.Errorf("%d calls in flight, want at most %d", peak.Load(), want)
			}
		})
	}
}

func TestPredictPoolCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 100)
	predict := func(ctx context.Context, r *Request) (*Prediction, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	out := PredictPool(ctx, poolRequests(50), 2, predict)
	<-started
	cancel()
	n := 0
	for res := range out {
		n++
		if !errors.Is(res.Err, context.Canceled) {
			t.Errorf("request %s: err %v, want context.Canceled", res.Request.ID, res.Err)
		}
	}
	if n != 50 {
		t.Errorf("got %d results after cancel, want one per request (50)", n)
	}
	// The 2 workers' first requests, and at most one the feeder handed
	// over as the cancel arrived.
	if len(started) > 3 {
		t.Errorf("%d requests started, want at most 3", len(started))
	}
}
