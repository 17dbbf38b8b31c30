package backend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Identity is everything that decides a model's answers, by setting name:
// its backend, its files by content (keys ending in .sha256), and every
// resolved setting that can change an answer (defaults filled in). Two
// models with equal identities answer alike; two that differ must not share
// a predictions file or a cache entry. It is a flat map so that run.json
// records it as it is and [Diff] compares any backend's alike.
type Identity map[string]string

// identityFormat changes when what an identity holds changes, so that a
// key of the old form never matches one of the new.
const identityFormat = "2"

// legacyKey marks an identity read from a run.json written before
// identities were flat (its fields flattened, see UnmarshalJSON).
const legacyKey = "legacy"

// Key is the hex SHA-256 of the identity (with its format), the response
// cache's name for the model.
func (id Identity) Key() string {
	var b bytes.Buffer
	b.WriteString("vlmcmp identity " + identityFormat + "\n")
	for _, k := range slices.Sorted(maps.Keys(id)) {
		fmt.Fprintf(&b, "%q=%q\n", k, id[k])
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// Clone is a copy of id.
func (id Identity) Clone() Identity { return maps.Clone(id) }

// UnmarshalJSON reads an identity; one of the form run.json had before
// (nested options, lora list, numbers) is flattened and marked legacy, so
// that it still reads and compares with others of its kind, and never
// passes for a current one.
func (id *Identity) UnmarshalJSON(data []byte) error {
	var flat map[string]string
	if err := json.Unmarshal(data, &flat); err == nil {
		*id = flat
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	out := Identity{legacyKey: "1"}
	flatten(out, "", v)
	*id = out
	return nil
}

func flatten(out Identity, prefix string, v any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			flatten(out, join(k), x)
		}
	case []any:
		for i, x := range v {
			flatten(out, join(strconv.Itoa(i+1)), x)
		}
	case nil:
	case string:
		if v != "" {
			out[prefix] = v
		}
	case bool:
		if v {
			out[prefix] = "true"
		}
	case float64:
		if v != 0 {
			out[prefix] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	default:
		out[prefix] = fmt.Sprint(v)
	}
}

// Diff lists what differs from old to now, one phrase a setting ("model_file
// was sha256 0a1b2c3d4e5f, now 9f8e7d6c5b4a"); nil when they are the same.
func Diff(old, now Identity) []string {
	if (old[legacyKey] != "") != (now[legacyKey] != "") {
		return []string{"its identity was recorded by an older vlmcmp, which did not name every setting that changes an answer, so it cannot be shown to be the same"}
	}
	var out []string
	keys := slices.Sorted(maps.Keys(maps.Collect(func(yield func(string, bool) bool) {
		for k := range old {
			yield(k, true)
		}
		for k := range now {
			yield(k, true)
		}
	})))
	for _, k := range keys {
		a, okA := old[k]
		b, okB := now[k]
		if okA == okB && a == b {
			continue
		}
		out = append(out, fmt.Sprintf("%s was %s, now %s", k, showValue(k, a, okA), showValue(k, b, okB)))
	}
	return out
}

func showValue(key, v string, ok bool) string {
	switch {
	case !ok:
		return "unset"
	case strings.HasSuffix(key, "sha256"):
		return "sha256 " + v[:min(12, len(v))]
	case len(v) > 40:
		return strconv.Quote(v[:37] + "...")
	}
	return strconv.Quote(v)
}
