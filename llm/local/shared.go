package local

import (
	"encoding/hex"
	"fmt"
	"os"
	"sync"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imageprep"
)

// Sharing image embeddings between the models of one run
//
// A base model and its LoRA fine-tune share one projector file (llama.cpp
// applies adapters to the language model only), so each image needs one
// vision encoding for both. When the comparison runner hands the models a
// request with a shared image (llm.Request.Shared, one per image of the
// run in flight), the first model to need the image's embedding encodes it
// and keeps it on the shared image; each other model of the same share key
// (ShareKey: the projector, its image settings and the encoding device)
// takes it from there, and it is dropped as soon as every model that will
// ask has taken it, or when the runner releases the image. The runner moves
// the models through the images together and bounds the images in flight,
// so the embeddings held at once are bounded by that window, whatever the
// number of images. SharedEmbeddings counts them.
//
// Requests without a shared image (vlmcmp predict, bench) use the
// process's first-come embedding cache (embedcache.go) as before.

var _ llm.Sharer = (*Predictor)(nil)

// ShareKey is the key under which the predictor shares image embeddings
// with the other predictors of a run (see llm.Sharer): its projector key,
// "" when it shares none (Config.EmbeddingCacheMiB negative, or replicas
// that encode on different devices).
func (p *Predictor) ShareKey() string {
	k := p.replicas[0].embeds
	for _, r := range p.replicas[1:] {
		if r.embeds != k {
			return ""
		}
	}
	return k
}

// SharedEmbeddingStats counts the image embeddings held on shared images
// (see above), over the process.
type SharedEmbeddingStats struct {
	Made   int   // embeddings encoded for a shared image
	Taken  int   // takes by a model that did not encode it
	Live   int   // held now
	Peak   int   // most held at once
	Bytes  int64 // memory held now
	PeakMB float64
}

var sharedEmbeds struct {
	sync.Mutex
	s         SharedEmbeddingStats
	peakBytes int64
}

// SharedEmbeddings returns the process's shared embedding counts.
func SharedEmbeddings() SharedEmbeddingStats {
	sharedEmbeds.Lock()
	defer sharedEmbeds.Unlock()
	s := sharedEmbeds.s
	s.PeakMB = float64(sharedEmbeds.peakBytes) / (1 << 20)
	return s
}

// ResetSharedEmbeddings sets the counts to zero (Live and Bytes stay: they
// are what is held).
func ResetSharedEmbeddings() {
	sharedEmbeds.Lock()
	defer sharedEmbeds.Unlock()
	s := &sharedEmbeds.s
	s.Made, s.Taken, s.Peak = 0, 0, s.Live
	sharedEmbeds.peakBytes = s.Bytes
}

func heldEmbedding(e embedding, delta int) {
	sharedEmbeds.Lock()
	defer sharedEmbeds.Unlock()
	s := &sharedEmbeds.s
	s.Live += delta
	s.Bytes += int64(delta * e.Bytes())
	if delta > 0 {
		s.Made++
		s.Peak = max(s.Peak, s.Live)
		sharedEmbeds.peakBytes = max(sharedEmbeds.peakBytes, s.Bytes)
	}
}

// sharing reports whether j's embedding is shared through its request's
// shared image.
func (r *replica) sharing(j *job) bool {
	return r.embeds != "" && j.req.Shared != nil
}

// encodeShared gives j its image's embedding from its shared image,
// encoding it when no other model of the share key has (see above).
func (r *replica) encodeShared(j *job) error {
	part := r.embeds + "|" + hex.EncodeToString(j.img[:])
	val, made, err := j.req.Shared.Take(r.embeds, part, func() (any, error) {
		emb, err := r.encodeNow(j)
		if err != nil {
			return nil, err
		}
		heldEmbedding(emb, 1)
		return emb, nil
	}, func(v any) { heldEmbedding(v.(embedding), -1) })
	if err != nil {
		return err
	}
	j.emb = val.(embedding)
	if !made {
		sharedEmbeds.Lock()
		sharedEmbeds.s.Taken++
		sharedEmbeds.Unlock()
		r.p.addStats(func(s *Stats) { s.EmbeddingHits++ })
	}
	return nil
}

// prepareImage returns the pixels the encoder gets for j's image
// (imagePlan.prepareImage). With a shared image the file is read once per
// run, and the models of one share key with the same image options
// prepare it once: the first makes it, the others take it, and it is
// dropped as their embeddings are. Errors name the image.
func (r *replica) prepareImage(j *job) (*imageprep.Result, error) {
	req, pl := j.req, r.p.cfg.plan
	res, err := func() (*imageprep.Result, error) {
		if req.Image != nil || req.Shared == nil {
			data := req.Image
			if data == nil {
				if req.ImagePath == "" {
					return nil, fmt.Errorf("request %q has no image", req.ID)
				}
				var err error
				if data, err = os.ReadFile(req.ImagePath); err != nil {
					return nil, fmt.Errorf("read image: %w", err)
				}
			}
			return pl.prepareOnly(data)
		}
		mk := func() (any, error) {
			data, err := req.Shared.Data()
			if err != nil {
				return nil, err
			}
			return pl.prepareOnly(data)
		}
		if r.embeds == "" {
			v, err := mk()
			if err != nil {
				return nil, err
			}
			return v.(*imageprep.Result), nil
		}
		v, _, err := req.Shared.Take(r.embeds, r.embeds+"|pixels|"+pl.shareKey(), mk, nil)
		if err != nil {
			return nil, err
		}
		return v.(*imageprep.Result), nil
	}()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", j.name(), err)
	}
	pl.count(res)
	return res, nil
}
