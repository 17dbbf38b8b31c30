package local

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// DefaultEmbeddingCacheMiB is the memory the process keeps image
// embeddings in when Config.EmbeddingCacheMiB is 0.
const DefaultEmbeddingCacheMiB = 1024

// embedCache keeps the vision encoder's output for reuse by every
// Predictor of the process. The common comparison is a base model against
// its LoRA fine-tune: two models, one projector file (llama.cpp applies
// LoRA adapters to the language model only), so the second model's images
// need not be encoded again; a second pass over the same images (another
// prompt, a rerun in the same process) likewise.
//
// An entry is found by the projector's identity and the image's pixels
// (embedKey). It is kept until the process ends; once the budget is spent
// nothing more is added: passes that ask for the same images one after
// the other in the same order would see least-recently-used eviction throw
// out each entry just before it is asked for again, so keeping the first
// images gives hits for as many as fit. A comparison does not use it: its
// models run at once over the run's shared images, and share each
// embedding through them (shared.go), at any number of images.
type embedCache struct {
	mu     sync.Mutex
	budget int64 // bytes
	used   int64
	m      map[embedKey]embedding
}

// embedKey identifies an embedding: the projector (file, settings and the
// device that encodes: another backend rounds differently, and the
// answers must not depend on whether the cache was used) and the image as
// the encoder gets it (size and RGB pixels).
type embedKey struct {
	proj string
	img  [sha256.Size]byte
}

// processEmbeddings is the process's cache.
var processEmbeddings = &embedCache{m: map[embedKey]embedding{}}

// grow raises the budget to mib MiB when it is lower: predictors sharing
// the cache get the largest budget one of them asked for.
func (c *embedCache) grow(mib int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget = max(c.budget, int64(mib)<<20)
}

func (c *embedCache) get(k embedKey) (embedding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

// put keeps e under k if k is new and e fits in the budget.
func (c *embedCache) put(k embedKey, e embedding) {
	n := int64(e.Bytes())
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok || c.used+n > c.budget {
		return
	}
	c.m[k] = e
	c.used += n
}

// projectorKey is the projector part of an embedKey for cfg (filled) on
// the given encoder device: the file by absolute path, size and
// modification time, and the settings that change what the encoder makes
// of an image.
func projectorKey(cfg *Config, device string, gpu bool) (string, error) {
	path, err := filepath.Abs(cfg.MmprojFile)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s|%d|%d|tokens %d-%d|flash %s|gpu %v %s", path, fi.Size(), fi.ModTime().UnixNano(),
		cfg.ImageMinTokens, cfg.ImageMaxTokens, cfg.FlashAttention, gpu, device), nil
}

// imageKey hashes an image as the encoder gets it: w×h packed RGB.
func imageKey(w, h int, rgb []byte) [sha256.Size]byte {
	d := sha256.New()
	var dims [16]byte
	binary.LittleEndian.PutUint64(dims[:8], uint64(w))
	binary.LittleEndian.PutUint64(dims[8:], uint64(h))
	d.Write(dims[:])
	d.Write(rgb)
	var k [sha256.Size]byte
	d.Sum(k[:0])
	return k
}
