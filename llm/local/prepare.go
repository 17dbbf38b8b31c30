package local

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/native"
)

// prepare is a replica's preparing goroutine: it takes queued requests in
// order, readies each (image file to mtmd chunks, and the image embedding
// when encoding ahead) and hands it to the replica's owner over r.ready,
// which holds up to P requests, so that preparation runs at most P requests
// ahead of the sequences.
func (r *replica) prepare() {
	p := r.p
	defer p.wg.Done()
	for {
		j := r.take()
		if j == nil {
			select {
			case <-p.quit.Done():
				return
			case <-r.wake:
				continue
			}
		}
		if err := j.ctx.Err(); err != nil {
			j.answer(nil, err)
			continue
		}
		if err := r.ready1(j); err != nil {
			j.answer(nil, err)
			continue
		}
		select {
		case r.ready <- j:
		case <-j.ctx.Done():
			j.answer(nil, j.ctx.Err())
		case <-p.quit.Done():
			j.answer(nil, ErrClosed)
			return
		}
	}
}

// take removes the oldest queued request that r may run (one its engine
// has not failed) and charges it to r, or returns nil. A replica whose
// sequences are all taken takes a request ahead, to prepare it while it
// decodes, only when no other replica has more room: a replica with a free
// sequence gets the next request.
func (r *replica) take() *job {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.broken() {
		return nil
	}
	if r.load >= r.parallel {
		for _, o := range p.replicas {
			if o.load-o.parallel < r.load-r.parallel {
				return nil
			}
		}
	}
	for i, j := range p.queue {
		if slices.Contains(j.failedOn, r.id) {
			continue
		}
		if i == 0 {
			// The common case, in O(1): a run may queue 100k requests.
			p.queue[0] = nil
			p.queue = p.queue[1:]
		} else {
			p.queue = slices.Delete(p.queue, i, i+1)
		}
		r.load++
		r.taken++
		j.rep = r
		return j
	}
	return nil
}

// brokenAfter is how many requests in a row a replica's engine may fail
// (each then run by another replica) before the replica stops taking
// requests while another replica is not broken: a lost GPU would otherwise
// take its share of every batch only to hand it back.
const brokenAfter = 3

// broken reports whether r sits out: its engine failed brokenAfter requests
// in a row, and some other replica's has not. When every replica is broken
// they all take requests again (each then fails, or answers and is whole
// again). p.mu is held.
func (r *replica) broken() bool {
	if r.failures < brokenAfter {
		return false
	}
	for _, o := range r.p.replicas {
		if o != r && o.failures < brokenAfter {
			return true
		}
	}
	return false
}

// ready1 decodes j's image, builds its prompt and tokenizes it; with
// encoding ahead it also runs the vision encoder. Errors name the image.
func (r *replica) ready1(j *job) error {
	p := r.p
	j.started = time.Now()
	req := j.req
	name := j.name()
	t0 := time.Now()
	// Decode, orient, flatten and resample in Go (imageprep), so that
	// mtmd only copies the pixels.
	img, err := r.prepareImage(j) // shared.go: the file read once per run when shared
	if err != nil {
		return err
	}
	prompt, err := chatPrompt(&p.cfg, r.eng, req)
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	w, h, rgb := img.Width, img.Height, img.Pix
	if r.embeds != "" {
		j.img = imageKey(w, h, rgb)
	}
	t1 := time.Now()
	j.chunks, err = r.eng.Tokenize(prompt, w, h, rgb)
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	t2 := time.Now()
	p.addStats(func(s *Stats) { s.ImageDecode += t1.Sub(t0); s.Tokenize += t2.Sub(t1) })
	p.traced("imagedecode", t0, t1.Sub(t0), 0, 0)
	p.traced("tokenize", t1, t2.Sub(t1), 0, 0)
	j.imageAt = -1
	for i := range j.chunks.Len() {
		if j.chunks.Kind(i) == native.ChunkImage {
			j.imageAt = i
			break
		}
	}
	if j.imageAt < 0 {
		return fmt.Errorf("image %s: the prompt has no image chunk", name)
	}
	if n := j.chunks.TotalTokens(); n+1 > p.cfg.ContextSize {
		return fmt.Errorf("image %s: the prompt takes %d tokens (image %d), more than the %d a sequence holds: raise the context size or lower the image max tokens",
			name, n, j.chunks.NTokens(j.imageAt), p.cfg.ContextSize)
	}
	if j.grammar, err = p.grammarFor(req.Options); err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	if r.ahead && !r.cached(j) {
		if r.lend {
			// Wait for a decode on the encoder's threads to end.
			r.cores.Lock()
			defer r.cores.Unlock()
		}
		if err := r.encode(j); err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
	}
	return nil
}

