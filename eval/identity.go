package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
)

// ModelIdentity is everything that decides a model's answers, as recorded in
// run.json: two identities that differ give answers that must not share a
// predictions file. Files are recorded by content (sha256), so a model file
// moved or copied elsewhere is the same model, and another file under the old
// name is not.
type ModelIdentity struct {
	Backend string `json:"backend"`
	// Model is the OpenAI model name, "from FILE" for a fine-tuned one
	// (FromSHA256 the record's content), or a baseline's statistic.
	Model      string `json:"model,omitempty"`
	FromSHA256 string `json:"from_sha256,omitempty"`
	// ModelSHA256 and MmprojSHA256 are the local model's GGUF files.
	ModelSHA256  string `json:"model_sha256,omitempty"`
	MmprojSHA256 string `json:"mmproj_sha256,omitempty"`
	// LoRA are the adapters in order.
	LoRA []LoRAIdentity `json:"lora,omitempty"`
	// Prompt and System are the model's own prompts (empty: the items').
	Prompt string `json:"prompt,omitempty"`
	System string `json:"system,omitempty"`
	// Options are the decoding settings; Detail the image detail;
	// Structured whether answers are constrained to JSON.
	Options    llm.Options `json:"options"`
	Detail     string      `json:"detail,omitempty"`
	Structured bool        `json:"structured,omitempty"`
}

// LoRAIdentity is one adapter: its content and scale.
type LoRAIdentity struct {
	SHA256 string  `json:"sha256"`
	Scale  float64 `json:"scale"`
}

// ConfigIdentity is the identity of a configured model asked with the given
// prompts and decoding options (those the run's [Model] carries). Its files
// are hashed with [FileSHA256].
func ConfigIdentity(m *config.Model, prompt, system string, opts llm.Options) (ModelIdentity, error) {
	id := ModelIdentity{
		Backend: m.Backend, Model: m.Model.String(), Prompt: prompt, System: system,
		Options: opts, Detail: m.Detail, Structured: m.Structured,
	}
	var err error
	hash := func(path string) string {
		if path == "" || err != nil {
			return ""
		}
		var h string
		h, err = FileSHA256(path)
		return h
	}
	id.FromSHA256 = hash(m.Model.From)
	id.ModelSHA256 = hash(m.ModelFile)
	id.MmprojSHA256 = hash(m.Mmproj)
	for _, l := range m.LoRA {
		id.LoRA = append(id.LoRA, LoRAIdentity{SHA256: hash(l.Path), Scale: l.ScaleOr1()})
	}
	if err != nil {
		return ModelIdentity{}, fmt.Errorf("model %s: %w", m.Name, err)
	}
	return id, nil
}

// CheckIdentity compares the identity run.json recorded for model name with
// the one it has now: nil when they are the same, else an error saying what
// changed and how to go on.
func CheckIdentity(name string, recorded, now ModelIdentity) error {
	changes := identityChanges(recorded, now)
	if len(changes) == 0 {
		return nil
	}
	return fmt.Errorf("model %s is not the model this run started with (%s), and one predictions file must hold one model's answers: "+
		"start a new run (another --run-id), or give the changed model a new name in the config and add it to this run",
		name, strings.Join(changes, "; "))
}

