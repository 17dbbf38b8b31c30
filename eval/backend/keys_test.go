package backend

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// identityFixtures holds, per backend, specs that between them set every
// one of its keys (keys that exclude each other in different specs), and an
// env to identify them in. Each backend's test adds its own (in an init),
// so that a new backend stays one file and its test.
var identityFixtures = map[string]func(t *testing.T) ([]Spec, Env){}

// TestIdentityNamesEveryKey: every key of every backend is either named by
// its identity (as KEY or KEY.something) or declared in its Kind's
// SameAnswers; a new key that can change answers cannot be forgotten.
func TestIdentityNamesEveryKey(t *testing.T) {
	for _, name := range Names() {
		k := registry[name]
		fixture, ok := identityFixtures[name]
		if !ok {
			t.Errorf("backend %s has no identity fixture: add one to identityFixtures in its test", name)
			continue
		}
		specs, env := fixture(t)
		id := Identity{}
		for _, spec := range specs {
			one, err := spec.Identity(env)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			maps.Copy(id, one)
		}
		for _, key := range yamlKeys(reflect.TypeOf(specs[0]).Elem()) {
			named := slices.ContainsFunc(slices.Collect(maps.Keys(id)), func(k string) bool {
				return k == key || strings.HasPrefix(k, key+".")
			})
			if !named && !slices.Contains(k.SameAnswers, key) {
				t.Errorf("backend %s: key %s is neither in the identity %v nor in SameAnswers", name, key, id)
			}
			if named && slices.Contains(k.SameAnswers, key) {
				t.Errorf("backend %s: key %s is in the identity and in SameAnswers", name, key)
			}
		}
	}
}

func init() {
	identityFixtures["echo-test"] = func(*testing.T) ([]Spec, Env) { return []Spec{&echoSpec{Answer: 5, Notes: "n"}}, Env{} }
}