// cached gives j its image's embedding from the process's cache when it
// holds it, and reports whether it did.
func (r *replica) cached(j *job) bool {
	if r.embeds == "" || r.sharing(j) {
		return false
	}
	emb, ok := processEmbeddings.get(embedKey{proj: r.embeds, img: j.img})
	if !ok {
		return false
	}
	j.emb = emb
	r.p.addStats(func(s *Stats) { s.EmbeddingHits++ })
	return true
}

// encode gives j its image's embedding: through its shared image when the
// run shares it (shared.go), else encoded now and kept in the process's
// cache. Callers look in the cache first (cached).
func (r *replica) encode(j *job) error {
	if r.sharing(j) {
		return r.encodeShared(j)
	}
	emb, err := r.encodeNow(j)
	if err != nil {
		return err
	}
	if r.embeds != "" {
		processEmbeddings.put(embedKey{proj: r.embeds, img: j.img}, emb)
	}
	j.emb = emb
	return nil
}

// encodeNow runs the vision encoder on j's image and records it in j's
// timings and the stats.
func (r *replica) encodeNow(j *job) (embedding, error) {
	end := r.turn(r.p.cfg.EncoderThreads) // cputurn.go
	emb, err := r.eng.Encode(j.chunks, j.imageAt)
	end()
	if err != nil {
		return nil, err
	}
	d := emb.EncodeTime()
	r.p.traced("encode", time.Now().Add(-d), d, 1, 0)
	j.timings.ImageEncodeMS = ms(d)
	r.p.addStats(func(s *Stats) { s.Images++; s.ImageEncode += d })
	return emb, nil
}

// templater renders a chat with the model's template (engine.Template).
type templater interface {
	Template(msgs []native.ChatMessage) (string, error)
}

// chatPrompt is the text given to mtmd for req: eng's chat template
// applied to the system prompt and the user turn (the media marker, then
// the prompt; the other way round with cfg.TextFirst), or the raw prompt
// with cfg.RawPrompt. The predictor and RenderPrompt both build it here.
func chatPrompt(cfg *Config, eng templater, req *llm.Request) (string, error) {
	if cfg.RawPrompt {
		if n := strings.Count(req.Prompt, native.MediaMarker); n != 1 {
			return "", fmt.Errorf("raw prompt has %d media markers %s, want exactly 1 where the image goes", n, native.MediaMarker)
		}
		return req.Prompt, nil
	}
	var msgs []native.ChatMessage
	if req.System != "" {
		msgs = append(msgs, native.ChatMessage{Role: "system", Content: req.System})
	}
	content := native.MediaMarker + req.Prompt
	if cfg.TextFirst && req.Prompt != "" {
		content = req.Prompt + native.MediaMarker
	}
	msgs = append(msgs, native.ChatMessage{Role: "user", Content: content})
	s, err := eng.Template(msgs)
	if err != nil {
		return "", fmt.Errorf("chat template of %s: %w", cfg.ModelFile, err)
	}
	return s, nil
}

// grammarFor returns the grammar for a request: its own, its schema's, or
// the default.
func (p *Predictor) grammarFor(o llm.Options) (string, error) {
	switch {
	case o.Grammar != "" && o.JSONSchema != "":
		return "", fmt.Errorf("request sets both a grammar and a json schema")
	case o.Grammar != "":
		return o.Grammar, nil
	case o.JSONSchema != "":
		return SchemaToGrammar(o.JSONSchema)
	}
	return p.grammar, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
