package native

import "log/slog"

// The exported API, signature by signature: this file compiles only when the
// build in use (cgo with the llamacpp tag, or the stub without) has all of
// it, so the two builds cannot drift apart.
var (
	_ func(InitOptions) ([]BackendLoad, error) = Init
	_ func() ([]Device, error)                 = Devices
	_ func() (string, error)                   = SystemInfo
	_ func() bool                              = SupportsGPUOffload
	_ func() int                               = MaxParallelSequences
	_ func(*slog.Logger)                       = SetLogger
	_ func([]byte, int) (JPEGImage, error)     = DecodeJPEG
	_                                          = JPEGDecoder

	_ func(string, ModelParams) (*Model, error)                                        = LoadModel
	_ func(*Model) error                                                               = (*Model).Close
	_ func(*Model) ModelInfo                                                           = (*Model).Info
	_ func(*Model, string) (string, bool)                                              = (*Model).Meta
	_ func(*Model, string, bool, bool) ([]Token, error)                                = (*Model).Tokenize
	_ func(*Model, []Token, bool, bool) (string, error)                                = (*Model).Detokenize
	_ func(*Model, Token) bool                                                         = (*Model).IsEOG
	_ func(*Model, string, []ChatMessage, bool) (string, error)                        = (*Model).ApplyChatTemplate
	_ func(*Model, ContextParams) (*Context, error)                                    = NewContext
	_ func(*Context) error                                                             = (*Context).Close
	_ func(*Context) int                                                               = (*Context).NCtx
	_ func(*Context, []LoRAScale) error                                                = (*Context).SetLoRA
	_ func(*Context, *Batch) error                                                     = (*Context).Decode
	_ func(*Context, int, []float32) ([]float32, error)                                = (*Context).Logits
	_ func(*Context, int, int, int) error                                              = (*Context).SeqRemove
	_ func(*Context, int, int, int, int) error                                         = (*Context).SeqCopy
	_ func(int, int) (*Batch, error)                                                   = NewBatch
	_ func(*Batch, Token, int, bool, ...int) (int, error)                              = (*Batch).Add
	_ func(*Batch) int                                                                 = (*Batch).Len
	_ func(*Batch)                                                                     = (*Batch).Clear
	_ func(*Batch) error                                                               = (*Batch).Close
	_ func(string, *Model, ProjectorParams) (*Projector, error)                        = LoadProjector
	_ func(*Projector) error                                                           = (*Projector).Close
	_ func(*Projector, string, []*Bitmap, bool) (*Chunks, error)                       = (*Projector).Tokenize
	_ func(*Projector, *Chunks, int) (*ImageEmbedding, error)                          = (*Projector).Encode
	_ func(*Projector, *Context, *Chunks, int, *ImageEmbedding, int, int) (int, error) = (*Projector).DecodeImage
	_ func(*Projector, *Context, *Chunks, int, int, int, bool) (int, error)            = (*Projector).EvalChunk
	_ func(*Projector, *Context, *Chunks, int, int, bool) (int, error)                 = (*Projector).EvalChunks
	_ func(int, int, []byte) (*Bitmap, error)                                          = NewBitmap
	_ func(*Bitmap) error                                                              = (*Bitmap).Close
	_ func(*Chunks) int                                                                = (*Chunks).Len
	_ func(*Chunks, int) ChunkKind                                                     = (*Chunks).Kind
	_ func(*Chunks, int) int                                                           = (*Chunks).NTokens
	_ func(*Chunks, int) (int, int)                                                    = (*Chunks).ImageGrid
	_ func(*Chunks, int) []Token                                                       = (*Chunks).Tokens
	_ func(*Chunks) int                                                                = (*Chunks).TotalTokens
	_ func(*Chunks) error                                                              = (*Chunks).Close
	_ func(*Model, SamplerParams) (*Sampler, error)                                    = NewSampler
	_ func(*Sampler, *Context, int) (Token, error)                                     = (*Sampler).Sample
	_ func(*Sampler) error                                                             = (*Sampler).Close
	_ func(*Model, string) (*LoRA, error)                                              = LoadLoRA
	_ func(*LoRA) error                                                                = (*LoRA).Close
	_ func(uint32, []byte, int) ([]float32, error)                                     = Dequantize
	_ func(uint32, []float32, int, int) ([]byte, error)                                = Quantize
)
