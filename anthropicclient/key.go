package anthropicclient

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KeyEnv is the environment variable the key is read from.
const KeyEnv = "ANTHROPIC_API_KEY"

// BaseURLEnv overrides the API's base URL when Config.BaseURL is empty.
const BaseURLEnv = "ANTHROPIC_BASE_URL"

// DefaultBaseURL is the Claude API.
const DefaultBaseURL = "https://api.anthropic.com"

// ErrNoKey is wrapped when no API key was found.
var ErrNoKey = errors.New("no Anthropic API key")

// ResolveKey finds the API key: the key file when file is not empty, else
// the ANTHROPIC_API_KEY variable. It returns the key and where it came from
// (for display; never the key). Errors name the file, never its content.
//
// A key file holds the key on its first non-empty line that is not a
// comment; a line ANTHROPIC_API_KEY=... (an .env file) is accepted too.
func ResolveKey(file string) (key, source string, err error) {
	if file != "" {
		return readKeyFile(file)
	}
	if k := strings.TrimSpace(os.Getenv(KeyEnv)); k != "" {
		return k, KeyEnv, nil
	}
	return "", "", fmt.Errorf("%w: set %s or give api_key_file", ErrNoKey, KeyEnv)
}

func readKeyFile(file string) (string, string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("%w: key file %s not found", ErrNoKey, file)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", "", fmt.Errorf("key file %s: %w", file, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "sk-") {
			if strings.TrimSpace(strings.TrimPrefix(k, "export ")) != KeyEnv {
				return "", "", fmt.Errorf("key file %s: its first line sets %s, not %s", file, strings.TrimSpace(k), KeyEnv)
			}
			line = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		if strings.ContainsAny(line, " \t") {
			return "", "", fmt.Errorf("key file %s: the key contains spaces; the file should hold the key alone", file)
		}
		return line, "file " + filepath.Base(file), nil
	}
	return "", "", fmt.Errorf("%w: key file %s is empty", ErrNoKey, file)
}

// ResolveBaseURL is base, else ANTHROPIC_BASE_URL, else the Claude API,
// without a trailing slash.
func ResolveBaseURL(base string) string {
	if base == "" {
		base = os.Getenv(BaseURLEnv)
	}
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/")
}

// keyLike matches things that look like Anthropic keys.
var keyLike = regexp.MustCompile(`sk-ant-[A-Za-z0-9_\-*]{3,}`)

// Redact removes key, and anything that looks like an Anthropic key, from s.
func Redact(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	return keyLike.ReplaceAllString(s, "[redacted]")
}
