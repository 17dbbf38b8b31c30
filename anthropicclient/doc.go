// Package anthropicclient is the Anthropic backend: Claude vision models
// through the Messages API, with the official SDK
// github.com/anthropics/anthropic-sdk-go/v2.
//
// [NewPredictor] builds an [llm.Predictor] (and [llm.BatchPredictor]) that
// sends each image as a base64 image block followed by the prompt, with the
// system prompt and max_tokens (which the API requires), reads the score
// from the answer with the shared parser ([llm.Prediction.SetText]) and
// prices the usage the API returns with the model table ([DefaultModels],
// overridable with [MergeModels]). [Ready] checks a configuration without
// sending anything: a key, a model the table knows and marks as taking
// images.
//
// Retries, with the SDK: 429, 529 (overloaded), other 5xx, 408, 409,
// connection failures and per-attempt timeouts, after the wait retry-after
// asks for (up to Config.MaxRetryWait) or an exponential backoff. The key
// comes from Config.APIKey, a key file or ANTHROPIC_API_KEY; it is never
// logged and is redacted from errors. Nothing is read from the environment
// by the SDK itself (no profile, no ANTHROPIC_AUTH_TOKEN).
//
// The SDK speaks the API version 2026-10-21, which removed temperature,
// top_p and top_k: Claude samples at its default, and a temperature asked
// for is refused ([ErrTemperature]) rather than dropped.
//
// Tests run against [anthropictest], a loopback fake of the Messages API.
package anthropicclient
