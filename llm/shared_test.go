package llm

import (
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func writePNG(t *testing.T, w, h int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return path
}

// Takers of one key share one value, made once, dropped when the last
// wanted taker has it; a taker after that makes it again.
func TestSharedImageTake(t *testing.T) {
	s := NewSharedImage(writePNG(t, 3, 2))
	s.SetWant("k", 3)
	var made, dropped atomic.Int32
	mk := func() (any, error) { made.Add(1); return "emb", nil }
	drop := func(any) { dropped.Add(1) }
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			v, _, err := s.Take("k", "k|img", mk, drop)
			if err != nil || v != "emb" {
				t.Errorf("Take = %v, %v; want emb", v, err)
			}
		})
	}
	wg.Wait()
	if made.Load() != 1 || dropped.Load() != 1 {
		t.Errorf("made %d, dropped %d; want 1 and 1", made.Load(), dropped.Load())
	}
	if _, m, _ := s.Take("k", "k|img", mk, drop); !m || made.Load() != 2 {
		t.Errorf("a fourth taker: made %v (total %d); want it made again", m, made.Load())
	}
	img, format, err := s.Decode()
	if err != nil || format != "png" || img.Bounds().Dx() != 3 {
		t.Errorf("Decode = %v, %q, %v", img, format, err)
	}
}

// Release drops what no taker came for, once, and a failed make is not kept.
func TestSharedImageRelease(t *testing.T) {
	s := NewSharedImage(writePNG(t, 1, 1))
	s.SetWant("k", 2)
	var dropped atomic.Int32
	drop := func(any) { dropped.Add(1) }
	if _, _, err := s.Take("k", "p", func() (any, error) { return nil, errors.New("boom") }, drop); err == nil {
		t.Fatal("a failed make returned no error")
	}
	if _, made, err := s.Take("k", "p", func() (any, error) { return 1, nil }, drop); err != nil || !made {
		t.Fatalf("after a failure: made %v, %v; want made again", made, err)
	}
	s.Release()
	s.Release()
	if dropped.Load() != 1 {
		t.Errorf("dropped %d times, want 1", dropped.Load())
	}
	if _, err := NewSharedImage(filepath.Join(t.TempDir(), "none.png")).Hash(); err == nil {
		t.Error("Hash of a missing file: no error")
	}
}

// The pixels are decoded once for the decoders expected (DecodeKey's
// want), dropped after the last, and decoded again for a caller after that.
func TestSharedImageDecodeOnce(t *testing.T) {
	s := NewSharedImage(writePNG(t, 4, 3))
	s.SetWant(DecodeKey, 2)
	a, _, err := s.Decode()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := s.Decode()
	if a != b {
		t.Error("the second decoder got other pixels: decoded twice")
	}
	if len(s.parts) != 0 {
		t.Error("the pixels are kept after the last decoder")
	}
	c, _, err := s.Decode()
	if err != nil || c == nil || c.Bounds().Dx() != 4 {
		t.Errorf("a late decoder got %v, %v", c, err)
	}
	bad := NewSharedImage(filepath.Join(t.TempDir(), "none.png"))
	if _, _, err := bad.Decode(); err == nil {
		t.Error("Decode of a missing file: no error")
	}
}
