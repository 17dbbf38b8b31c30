package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"sync"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// SharedImage is one image of a run that several models ask about at once:
// the comparison runner makes one per image in flight and hands it to every
// model's request ([Request.Shared]), so that the file is read, checked and
// decoded once per run rather than once per model, and so that backends can
// share work that depends only on the image (an image embedding of one
// projector) through [SharedImage.Take].
//
// A SharedImage is safe for concurrent use. The runner calls Release when
// every model has answered the image; what it held is then dropped.
type SharedImage struct {
	path string

	loadOnce sync.Once
	data     []byte
	loadErr  error

	hashOnce sync.Once
	hash     string

	mu       sync.Mutex
	released bool
	want     map[string]int // key -> takers expected (SetWant)
	parts    map[string]*sharedPart
}

// sharedPart is one value made once for the takers of a key.
type sharedPart struct {
	ready    chan struct{} // closed once made
	val      any
	err      error
	drop     func(any) // called once when the value is dropped
	dropOnce sync.Once
	taken    int
}

// NewSharedImage makes the shared image of the file at path; nothing is read
// until a backend asks.
func NewSharedImage(path string) *SharedImage {
	return &SharedImage{path: path, want: map[string]int{}, parts: map[string]*sharedPart{}}
}

// Path is the image file.
func (s *SharedImage) Path() string { return s.path }

// Data returns the file's bytes, read on the first call.
func (s *SharedImage) Data() ([]byte, error) {
	s.loadOnce.Do(func() {
		data, err := os.ReadFile(s.path)
		if err != nil {
			s.loadErr = fmt.Errorf("read image: %w", err)
			return
		}
		s.data = data
	})
	return s.data, s.loadErr
}

// DecodeKey is the share key of the predictors that take an image's decoded
// pixels ([SharedImage.Decode]): the runner counts them with the other keys
// ([Sharer]), so the pixels are dropped once the last of them has them.
const DecodeKey = "decoded pixels"

// decodedImage is what Decode shares.
type decodedImage struct {
	img    image.Image
	format string
}

// Decode returns the decoded image and its format (see imagefile.Decode),
// decoded on the first call: a Take of [DecodeKey], so that once as many
// calls as SetWant(DecodeKey) gave have had the pixels they are dropped (a
// decoded photo is large), and a later call decodes again. The error names
// the file.
func (s *SharedImage) Decode() (image.Image, string, error) {
	v, _, err := s.Take(DecodeKey, DecodeKey, func() (any, error) {
		data, err := s.Data()
		if err != nil {
			return nil, err
		}
		img, format, err := imagefile.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", s.path, err)
		}
		return decodedImage{img, format}, nil
	}, nil)
	if err != nil {
		return nil, "", err
	}
	d := v.(decodedImage)
	return d.img, d.format, nil
}

// Hash is the hex SHA-256 of the file's bytes (see ImageHash), computed
// once.
func (s *SharedImage) Hash() (string, error) {
	data, err := s.Data()
	if err != nil {
		return "", err
	}
	s.hashOnce.Do(func() {
		sum := sha256.Sum256(data)
		s.hash = hex.EncodeToString(sum[:])
	})
	return s.hash, nil
}

// SetWant says how many takers of key (see [Sharer]) will ask for this image:
// a value made for key is dropped as soon as that many have taken it. The
// runner sets it before any model is asked.
func (s *SharedImage) SetWant(key string, n int) {
	s.mu.Lock()
	s.want[key] = n
	s.mu.Unlock()
}

// Want is the takers of key set with SetWant (0: none set).
func (s *SharedImage) Want(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.want[key]
}

// Take returns the value of part (a key of the form the backend chooses,
// opening with its share key) for one taker of key: the first caller makes
// it with mk, the others wait for it and get the same value (or error).
// The value is dropped (drop called with it, once) when as many takers as
// SetWant(key) gave have taken it, or at Release, whichever is first; a
// taker after that makes it again. made reports whether this call made it.
func (s *SharedImage) Take(key, part string, mk func() (any, error), drop func(any)) (val any, made bool, err error) {
	s.mu.Lock()
	p := s.parts[part]
	if p == nil {
		p = &sharedPart{ready: make(chan struct{}), drop: drop}
		if !s.released {
			s.parts[part] = p
		}
		s.mu.Unlock()
		p.val, p.err = mk()
		close(p.ready)
		made = true
		s.mu.Lock()
		if p.err != nil {
			// A failure is not kept: the next taker tries again.
			if s.parts[part] == p {
				delete(s.parts, part)
			}
			s.mu.Unlock()
			return nil, true, p.err
		}
	} else {
		s.mu.Unlock()
		<-p.ready
		s.mu.Lock()
		if p.err != nil {
			s.mu.Unlock()
			return nil, false, p.err
		}
	}
	p.taken++
	dropped := s.released
	if p.taken >= s.want[key] && s.parts[part] == p {
		delete(s.parts, part)
		dropped = true
	}
	s.mu.Unlock()
	if dropped {
		p.free()
	}
	return p.val, made, nil
}

// free drops p's value, once.
func (p *sharedPart) free() {
	p.dropOnce.Do(func() {
		if p.err == nil && p.drop != nil {
			p.drop(p.val)
		}
	})
}

// Release drops every value still held (each drop function is called) and
// anything made later is not kept. The runner calls it once every model has
// answered the image.
func (s *SharedImage) Release() {
	s.mu.Lock()
	s.released = true
	parts := s.parts
	s.parts = map[string]*sharedPart{}
	s.mu.Unlock()
	for _, p := range parts {
		<-p.ready
		p.free()
	}
}

// Sharer is implemented by predictors that can share work on an image with
// other predictors of the same key through [SharedImage.Take] (local models
// of one projector file and image settings share the image's embedding). The
// runner counts, for each image, the models of each key that will ask for it
// ([SharedImage.SetWant]); "" shares nothing.
type Sharer interface {
	ShareKey() string
}
