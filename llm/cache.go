package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Cache is a response cache on disk: one small JSON file per answer, named by
// a hash of everything that determines the answer (see [CacheKey]), so that a
// rerun pays for nothing it already has. Only successful predictions are
// stored. A Cache is safe for concurrent use by several goroutines and
// processes: files are written to a temporary name and renamed.
type Cache struct {
	dir  string
	note string
}

// CacheDirEnv overrides the default cache folder.
const CacheDirEnv = "VLMCMP_CACHE_DIR"

// DefaultCacheDir is $VLMCMP_CACHE_DIR, else vlmcmp/responses under the
// user's cache folder (os.UserCacheDir).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("response cache: %w (set %s)", err, CacheDirEnv)
	}
	return filepath.Join(d, "vlmcmp", "responses"), nil
}

// OpenCache uses dir as a cache, creating it if needed.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("response cache: %w", err)
	}
	c := &Cache{dir: dir}
	c.note = c.checkFormat()
	return c, nil
}

// cacheFormatFile records the key version of the answers in a cache
// folder, so that answers stored under an older key are known to be there.
const cacheFormatFile = "FORMAT"

// checkFormat writes the folder's format and says, in one line, when it
// holds answers of an older one: those are never read again (their keys
// cannot match), and the user should know why nothing is cached.
func (c *Cache) checkFormat() string {
	path := filepath.Join(c.dir, cacheFormatFile)
	want := fmt.Sprintf("vlmcmp response cache, key version %d\n", cacheKeyVersion)
	got, err := os.ReadFile(path)
	if err == nil && string(got) == want {
		return ""
	}
	note := ""
	if ents, _ := os.ReadDir(c.dir); len(ents) > 0 && !(len(ents) == 1 && ents[0].Name() == cacheFormatFile) {
		note = fmt.Sprintf("response cache %s: answers stored by an older vlmcmp are not used (their key did not name the model by content); delete them to free the space", c.dir)
	}
	if os.WriteFile(path+".tmp", []byte(want), 0o644) == nil {
		os.Rename(path+".tmp", path)
	}
	return note
}

// Note is one line for the user about the cache as it was opened (answers
// of an older vlmcmp that will not be used), or "".
func (c *Cache) Note() string { return c.note }

// Dir is the cache's folder.
func (c *Cache) Dir() string { return c.dir }

// cacheKeyVersion changes when the key's contents change, orphaning old
// entries rather than misreading them.
// Version 2: the identity is the hash of the model's identity (eval/backend),
// which names its files by content; version 1 named them by path, size and
// modification time, and answered for a file replaced keeping those.
const cacheKeyVersion = 2

// CacheKey hashes what determines an answer: identity (the key of the
// model's identity: its backend, its files by content and every setting that
// changes answers), the prompt, the system prompt, the decoding options
// and imageHash, the SHA-256 of the image bytes.
func CacheKey(identity string, req *Request, imageHash string) string {
	k, _ := json.Marshal(struct {
		V        int     `json:"v"`
		Identity string  `json:"identity"`
		Prompt   string  `json:"prompt"`
		System   string  `json:"system"`
		Options  Options `json:"options"`
		Image    string  `json:"image"`
	}{cacheKeyVersion, identity, req.Prompt, req.System, req.Options, imageHash})
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:])
}

// ImageHash is the hex SHA-256 of the request's image: Image when set, else
// the file at ImagePath, streamed.
func ImageHash(req *Request) (string, error) {
	if req.Image == nil && req.Shared != nil {
		return req.Shared.Hash()
	}
	h := sha256.New()
	if req.Image != nil {
		h.Write(req.Image)
	} else {
		f, err := os.Open(req.ImagePath)
		if err != nil {
			return "", fmt.Errorf("read image: %w", err)
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("read image %s: %w", req.ImagePath, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key+".json")
}

// Get returns the stored prediction for key, with Cached set.
func (c *Cache) Get(key string) (*Prediction, bool) {
	data, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	var p Prediction
	if err := json.Unmarshal(data, &p); err != nil {
		slog.Debug("response cache: unreadable entry ignored", "file", c.path(key), "err", err)
		return nil, false
	}
	p.Cached = true
	return &p, true
}

// Put stores p under key.
func (c *Cache) Put(key string, p *Prediction) error {
	q := *p
	q.Cached = false
	data, err := json.Marshal(&q)
	if err != nil {
		return fmt.Errorf("response cache: %w", err)
	}
	path := c.path(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("response cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), key+".tmp*")
	if err != nil {
		return fmt.Errorf("response cache: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("response cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("response cache: %w", err)
	}
	return nil
}

// WithCache returns a Predictor that answers from c when it can and stores
// what p answers. identity must name everything about p that changes its
// answers (see [CacheKey]). The result implements [BatchPredictor] exactly
// when p does: cached answers are sent at once and the rest go to p's
// PredictBatch.
func WithCache(p Predictor, c *Cache, identity string) Predictor {
	cp := &cachedPredictor{inner: p, cache: c, identity: identity}
	if bp, ok := p.(BatchPredictor); ok {
		return &cachedBatchPredictor{cachedPredictor: cp, batch: bp}
	}
	return cp
}

type cachedPredictor struct {
	inner    Predictor
	cache    *Cache
	identity string
}

func (c *cachedPredictor) key(req *Request) (string, error) {
	h, err := ImageHash(req)
	if err != nil {
		return "", err
	}
	return CacheKey(c.identity, req, h), nil
}

func (c *cachedPredictor) store(key string, p *Prediction) {
	if err := c.cache.Put(key, p); err != nil {
		slog.Debug("response cache: store failed", "err", err)
	}
}

// Predict answers from the cache or from the wrapped predictor.
func (c *cachedPredictor) Predict(ctx context.Context, req *Request) (*Prediction, error) {
	key, err := c.key(req)
	if err != nil {
		return nil, err
	}
	if p, ok := c.cache.Get(key); ok {
		return p, nil
	}
	p, err := c.inner.Predict(ctx, req)
	if err == nil && p != nil {
		c.store(key, p)
	}
	return p, err
}

// Unwrap returns the wrapped predictor, whose optional interfaces (its
// parallel sequences, its share key) the runner looks for.
func (c *cachedPredictor) Unwrap() Predictor { return c.inner }

// Close closes the wrapped predictor when it is an io.Closer.
func (c *cachedPredictor) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

type cachedBatchPredictor struct {
	*cachedPredictor
	batch BatchPredictor
}

// PredictBatch sends cached answers and unreadable images first, then
// forwards the rest to the wrapped predictor.
func (c *cachedBatchPredictor) PredictBatch(ctx context.Context, reqs []*Request) <-chan Result {
	out := make(chan Result)
	go func() {
		defer close(out)
		keys := make(map[*Request]string, len(reqs))
		var misses []*Request
		for _, req := range reqs {
			key, err := c.key(req)
			if err != nil {
				out <- Result{Request: req, Err: err}
				continue
			}
			if p, ok := c.cache.Get(key); ok {
				out <- Result{Request: req, Prediction: p}
				continue
			}
			keys[req] = key
			misses = append(misses, req)
		}
		if len(misses) == 0 {
			return
		}
		for r := range c.batch.PredictBatch(ctx, misses) {
			if r.Err == nil && r.Prediction != nil {
				c.store(keys[r.Request], r.Prediction)
			}
			out <- r
		}
	}()
	return out
}
