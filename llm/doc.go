// Package llm defines what every model backend of vlmcmp shares: the
// [Predictor] interface a backend implements, the [Request] it is given and the
// [Prediction] it returns, the optional [BatchPredictor] interface for backends
// that do better on many requests at once, score extraction from free-text
// answers, and the response cache.
//
// Backends live in their own packages: llm/local (Qwen2-VL in-process through
// llama.cpp), openaiclient (the OpenAI API and compatible servers) and the
// baselines of package eval. Adding a backend is one new type that implements
// Predictor; the comparison runner needs no change.
package llm
