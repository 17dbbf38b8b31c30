package openaiclient

// EstimateTextTokens estimates the tokens of s without a tokenizer: one
// token per 4 bytes, rounded up (OpenAI's rule of thumb for English text).
// It is an estimate; the API's usage is the truth.
func EstimateTextTokens(s string) int {
	return (len(s) + 3) / 4
}

// MessageOverhead is the estimated tokens each chat message adds for its
// role and delimiters; ReplyOverhead those that prime the reply.
const (
	MessageOverhead = 4
	ReplyOverhead   = 3
)

// EstimateImageTokens is the prompt tokens of a w×h image at a detail level
// for model, by the image rule of the built-in model table
// ([DefaultModels], [ImageRule]); models it lacks count as GPT-4o does.
func EstimateImageTokens(model, detail string, w, h int) int {
	return DefaultModels().Info(model).ImageTokens.Tokens(detail, w, h)
}
