package local

import (
	"bytes"
	"fmt"
	"image/png"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// Helpers shared by the tests on the real engine (llamacpp tag) and on the
// fake one.

// streetPNG draws street scene i at w×h as PNG.
func streetPNG(t testing.TB, i, w, h int) []byte {
	t.Helper()
	sc := demo.Scene{Daylight: float64(i%5) / 4, Lights: i % 6, Greenery: float64(i%3) / 2,
		RoadWidth: 0.2 + 0.05*float64(i%8), Clutter: float64(i%4) / 3, Windows: float64(i%7) / 6, BuildingsH: 0.3 + 0.06*float64(i%9)}
	var b bytes.Buffer
	if err := png.Encode(&b, imagefile.Resize(demo.Draw(sc, uint64(i)), w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// requests makes n requests over distinct synthetic images.
func requests(t testing.TB, n int) []*llm.Request {
	t.Helper()
	reqs := make([]*llm.Request, n)
	for i := range reqs {
		reqs[i] = &llm.Request{ID: fmt.Sprintf("img-%d", i), Image: streetPNG(t, i, 112, 84),
			Prompt: "Rate how safe this street looks from 1 to 10.", System: "You rate street safety."}
	}
	return reqs
}

// collect drains a batch, checking that every request gets exactly one
// result naming it, and returns the results by ID.
func collect(t testing.TB, reqs []*llm.Request, ch <-chan llm.Result) map[string]llm.Result {
	t.Helper()
	byPtr := map[*llm.Request]bool{}
	for _, r := range reqs {
		byPtr[r] = true
	}
	got := map[string]llm.Result{}
	for res := range ch {
		if res.Request == nil || !byPtr[res.Request] {
			t.Errorf("result for a request not in the batch: %+v", res)
			continue
		}
		if _, dup := got[res.Request.ID]; dup {
			t.Errorf("second result for %s", res.Request.ID)
		}
		if (res.Err == nil) == (res.Prediction == nil) {
			t.Errorf("%s: result has err %v and prediction %v: want exactly one", res.Request.ID, res.Err, res.Prediction)
		}
		got[res.Request.ID] = res
	}
	if len(got) != len(reqs) {
		t.Errorf("got %d results for %d requests", len(got), len(reqs))
	}
	return got
}

func texts(t testing.TB, got map[string]llm.Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range got {
		if r.Err != nil {
			t.Errorf("%s: %v", id, r.Err)
			continue
		}
		out[id] = r.Prediction.Text
	}
	return out
}

// tokenized makes req's chunks for e as the preparer does (cfg's chat
// prompt, the image decoded to RGB); they are closed when the test ends.
func tokenized(tb testing.TB, cfg *Config, e engine, req *llm.Request) chunks {
	tb.Helper()
	img, _, err := imagefile.Decode(req.Image)
	if err != nil {
		tb.Fatal(err)
	}
	prompt, err := chatPrompt(cfg, e, req)
	if err != nil {
		tb.Fatal(err)
	}
	w, h, rgb := imagefile.RGB(img)
	ch, err := e.Tokenize(prompt, w, h, rgb)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ch.Close() })
	return ch
}
