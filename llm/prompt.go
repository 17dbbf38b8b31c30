package llm

// The task every model of vlmcmp is asked: the prompt and system prompt a
// ground-truth record without its own gets, in the fine-tuning files vlmcmp
// prepare writes, in the demo's records and in every comparison. A fine-tuned
// model is asked as it was trained, so there is one definition.
const (
	DefaultPrompt = "Rate how safe this street looks on a scale from 1 (very unsafe) to 10 (very safe). Answer with 'Safety score: N/10'."
	DefaultSystem = "You are an expert in urban perception who rates the perceived safety of street-view images."
)
