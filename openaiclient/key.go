package openaiclient

import (
	"github.com/vlmcmp/vlmcmp/llm"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KeyFileName is the key file the original scripts read from the working
// directory; ResolveKey accepts it when present.
const KeyFileName = "API_KEY_Enoch"

// DefaultBaseURL is the OpenAI API.
const DefaultBaseURL = "https://api.openai.com/v1"

// ErrNoKey is returned when no API key was found.
var ErrNoKey = errors.New("no OpenAI API key")

// ResolveKey finds the API key: the key file when file is not empty, else
// the OPENAI_API_KEY variable, else a file named API_KEY_Enoch in the
// working directory. It returns the key and where it came from (for display;
// never the key). Errors name the file, never its content.
func ResolveKey(file string) (key, source string, err error) {
	if file != "" {
		return readKeyFile(file)
	}
	if k := strings.TrimSpace(os.Getenv("OPENAI_API_KEY")); k != "" {
		return k, "OPENAI_API_KEY", nil
	}
	if _, err := os.Stat(KeyFileName); err == nil {
		return readKeyFile(KeyFileName)
	}
	return "", "", fmt.Errorf("%w: set OPENAI_API_KEY or give --api-key-file", ErrNoKey)
}

func readKeyFile(file string) (string, string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("%w: key file %s not found", ErrNoKey, file)
		}
		return "", "", fmt.Errorf("key file %s: %w", file, errors.Unwrap(err))
	}
	// The first non-empty line; a KEY=value line is accepted too.
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "sk-") {
			line = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		return line, "file " + filepath.Base(file), nil
	}
	return "", "", fmt.Errorf("%w: key file %s is empty", ErrNoKey, file)
}

// ResolveKeyFor is ResolveKey for a server at baseURL, a base URL given
// explicitly (a flag or the model's config; not OPENAI_BASE_URL, which
// travels with OPENAI_API_KEY): when no key file is named and no key is
// found, such an OpenAI-compatible server other than the OpenAI API
// (llama-server, vLLM, Ollama, which often need none) is given no key, with
// source "none". A named key file must still exist.
func ResolveKeyFor(file, baseURL string) (key, source string, err error) {
	key, source, err = ResolveKey(file)
	if err != nil && file == "" && baseURL != "" && errors.Is(err, ErrNoKey) && strings.TrimRight(baseURL, "/") != DefaultBaseURL {
		return "", "none", nil
	}
	return key, source, err
}

// ResolveBaseURL is base, else OPENAI_BASE_URL, else the OpenAI API, without
// a trailing slash.
func ResolveBaseURL(base string) string {
	if base == "" {
		base = os.Getenv("OPENAI_BASE_URL")
	}
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/")
}

// keyLike matches things that look like OpenAI keys, including the masked
// form the API echoes in 401 messages ("sk-abc***xyz").
var keyLike = regexp.MustCompile(`sk-[A-Za-z0-9_\-*]{3,}`)

// Redact removes key, and anything that looks like an OpenAI key, from s.
func Redact(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	return keyLike.ReplaceAllString(s, "[redacted]")
}

// RedactURL is [llm.RedactURL], kept here for the package's callers.
func RedactURL(u string) string { return llm.RedactURL(u) }
