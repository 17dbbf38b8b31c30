package llm

import "errors"

// Why an answer is missing: the reasons a [MissingError] gives, written to
// the predictions files (the "missing" field of a record).
const (
	// MissingUnreachable: no server could be reached (connection refused,
	// reset, no answer in time).
	MissingUnreachable = "unreachable"
	// MissingServerError: the server kept failing (5xx, a cut-off or
	// malformed body) past the retries.
	MissingServerError = "server_error"
	// MissingNoModel: the server does not serve the model (404 model not
	// found).
	MissingNoModel = "no_model"
	// MissingRateLimited: the server kept answering 429 past the retries,
	// or the account's quota is spent.
	MissingRateLimited = "rate_limited"
	// MissingRefusedKey: the server refused the key (401, 403).
	MissingRefusedKey = "refused_key"
	// MissingNoServer: every server of a fleet failed.
	MissingNoServer = "no_server"
)

// MissingError is the error of a request that got no answer from the model
// for a reason that is not the request's own (connection refused, a 5xx
// after retries, a server without the model): the answer is missing, which
// is not "no score". A resumed run asks again, and every figure counts such
// an image apart from the images the model answered. Errors that are the
// request's (an unreadable image, a request the API refuses for its
// content) are not MissingErrors: the model has no score for that image.
type MissingError struct {
	// Reason is one of the Missing* constants.
	Reason string
	Err    error
}

func (e *MissingError) Error() string { return e.Err.Error() }
func (e *MissingError) Unwrap() error { return e.Err }

// Missing wraps err as a MissingError with reason; nil stays nil, and an
// empty reason leaves err as it is (the request's own failure).
func Missing(reason string, err error) error {
	if err == nil || reason == "" {
		return err
	}
	return &MissingError{Reason: reason, Err: err}
}

// MissingReason is the reason err is a missing answer, "" when it is not a
// [MissingError] (the request's own failure).
func MissingReason(err error) string {
	if me, ok := errors.AsType[*MissingError](err); ok {
		if me.Reason == "" {
			return MissingServerError
		}
		return me.Reason
	}
	return ""
}
