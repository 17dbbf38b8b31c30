package eval

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
)

// ModelIdentity is everything that decides a model's answers, as recorded
// in run.json (see [backend.Identity]): two identities that differ give
// answers that must not share a predictions file.
type ModelIdentity = backend.Identity

// ConfigIdentity is the identity of a configured model asked with its
// prompts (the config's when it has none of its own), as env resolves it.
// Its files are hashed with [backend.FileSHA256].
func ConfigIdentity(cfg *config.Config, m *config.Model, env backend.Env) (ModelIdentity, error) {
	prompt, system := cfg.PromptFor(m)
	id, err := backend.ModelIdentity(m.Spec, prompt, system, env)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
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
func identityChanges(a, b ModelIdentity) []string { return backend.Diff(a, b) }

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
