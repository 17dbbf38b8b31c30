package local

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/usage"
)

// Defaults used when a Config field is zero.
const (
	// DefaultImageMaxTokens bounds the tokens one image becomes when the
	// model's family is not known (New knows it from the files and uses
	// family.DefaultImageTokens instead: Qwen2-VL and Qwen2.5-VL 4..1024,
	// Qwen3-VL 64..784). Qwen2-VL spends one token on each 28×28 pixel
	// patch, so a 12-megapixel photo (4000×3000) left at full size would
	// cost over 15,000 tokens; 1024 tokens keep about 0.8 megapixels,
	// plenty for a street-safety rating.
	DefaultImageMaxTokens = 1024
	// DefaultMaxTokens is the answer length when neither the request nor
	// Config.MaxTokens sets one.
	DefaultMaxTokens = 128
	// defaultTextTokens is what a sequence's context holds beside the image
	// when Config.ContextSize is zero: chat template, prompt and answer.
	defaultTextTokens = 512
	// maxDefaultParallelCPU and maxDefaultParallelGPU cap the default
	// number of sequences (Config.Parallel 0) on the CPU and on a GPU;
	// defaultParallel lowers it further when the KV cache would not fit.
	// On the CPU 16 was measured against 4 and 8 (docs/benchmarks.md,
	// "The default parallel on the CPU"): never slower, up to 1.45× faster
	// as answers grow, since a step reads the weights once for every
	// sequence in it.
	maxDefaultParallelCPU = 16
	maxDefaultParallelGPU = 16
)

// Config configures [New]. Only ModelFile and MmprojFile are required; zero
// fields take the defaults noted on each.
type Config struct {
	// ModelFile is the LLM GGUF (Qwen2-VL, architecture qwen2vl).
	ModelFile string
	// MmprojFile is the vision projector GGUF made for that model.
	MmprojFile string
	// LoRA adapters (GGUF) applied at load time, in order, each with its
	// scale (1: as trained).
	LoRA []LoRA

	// GPULayers is the number of layers offloaded to a GPU: 0 keeps the
	// model on the CPU, a negative value offloads all of them. The vision
	// encoder runs on the GPU whenever GPULayers is not 0 and a GPU backend
	// is loaded.
	GPULayers int
	// Threads is the number of CPU threads for decoding, and for the
	// vision encoder unless EncoderThreads is set. 0: chosen from the
	// machine (runtime.NumCPU, at most 16): on 4 CPUs or more half decode
	// and the other half run the encoder, which then encodes ahead while
	// the context decodes, and the decoder takes every thread while the
	// encoder has nothing to do; on fewer, the encoder and the decoder take
	// turns on every CPU (see splitFromCPUs).
	Threads int
	// EncoderThreads is the number of CPU threads of the vision encoder;
	// 0: Threads when that is set, else as described there.
	EncoderThreads int
	// threadsAuto: Threads was chosen from the machine (validate), so the
	// decoder may borrow the encoder's threads while it is idle.
	threadsAuto bool
	// ContextSize is the number of tokens (KV cells) one sequence holds:
	// the image's tokens, the prompt and the answer. 0: ImageMaxTokens +
	// 512. The llama context holds Parallel times this, plus the shared
	// prefix.
	ContextSize int
	// Parallel is the number of sequences decoded together (P). 0 picks a
	// default that fits memory: up to 16 (CPU or GPU), fewer when
	// the KV cache would not fit in a quarter of the device's free memory;
	// [Predictor.Parallel] reports the choice.
	Parallel int
	// BatchSize is the most tokens one llama_decode carries (llama.cpp's
	// n_batch and n_ubatch). 0: the larger of 512 and ImageMaxTokens; it is
	// raised to ImageMaxTokens when smaller, since Qwen2-VL decodes an
	// image's tokens in one physical batch.
	BatchSize int
	// FlashAttention selects flash attention: "auto" (default), "on" or
	// "off".
	FlashAttention string
	// ImageMinTokens and ImageMaxTokens bound the tokens one image becomes;
	// mtmd resizes the image to fit. 0: the model family's default budget
	// (family.DefaultImageTokens: its Hugging Face processor's min_pixels,
	// and its max_pixels capped at about 0.8 megapixels), read from the
	// projector file; a bound set here wins over the default.
	ImageMinTokens int
	ImageMaxTokens int
	// Image says how an image file becomes the encoder's pixels: resample,
	// orientation, preprocessor file (ImageOptions).
	Image ImageOptions
	// userMinTokens and userMaxTokens: the bounds were set, not defaulted
	// (fill); plan is the image options resolved (planImages).
	userMinTokens, userMaxTokens bool
	plan                         *imagePlan
	// MaxTokens is the default answer length for requests that set none;
	// 0: DefaultMaxTokens.
	MaxTokens int
	// Grammar (GBNF) and JSONSchema constrain every request that sets
	// neither itself; at most one of them may be set.
	Grammar    string
	JSONSchema string
	// RawPrompt uses each request's Prompt as the whole prompt, without the
	// chat template and ignoring System: the prompt must contain the media
	// marker <__media__> where the image goes.
	RawPrompt bool
	// Replicas is the number of model instances one queue feeds, each with
	// its own context of Parallel sequences: a replica with a free sequence
	// takes the next request. Answers do not depend on it. 0: one, or one
	// per entry of Devices.
	Replicas int
	// Devices places the replicas, one each, on GPUs numbered in the order
	// `vlmcmp devices` lists the GPUs (0 first): a replica's layers, KV
	// cache and vision encoder go to its GPU, with no split. Empty: each
	// replica is placed as a single model is (on the CPU in a build without
	// a GPU backend). When both are set, len(Devices) == Replicas.
	Devices []int
	// TextFirst puts the prompt before the image in the user's turn, as
	// the OpenAI backend sends it, instead of after it. The whole text
	// before the image (system prompt, chat header, prompt) is then the
	// prefix shared by every request with the same prompt: decoded once,
	// copied to each sequence, so that only the image and the few tokens
	// that open the answer are decoded per request.
	TextFirst bool
	// EncodeAhead encodes queued images on the preparing goroutine while
	// the context decodes other sequences ("on"), or on the owner between
	// decoding steps ("off"). "" or "auto": on when the encoder runs on a
	// GPU, or when Threads and EncoderThreads fit in the CPUs together (so
	// with Threads 0 on two CPUs or more); off otherwise (the encoder and
	// the decoder would compete for the same cores).
	EncodeAhead string
	// EmbeddingCacheMiB is the memory, shared by every Predictor of the
	// process, that keeps image embeddings for reuse: a second model with
	// the same projector file (a LoRA fine-tune beside its base model), or
	// a second pass over the same images, skips the vision encoder. 0:
	// DefaultEmbeddingCacheMiB; negative: this Predictor neither reads nor
	// fills it (benchmarks that time the encoder). Answers are the same
	// either way: an embedding is reused only from the same projector file
	// and settings on the same device.
	EmbeddingCacheMiB int
	// Logger receives debug lines; nil: discarded. Status receives the
	// lines a person running the model must see (GPU libraries without a
	// GPU, a chat template that cannot be used, a replica that failed);
	// nil: discarded.
	Logger *slog.Logger
	Status io.Writer
}