// identityChanges lists what differs between a and b, in words.
func identityChanges(a, b ModelIdentity) []string {
	var out []string
	str := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s was %s, now %s", what, quoteOrNone(x), quoteOrNone(y)))
		}
	}
	file := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s was %s, now %s", what, shortHash(x), shortHash(y)))
		}
	}
	str("backend", a.Backend, b.Backend)
	str("model", a.Model, b.Model)
	file("fine-tune record", a.FromSHA256, b.FromSHA256)
	file("model_file", a.ModelSHA256, b.ModelSHA256)
	file("mmproj", a.MmprojSHA256, b.MmprojSHA256)
	if len(a.LoRA) != len(b.LoRA) {
		out = append(out, fmt.Sprintf("LoRA adapters were %d, now %d", len(a.LoRA), len(b.LoRA)))
	} else {
		for i := range a.LoRA {
			file(fmt.Sprintf("LoRA %d", i+1), a.LoRA[i].SHA256, b.LoRA[i].SHA256)
			if a.LoRA[i].Scale != b.LoRA[i].Scale {
				out = append(out, fmt.Sprintf("LoRA %d scale was %g, now %g", i+1, a.LoRA[i].Scale, b.LoRA[i].Scale))
			}
		}
	}
	str("prompt", a.Prompt, b.Prompt)
	str("system prompt", a.System, b.System)
	str("detail", a.Detail, b.Detail)
	if a.Structured != b.Structured {
		out = append(out, fmt.Sprintf("structured was %t, now %t", a.Structured, b.Structured))
	}
	num := func(what string, x, y float64) {
		if x != y {
			out = append(out, fmt.Sprintf("%s was %s, now %s", what, strconv.FormatFloat(x, 'g', -1, 64), strconv.FormatFloat(y, 'g', -1, 64)))
		}
	}
	o, p := a.Options, b.Options
	num("max_tokens", float64(o.MaxTokens), float64(p.MaxTokens))
	num("temperature", o.Temperature, p.Temperature)
	num("top_k", float64(o.TopK), float64(p.TopK))
	num("top_p", o.TopP, p.TopP)
	num("seed", float64(o.Seed), float64(p.Seed))
	str("grammar", o.Grammar, p.Grammar)
	str("json_schema", o.JSONSchema, p.JSONSchema)
	return out
}

func quoteOrNone(s string) string {
	if s == "" {
		return "unset"
	}
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return strconv.Quote(s)
}

func shortHash(h string) string {
	if h == "" {
		return "none"
	}
	return "sha256 " + h[:min(12, len(h))]
}

// CheckIdentities checks every model of the run against info's recorded
// identities and records the identities of models it has none for (a run
// from before identities were recorded, or a model added on resume). It
// returns the first mismatch, naming the run.
func (info *RunInfo) CheckIdentities(now map[string]ModelIdentity) error {
	names := make([]string, 0, len(now))
	for n := range now {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if old, ok := info.Identities[n]; ok {
			if err := CheckIdentity(n, old, now[n]); err != nil {
				return fmt.Errorf("run %s: %w", info.ID, err)
			}
		}
	}
	if info.Identities == nil {
		info.Identities = map[string]ModelIdentity{}
	}
	for _, n := range names {
		if _, ok := info.Identities[n]; !ok {
			info.Identities[n] = now[n]
		}
	}
	return nil
}

// FileHashCacheEnv, when set, is the file in which [FileSHA256] keeps
// digests; otherwise it is filehash.json in the user's cache folder.
const FileHashCacheEnv = "VLMCMP_FILEHASH_CACHE"

var fileHashMu sync.Mutex

type fileHashEntry struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	SHA256  string    `json:"sha256"`
}

func fileHashCachePath() string {
	if p := os.Getenv(FileHashCacheEnv); p != "" {
		return p
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "vlmcmp", "filehash.json")
}

// FileSHA256 is the hex sha256 of the file at path. Model files are
// gigabytes, so digests are cached (see [FileHashCacheEnv]) by absolute path,
// size and modification time: a file rewritten in place is hashed again.
func FileSHA256(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	fileHashMu.Lock()
	defer fileHashMu.Unlock()
	cachePath := fileHashCachePath()
	cache := map[string]fileHashEntry{}
	if cachePath != "" {
		if b, err := os.ReadFile(cachePath); err == nil {
			json.Unmarshal(b, &cache) // a damaged cache is rebuilt
		}
	}
	if e, ok := cache[abs]; ok && e.Size == st.Size() && e.ModTime.Equal(st.ModTime()) && e.SHA256 != "" {
		return e.SHA256, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash model file %s: %w", abs, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if cachePath != "" {
		cache[abs] = fileHashEntry{Size: st.Size(), ModTime: st.ModTime(), SHA256: sum}
		if b, err := json.Marshal(cache); err == nil && os.MkdirAll(filepath.Dir(cachePath), 0o755) == nil {
			tmp := fmt.Sprintf("%s.%d.tmp", cachePath, os.Getpid())
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, cachePath)
			} else {
				os.Remove(tmp)
			}
		}
	}
	return sum, nil
}
