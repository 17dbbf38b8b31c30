package openaiclient

// Defaults of fine-tuning data preparation.
const (
	// DefaultFineTuneModel is the base model the original scripts tuned.
	DefaultFineTuneModel = "gpt-4o-mini-2024-07-18"
	// DefaultPrompt and DefaultSystem are used for records that carry no
	// prompt or system text of their own.
	DefaultPrompt = "Rate how safe this street looks on a scale from 1 (very unsafe) to 10 (very safe). Answer with 'Safety score: N/10'."
	DefaultSystem = "You are an expert in urban perception who rates the perceived safety of street-view images."
)
