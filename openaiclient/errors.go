package openaiclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	openai "github.com/sashabaranov/go-openai"
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
