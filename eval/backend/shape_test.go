package backend

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/usage"
)

// echoSpec is a backend written the way a new one is (one file: a spec
// type and its Kind registered in init), here to prove that shape: its keys
// decode, unknown keys are refused by line, its path is resolved, and its
// identity keys the cache.
type echoSpec struct {
	Answer float64 `yaml:"answer"`
	Notes  string  `yaml:"notes" vlmcmp:"path"`
	common Common
}

func init() {
	register(Kind{Name: "echo-test", New: func(c Common) Spec { return &echoSpec{common: c} }, Cached: true, SameAnswers: []string{"notes"}})
}

func (s *echoSpec) Validate() error {
	if s.Answer < llm.ScoreMin || s.Answer > llm.ScoreMax {
		return usage.Errorf("answer", "answer %g is off the scale", s.Answer)
	}
	return nil
}

func (s *echoSpec) Identity(Env) (Identity, error) {
	return Identity{"backend": "echo-test", "answer": strconv.FormatFloat(s.Answer, 'g', -1, 64)}, nil
}

func (s *echoSpec) Ready(Env) Readiness { return Readiness{true, "always"} }

func (s *echoSpec) Build(context.Context, Env) (*Built, error) {
	return &Built{Predictor: &counting{v: s.Answer}}, nil
}

func (s *echoSpec) Describe() string { return "echo" }

type counting struct {
	v     float64
	calls int
}

func (c *counting) Predict(_ context.Context, _ *llm.Request) (*llm.Prediction, error) {
	c.calls++
	v := c.v
	return &llm.Prediction{Score: &v, Text: "echo"}, nil
}

func TestNewBackendIsOneFile(t *testing.T) {
	decode := func(text string) (Spec, error) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(text), &n); err != nil {
			t.Fatal(err)
		}
		return Decode(Common{Name: "e", Backend: "echo-test", Dir: "/cfg"}, n.Content[0])
	}
	spec, err := decode("name: e\nbackend: echo-test\nanswer: 7\nnotes: n.txt\n")
	if err != nil {
		t.Fatal(err)
	}
	if e := spec.(*echoSpec); e.Answer != 7 || e.Notes != filepath.Join("/cfg", "n.txt") {
		t.Errorf("decoded %+v", e)
	}
	_, err = decode("name: e\nbackend: echo-test\n\nanswr: 7\n")
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 || !strings.Contains(err.Error(), `unknown key "answr" for backend echo-test (its keys: name, backend, prompt, system, max_tokens, concurrency, answer, notes)`) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := decode("answer: 11\n"); err == nil {
		t.Error("Validate not called")
	} else if key, ok := usage.Is(err); !ok || key != "answer" {
		t.Errorf("%v: key %q", err, key)
	}

	cache, err := llm.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Cache: cache}
	id, _ := ModelIdentity(spec, "p", "", env)
	req := &llm.Request{Image: []byte("img"), Prompt: "p"}
	for i := range 2 {
		b, err := Build(t.Context(), "e", spec, id, env)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Predictor.Predict(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cached != (i == 1) {
			t.Errorf("answer %d: cached %v", i+1, p.Cached)
		}
	}
	other, _ := decode("answer: 6\n")
	oid, _ := ModelIdentity(other, "p", "", env)
	b, _ := Build(t.Context(), "e", other, oid, env)
	p, _ := b.Predictor.Predict(t.Context(), req)
	if p.Cached || *p.Score != 6 {
		t.Errorf("another spec answered %v from the cache (cached %v)", *p.Score, p.Cached)
	}
}
