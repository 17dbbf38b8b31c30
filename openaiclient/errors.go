package openaiclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Sentinels callers branch on (the CLI maps them to hints).
var (
	// ErrUnauthorized is wrapped by an [APIError] with status 401: the
	// server refused the key.
	ErrUnauthorized = errors.New("the API key was refused")
	// ErrFineTuningUnavailable is wrapped when the account may not create
	// fine-tuning jobs (OpenAI no longer opens fine-tuning to new accounts).
	ErrFineTuningUnavailable = errors.New("fine-tuning is not available to this account")
	// ErrMalformed is wrapped when a 2xx answer's body is not what the API
	// sends.
	ErrMalformed = errors.New("malformed response")
	// ErrEveryServerFailed is wrapped when every server of a fleet failed a
	// request; the error names each server and its last failure.
	ErrEveryServerFailed = errors.New("every server failed")
)

// APIError is an error answer of the API, with the key redacted from its
// message.
type APIError struct {
	Status  int    // HTTP status
	Type    string // the API's error type, e.g. invalid_request_error
	Code    string // the API's error code, e.g. invalid_api_key
	Message string
}

func (e *APIError) Error() string {
	msg := strings.TrimRight(e.Message, ". ")
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	return fmt.Sprintf("status %d: %s", e.Status, msg)
}

// Unwrap gives ErrUnauthorized for 401.
func (e *APIError) Unwrap() error {
	if e.Status == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// convertError turns go-openai's errors into ours, redacting the key.
func convertError(err error, key string) error {
	if err == nil {
		return nil
	}
	var ae *openai.APIError
	if errors.As(err, &ae) {
		code := ""
		if ae.Code != nil {
			code = fmt.Sprint(ae.Code)
		}
		return &APIError{Status: ae.HTTPStatusCode, Type: ae.Type, Code: code, Message: Redact(ae.Message, key)}
	}
	var re *openai.RequestError
	if errors.As(err, &re) {
		msg := strings.TrimSpace(string(re.Body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &APIError{Status: re.HTTPStatusCode, Message: Redact(msg, key)}
	}
	msg := err.Error()
	if strings.Contains(msg, "unexpected end of JSON input") || strings.Contains(msg, "invalid character") ||
		strings.Contains(msg, "cannot unmarshal") || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s", ErrMalformed, Redact(msg, key))
	}
	if r := Redact(msg, key); r != msg {
		return errors.New(r)
	}
	return err
}

// missingReason says why a failed chat request leaves its answer missing
// ([llm.MissingError]), "" when the failure is the request's own: a 400,
// 413, 415 or 422 refuses this request (its image, its content, its
// settings), and another try would be refused alike. Everything else (no
// connection, a 5xx or a 429 past the retries, a server without the model
// or refusing the key, a malformed answer, every server of a fleet
// failing) is the infrastructure's, not the model's answer.
func missingReason(err error) string {
	if errors.Is(err, ErrEveryServerFailed) {
		return llm.MissingNoServer
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		switch s := ae.Status; {
		case s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge ||
			s == http.StatusUnsupportedMediaType || s == http.StatusUnprocessableEntity:
			return ""
		case s == http.StatusNotFound:
			return llm.MissingNoModel
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return llm.MissingRefusedKey
		case s == http.StatusTooManyRequests:
			return llm.MissingRateLimited
		case s >= 500:
			return llm.MissingServerError
		}
		return llm.MissingServerError
	}
	if errors.Is(err, ErrMalformed) {
		return llm.MissingServerError
	}
	return llm.MissingUnreachable
}
