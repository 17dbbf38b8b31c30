package native

import (
	"fmt"
	"time"
)

// Token is a token id of a model's vocabulary.
type Token int32

// DeviceType says what kind of compute device a Device is.
type DeviceType int

// Device types, as ggml reports them.
const (
	DeviceCPU   DeviceType = iota // the host CPU, system memory
	DeviceGPU                     // a discrete GPU with its own memory
	DeviceIGPU                    // an integrated GPU sharing host memory
	DeviceAccel                   // an accelerator used together with the CPU (BLAS, AMX)
)

// String returns "cpu", "gpu", "igpu" or "accel".
func (t DeviceType) String() string {
	switch t {
	case DeviceCPU:
		return "cpu"
	case DeviceGPU:
		return "gpu"
	case DeviceIGPU:
		return "igpu"
	case DeviceAccel:
		return "accel"
	}
	return fmt.Sprintf("devicetype(%d)", int(t))
}

// MarshalText returns the type's String, so JSON says "cpu" or "gpu".
func (t DeviceType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses what MarshalText writes.
func (t *DeviceType) UnmarshalText(b []byte) error {
	for _, k := range []DeviceType{DeviceCPU, DeviceGPU, DeviceIGPU, DeviceAccel} {
		if k.String() == string(b) {
			*t = k
			return nil
		}
	}
	return fmt.Errorf("unknown device type %q", b)
}

// Device is one compute device a ggml backend offers.
type Device struct {
	Name        string     `json:"name"`         // ggml's device name, e.g. "CPU", "CUDA0"
	Description string     `json:"description"`  // the device's own description, e.g. the CPU or GPU model
	Backend     string     `json:"backend"`      // the ggml backend that registered it, e.g. "CPU", "CUDA"
	Type        DeviceType `json:"type"`         // CPU, GPU, ...
	ID          string     `json:"id,omitempty"` // PCI bus id where known, else empty
	MemoryTotal uint64     `json:"memory_total"` // bytes
	MemoryFree  uint64     `json:"memory_free"`  // bytes, at the time Devices was called
	// Features are the backend's build features (for the CPU: AVX2, AVX512,
	// ...; for CUDA: architectures and options), in the order ggml lists
	// them. Backends that report none leave it empty.
	Features []Feature `json:"features,omitempty"`
}

// Feature is one name/value pair a backend reports about its build.
type Feature struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BackendLoad records the outcome of trying to load one backend library.
type BackendLoad struct {
	Path    string // the library file
	Backend string // the registered backend name when loaded
	Err     error  // nil when loaded
}

// InitOptions configure backend loading; see Init.
type InitOptions struct {
	// BackendPaths are extra folders searched for ggml backend libraries
	// (libggml-<name>.so), after the executable's folder and the folders in
	// the environment variable VLMCMP_BACKEND_PATH (a list separated by the
	// OS path list separator).
	BackendPaths []string
	// NoExecutableDir skips the executable's own folder (tests that must not
	// pick up a GPU library lying beside the test binary).
	NoExecutableDir bool
}

// ModelParams configure LoadModel. The zero value loads on the CPU with mmap.
type ModelParams struct {
	// GPULayers is the number of layers offloaded to GPUs: 0 keeps the model
	// on the CPU, a negative value offloads every layer.
	GPULayers int
	// MainGPU is the index among GPU devices that holds the model when it
	// is not split.
	MainGPU int
	// Device names the one GPU (as Devices names it, e.g. "CUDA1") that
	// holds the offloaded layers, the KV cache and the compute, with no
	// split across GPUs; "" lets llama.cpp split the layers over every GPU.
	Device string
	// NoMmap reads the file into memory instead of mapping it.
	NoMmap bool
	// VocabOnly loads only the vocabulary and metadata (tokenizing, chat
	// templates), no weights.
	VocabOnly bool
}

// ModelInfo are facts about a loaded model.
type ModelInfo struct {
	Architecture string // general.architecture, e.g. "qwen2vl"
	Name         string // general.name, when present
	Description  string // llama.cpp's one-line description (type, size, quantization)
	NEmbd        int    // embedding width
	NEmbdInput   int    // width of input embeddings (what a projector must produce)
	NCtxTrain    int    // training context length, tokens
	NLayer       int
	NHead        int
	NHeadKV      int
	NVocab       int    // vocabulary size
	Size         uint64 // bytes of all tensors
	NParams      uint64 // number of parameters
}

// ChatMessage is one turn for a chat template.
type ChatMessage struct {
	Role    string // "system", "user", "assistant"
	Content string
}

// FlashAttention selects flash attention for a context or projector.
type FlashAttention int

// Flash attention settings.
const (
	FlashAttentionAuto FlashAttention = iota // llama.cpp decides per device
	FlashAttentionOff
	FlashAttentionOn
)

// ContextParams configure NewContext. Zero fields take llama.cpp's defaults,
// noted per field.
type ContextParams struct {
	NCtx    int // context size in tokens (KV cells) for all sequences together; 0: the model's training context
	NBatch  int // most tokens one Decode may carry; 0: 2048
	NUBatch int // physical batch size; 0: 512. An image's tokens are decoded in one go, so keep it >= the largest image's token count for non-causal projectors
	NSeqMax int // number of sequences (parallel slots), ids 0 to NSeqMax-1; 0: 1

	Threads      int // threads for single-token decoding; 0: ggml's default of 4
	ThreadsBatch int // threads for prompt batches; 0: same as Threads

	FlashAttention FlashAttention

	// KVSplit gives each sequence its own KV stream (llama.cpp's
	// kv_unified=false): faster attention when sequences share little, but
	// SeqCopy can then only copy whole sequences. The default (false) is one
	// unified KV buffer shared by all sequences, where SeqCopy of a prefix
	// costs nothing.
	KVSplit bool
}

// ProjectorParams configure LoadProjector.
type ProjectorParams struct {
	// UseGPU runs the vision encoder on the GPU when one was loaded.
	UseGPU bool
	// Device names the GPU the encoder runs on with UseGPU (as Devices
	// names it, e.g. "CUDA1"); "": the first GPU.
	Device string
	// Threads for the vision encoder on the CPU; 0: 4.
	Threads int
	// FlashAttention for the vision encoder.
	FlashAttention FlashAttention
	// ImageMinTokens and ImageMaxTokens bound the tokens one image becomes
	// (mtmd resizes the image to fit); 0 reads them from the projector's
	// metadata (for Qwen2-VL: unbounded but for the image's own size).
	ImageMinTokens int
	ImageMaxTokens int
	// Warmup runs one encode of a dummy image at load, so that the first
	// real encode is not slower than the rest.
	Warmup bool
}

// MediaMarker is the text that stands for an image in a prompt given to
// Projector.Tokenize: each marker takes the next bitmap.
const MediaMarker = "<__media__>"

// LoRAScale is an adapter and the scale it is applied with (1: as trained,
// 0: no effect).
type LoRAScale struct {
	Adapter *LoRA
	Scale   float32
}

// ChunkKind is the kind of one piece of a multimodal prompt.
type ChunkKind int

// Chunk kinds.
const (
	ChunkText ChunkKind = iota
	ChunkImage
	ChunkAudio
)

// String returns "text", "image" or "audio".
func (k ChunkKind) String() string {
	switch k {
	case ChunkText:
		return "text"
	case ChunkImage:
		return "image"
	case ChunkAudio:
		return "audio"
	}
	return fmt.Sprintf("chunkkind(%d)", int(k))
}

// SamplerParams configure NewSampler. The zero value is greedy decoding.
type SamplerParams struct {
	// Temperature > 0 samples at that temperature with Seed, after TopK and
	// TopP; 0 (or less) picks the most likely token (greedy).
	Temperature float32
	TopK        int     // keep the K most likely tokens; 0: all
	TopP        float32 // nucleus sampling; 0 or 1: off
	MinP        float32 // drop tokens below MinP times the best; 0: off
	Seed        uint32  // random seed for Temperature > 0
	// Grammar is a GBNF grammar the output must follow; empty: none.
	// llama.cpp's C API at this commit has no JSON-schema converter (it
	// lives in common/, C++ that needs nlohmann/json, which the pinned
	// module lacks): convert schemas to GBNF in Go.
	Grammar string
	// GrammarRoot is the start rule; empty: "root".
	GrammarRoot string
}

// ImageEmbedding is an encoded image: the projector's output for one image
// chunk, copied into Go memory so that it outlives the next Encode. It
// belongs to the chunk it was encoded from (its M-RoPE positions come from
// that chunk's grid). Safe to share read-only between goroutines.
type ImageEmbedding struct {
	data    []float32 // nTokens*nEmbd floats, row-major by token
	nTokens int
	nEmbd   int
	encode  time.Duration
}

// EncodeTime returns how long the encode took.
func (e *ImageEmbedding) EncodeTime() time.Duration { return e.encode }

// Bytes returns the memory the embedding's rows take.
func (e *ImageEmbedding) Bytes() int { return 4 * len(e.data) }

// Floats returns the embedding rows as one slice (one row of the model's
// input embedding width per image token). The caller must not modify it.
func (e *ImageEmbedding) Floats() []float32 { return e.data }

// JPEGImage is a decoded JPEG (DecodeJPEG): Width×Height pixels of
// Components bytes each, rows packed: 1 gray, 3 RGB, or 4 CMYK as stored in
// the file (Adobe's convention, each ink inverted).
type JPEGImage struct {
	Width, Height, Components int
	Pix                       []byte
}
