package openaiclient

// Defaults of fine-tuning data preparation.
const (
	// DefaultFineTuneModel is the base model the original scripts tuned.
	DefaultFineTuneModel = "gpt-4o-mini-2024-07-18"
)
