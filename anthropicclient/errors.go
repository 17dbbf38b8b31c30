package anthropicclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Sentinels callers branch on.
var (
	// ErrUnauthorized is wrapped by an [APIError] with status 401: the API
	// refused the key.
	ErrUnauthorized = errors.New("the API key was refused")
	// ErrNotFound is wrapped by an [APIError] with status 404: the API does
	// not know the model (or the account may not use it).
	ErrNotFound = errors.New("not found")
	// ErrModel is wrapped when the configuration names a model the model
	// table lacks or marks text-only; nothing was sent.
	ErrModel = errors.New("model not usable for images")
	// ErrTemperature is wrapped when a temperature is asked for; see
	// [Config.Temperature].
	ErrTemperature = errors.New("temperature is not accepted")
)

// APIError is an error answer of the Messages API, with the key redacted
// from its message.
type APIError struct {
	Status    int    // HTTP status
	Type      string // the API's error type: rate_limit_error, overloaded_error…
	Message   string // the API's error.message
	RequestID string // the request-id header, for Anthropic's support
}

func (e *APIError) Error() string {
	msg := strings.TrimRight(e.Message, ". ")
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	s := fmt.Sprintf("status %d", e.Status)
	if e.Type != "" {
		s += " " + e.Type
	}
	s += ": " + msg
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Unwrap gives ErrUnauthorized for 401 and ErrNotFound for 404.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// convertError turns the SDK's errors into ours and redacts the key from
// whatever the text of an error holds.
func convertError(err error, key string) error {
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return &APIError{Status: ae.StatusCode, Type: string(ae.Type()), Message: Redact(ae.Message, key), RequestID: ae.RequestID}
	}
	if r := Redact(err.Error(), key); r != err.Error() {
		return errors.New(r)
	}
	return err
}

// missingReason is why a failed request has no answer when the failure is
// not the request's own (llm.Missing*), so that a run counts it apart from
// the model's answers without a score and a resume asks again: a refused
// key, a model the API does not serve, a 429 or 529 (overloaded) or other
// 5xx past the retries, no connection. "" when the API refused this
// request for what it holds (400, 413, 415, 422: its image, its settings),
// which another try would not change.
func missingReason(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) {
		return llm.MissingUnreachable
	}
	switch s := ae.Status; {
	case s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge ||
		s == http.StatusUnsupportedMediaType || s == http.StatusUnprocessableEntity:
		return ""
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return llm.MissingRefusedKey
	case s == http.StatusNotFound:
		return llm.MissingNoModel
	case s == http.StatusTooManyRequests:
		return llm.MissingRateLimited
	}
	return llm.MissingServerError
}
