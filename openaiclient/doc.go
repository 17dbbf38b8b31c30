// Package openaiclient is vlmcmp's OpenAI API client, built on
// github.com/sashabaranov/go-openai: a [Predictor] that scores images with
// chat completions (images as base64 data URLs, optional JSON-schema
// structured output), a typed client for files and fine-tuning jobs
// ([FineTuning]: streamed uploads with progress and a size-scaled timeout,
// the API's job limits checked before sending), and the rules fine-tuning
// examples must follow ([CheckExample], [EncodeForFineTuning]). Building
// fine-tuning data from a dataset is package eval/finetune's.
//
// What differs between models (vision, strict structured output, reasoning
// parameters, the image-token rule, prices) is one table, [DefaultModels],
// which [MergeModels] extends. Reasoning models (o-series, gpt-5 family)
// get max_completion_tokens and no temperature; every model of the OpenAI
// API gets max_completion_tokens.
//
// Every request goes through one HTTP doer plugged into go-openai's
// ClientConfig.HTTPClient: it waits for the requests-per-minute and
// tokens-per-minute limiters, bounds each attempt with a timeout, and retries
// 429, 5xx, 408, timeouts and 2xx answers whose JSON body is malformed or
// cut off, with exponential backoff and jitter, honouring retry-after-ms,
// Retry-After and, for a 429 without them, the x-ratelimit-reset-* of the
// exhausted limit; 400, 401, 403 and 404 fail at once with the API's
// message ([APIError]). A refusal to let the account fine-tune wraps
// [ErrFineTuningUnavailable].
//
// The API key comes from the caller ([Config.APIKey]), a key file, the
// OPENAI_API_KEY variable, or a file named API_KEY_Enoch in the working
// directory ([ResolveKey]). It is sent only in the Authorization header and
// never logged: errors and log lines pass through a redactor that removes
// it. The base URL comes from the config, or OPENAI_BASE_URL, so any
// OpenAI-compatible server (vLLM, llama-server, Ollama) is a backend too;
// such a server given explicitly needs no key ([ResolveKeyFor]).
// [Config.BaseURLs] makes a fleet of such servers serving one model: each
// attempt goes to the least busy healthy server, and a server that fails
// is set aside with a backoff while its requests are retried on the others.
// Every prediction records which server answered ([llm.Server]: base URL,
// Server header, system_fingerprint).
//
// Azure OpenAI is the same API behind a resource's deployments:
// [NewAzurePredictor] scores with a deployment ([AzureConfig]: endpoint,
// deployment, API version, the key from a file or AZURE_OPENAI_API_KEY)
// through go-openai's Azure configuration, and [NewAzureFineTuning] runs
// files and jobs on the resource. Azure's answers are read as Azure writes
// them: a refused key wraps [ErrAzureUnauthorized], a deployment not found
// is waited for and then wraps [ErrDeploymentNotFound], a content-filter
// refusal is a prediction without a score that gives the reason.
//
// Uploads wait at least 5 minutes for the answer (plus the size term), and
// a retried upload first looks for the file a failed attempt delivered, so
// retries never leave copies.
//
// The package logs at Debug level only, through log/slog.
package openaiclient
