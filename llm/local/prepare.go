package local

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
)

// prepare is the preparing goroutine: it takes queued requests in order,
// readies each (image file to mtmd chunks, and the image embedding when
// encoding ahead) and hands it to the owner over p.ready, which holds up to
// P requests, so that preparation runs at most P requests ahead of the
// sequences.
func (p *Predictor) prepare() {
	defer p.wg.Done()
	for {
		j := p.take()
		if j == nil {
			select {
			case <-p.quit.Done():
				return
			case <-p.wake:
				continue
			}
		}
		if err := j.ctx.Err(); err != nil {
			j.answer(nil, err)
			continue
		}
		if err := p.ready1(j); err != nil {
			j.answer(nil, err)
			continue
		}
		select {
		case p.ready <- j:
		case <-j.ctx.Done():
			j.answer(nil, j.ctx.Err())
		case <-p.quit.Done():
			j.answer(nil, ErrClosed)
			return
		}
	}
}

// take removes the oldest queued request, or returns nil.
func (p *Predictor) take() *job {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	j := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	return j
}

// ready1 decodes j's image, builds its prompt and tokenizes it; with
// encoding ahead it also runs the vision encoder. Errors name the image.
func (p *Predictor) ready1(j *job) error {
	j.started = time.Now()
	req := j.req
	name := j.name()
	data := req.Image
	if data == nil {
		if req.ImagePath == "" {
			return fmt.Errorf("request %q has no image", req.ID)
		}
		var err error
		if data, err = os.ReadFile(req.ImagePath); err != nil {
			return fmt.Errorf("read image: %w", err)
		}
	}
	t0 := time.Now()
	img, _, err := imagefile.Decode(data)
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	prompt, err := p.prompt(req)
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	w, h, rgb := imagefile.RGB(img)
	t1 := time.Now()
	j.chunks, err = p.eng.Tokenize(prompt, w, h, rgb)
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
	if p.ahead {
		if p.lend {
			// Wait for a decode on the encoder's threads to end.
			p.cores.Lock()
			defer p.cores.Unlock()
		}
		if err := p.encode(j); err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
	}
	return nil
}

// encode runs the vision encoder on j's image and records it in j's timings
// and the stats.
func (p *Predictor) encode(j *job) error {
	emb, err := p.eng.Encode(j.chunks, j.imageAt)
	if err != nil {
		return err
	}
	j.emb = emb
	d := emb.EncodeTime()
	p.traced("encode", time.Now().Add(-d), d, 1, 0)
	j.timings.ImageEncodeMS = ms(d)
	p.addStats(func(s *Stats) { s.Images++; s.ImageEncode += d })
	return nil
}

// prompt is the text given to mtmd: the chat template applied to the
// system prompt and the user turn (the media marker, then the prompt), or
// the raw prompt.
func (p *Predictor) prompt(req *llm.Request) (string, error) {
	if p.cfg.RawPrompt {
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
	if p.cfg.TextFirst && req.Prompt != "" {
		content = req.Prompt + native.MediaMarker
	}
	msgs = append(msgs, native.ChatMessage{Role: "user", Content: content})
	s, err := p.eng.Template(msgs)
	if err != nil {
		return "", fmt.Errorf("chat template of %s: %w", p.cfg.ModelFile, err)
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
