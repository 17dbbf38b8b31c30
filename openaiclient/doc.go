// Package openaiclient is vlmcmp's OpenAI backend, built on
// github.com/sashabaranov/go-openai: a [Predictor] that scores images with
// chat completions (images as base64 data URLs, optional JSON-schema
// structured output), the preparation of fine-tuning data ([Prepare]), and a
// small typed client for the fine-tuning endpoints go-openai lacks
// ([FineTuning]).
//
// Every request goes through one HTTP doer plugged into go-openai's
// ClientConfig.HTTPClient: it waits for the requests-per-minute and
// tokens-per-minute limiters, bounds each attempt with a timeout, and retries
// 429, 5xx, 408 and timeouts with exponential backoff and jitter, honouring
// Retry-After; 400, 401, 403 and 404 fail at once with the API's message
// ([APIError]).
//
// The API key comes from the caller ([Config.APIKey]), a key file, the
// OPENAI_API_KEY variable, or a file named API_KEY_Enoch in the working
// directory ([ResolveKey]). It is sent only in the Authorization header and
// never logged: errors and log lines pass through a redactor that removes
// it. The base URL comes from the config, or OPENAI_BASE_URL, so any
// OpenAI-compatible server (vLLM, llama-server, Ollama) is a backend too.
//
// The package logs at Debug level only, through log/slog.
package openaiclient