// splitFromCPUs is the smallest CPU count at which Threads 0 splits the
// CPUs between a decoder and an encoder that runs ahead. Below it both run
// one after the other on every CPU: measured on 2 CPUs (docs/benchmarks.md,
// "Thread defaults"), the encoder on one thread (110 ms an image on the
// small model) is slower than everything else an image needs on two, so
// overlap lost 20% at 16-token answers and 5% at 64.
const splitFromCPUs = 4

// defaultThreads is the decoder's and the encoder's threads on n CPUs, and
// whether the decoder may borrow the encoder's threads while it is idle.
func defaultThreads(n int) (decoder, encoder int, lend bool) {
	n = max(1, n)
	if n < splitFromCPUs {
		return n, n, false
	}
	return n / 2, n - n/2, true
}

// LoRA is one adapter file and its scale.
type LoRA struct {
	Path  string
	Scale float32
}

// ParseLoRA parses "PATH[:SCALE]" (scale 1 when absent), the form the
// command line uses. A path containing ':' takes a scale only when the last
// ':' is followed by a number.
func ParseLoRA(s string) (LoRA, error) {
	if s == "" {
		return LoRA{}, fmt.Errorf("lora: empty adapter path")
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if f, err := strconv.ParseFloat(s[i+1:], 32); err == nil {
			if i == 0 {
				return LoRA{}, fmt.Errorf("lora %q: empty adapter path", s)
			}
			return LoRA{Path: s[:i], Scale: float32(f)}, nil
		}
	}
	return LoRA{Path: s, Scale: 1}, nil
}

// validate checks the fields that do not need files and fills the
// defaults, with the image-token budget of no particular family
// (DefaultImageMaxTokens). New uses check and fill with the family of the
// files instead.
func (c *Config) validate() error {
	if err := c.check(); err != nil {
		return err
	}
	return c.fill(nil)
}

// configErrorf is a mistake in a Config found without its files (Check):
// a value out of range or a contradiction, reported as a [usage.Error].
func configErrorf(format string, args ...any) error {
	return usage.Errorf("", format, args...)
}

// Check reports the mistakes of c that need no file (New checks them
// too): each error is a [usage.Error].
func (c Config) Check() error { return c.check() }

// check checks the fields that do not need files.
func (c *Config) check() error {
	if c.ModelFile == "" {
		return configErrorf("local: no model file given")
	}
	if c.MmprojFile == "" {
		return configErrorf("local: no projector (mmproj) file given for %s", c.ModelFile)
	}
	if err := usage.Exclusive(usage.Opt{Name: "a grammar", Set: c.Grammar != ""}, usage.Opt{Name: "a json schema", Set: c.JSONSchema != ""}); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"threads", c.Threads}, {"encoder threads", c.EncoderThreads}, {"context size", c.ContextSize}, {"parallel", c.Parallel},
		{"batch size", c.BatchSize}, {"image min tokens", c.ImageMinTokens},
		{"image max tokens", c.ImageMaxTokens}, {"max tokens", c.MaxTokens}, {"replicas", c.Replicas}} {
		if n.v < 0 {
			return configErrorf("local: %s is %d, want 0 (default) or more", n.name, n.v)
		}
	}
	switch strings.ToLower(c.FlashAttention) {
	case "", "auto", "on", "off":
	default:
		return configErrorf("local: flash attention %q is not one of auto, on, off", c.FlashAttention)
	}
	switch strings.ToLower(c.EncodeAhead) {
	case "", "auto", "on", "off":
	default:
		return configErrorf("local: encode ahead %q is not one of auto, on, off", c.EncodeAhead)
	}
	if c.Replicas == 0 {
		c.Replicas = max(len(c.Devices), 1)
	}
	if len(c.Devices) > 0 && len(c.Devices) != c.Replicas {
		return configErrorf("local: %d replicas on %d devices, want one device per replica", c.Replicas, len(c.Devices))
	}
	for i, d := range c.Devices {
		if d < 0 {
			return configErrorf("local: device %d is negative, want a GPU number from 0", d)
		}
		if slices.Contains(c.Devices[:i], d) {
			return configErrorf("local: device %d is listed twice, want one replica per GPU", d)
		}
	}
	for i, l := range c.LoRA {
		if l.Path == "" {
			return configErrorf("local: lora %d has no path", i+1)
		}
	}
	return nil
}

// fill sets the zero fields to their defaults. The image-token budget is
// fam's (family.DefaultImageTokens: the Hugging Face processor's
// min_pixels, its max_pixels capped at family.BudgetMaxPixels) when fam is
// known, else the projector's minimum and DefaultImageMaxTokens. A bound
// the user set wins; the other, defaulted, bound yields to it rather than
// contradict it (max 32 on Qwen3-VL lowers the default min of 64 to 32).
func (c *Config) fill(fam *family.Family) error {
	minDef, maxDef := 0, DefaultImageMaxTokens
	c.userMinTokens, c.userMaxTokens = c.ImageMinTokens > 0, c.ImageMaxTokens > 0
	if fam != nil {
		minDef, maxDef = fam.DefaultImageTokens()
	}
	switch {
	case c.ImageMinTokens == 0 && c.ImageMaxTokens == 0:
		c.ImageMinTokens, c.ImageMaxTokens = minDef, maxDef
	case c.ImageMinTokens == 0:
		c.ImageMinTokens = min(minDef, c.ImageMaxTokens)
	case c.ImageMaxTokens == 0:
		c.ImageMaxTokens = max(maxDef, c.ImageMinTokens)
	}
	if c.ImageMinTokens > c.ImageMaxTokens {
		return fmt.Errorf("local: image min tokens %d is above image max tokens %d", c.ImageMinTokens, c.ImageMaxTokens)
	}
	if err := c.planImages(fam); err != nil {
		return err
	}
	if c.ContextSize == 0 {
		c.ContextSize = c.ImageMaxTokens + defaultTextTokens
	}
	if c.Threads == 0 {
		t, e, lend := defaultThreads(min(runtime.NumCPU(), 16))
		c.Threads = t
		if c.EncoderThreads == 0 {
			c.EncoderThreads = e
		}
		c.threadsAuto = lend && c.Threads+c.EncoderThreads <= t+e
	}
	if c.EncoderThreads == 0 {
		c.EncoderThreads = c.Threads
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	c.BatchSize = max(c.BatchSize, c.ImageMaxTokens)
	return nil
}
