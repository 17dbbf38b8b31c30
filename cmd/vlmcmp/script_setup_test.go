package main

import (
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// fakeKey is where a script's fake OpenAI server is kept in its Env.Values.
type fakeKey struct{}

// setupScript starts what scripts talk to: a fake OpenAI API of their own
// (package openaitest), at OPENAI_BASE_URL with its key in OPENAI_API_KEY
// and FAKE_OPENAI_URL and FAKE_OPENAI_KEY (a script unsets OPENAI_API_KEY to test a missing
// key). No script can reach the real API. The server lives until t ends.
func setupScript(t *testing.T, env *testscript.Env) error {
	fake := openaitest.New(t)
	env.Values[fakeKey{}] = fake
	env.Setenv("OPENAI_BASE_URL", fake.URL())
	env.Setenv("OPENAI_API_KEY", fake.Key)
	env.Setenv("FAKE_OPENAI_KEY", fake.Key)
	env.Setenv("FAKE_OPENAI_URL", fake.URL())
	return nil
}

// cmdOpenAIRequests checks how many chat completions the script's fake
// OpenAI server has answered so far: openai-requests N.
func cmdOpenAIRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: openai-requests N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	fake := ts.Value(fakeKey{}).(*openaitest.Server)
	got := fake.Count("POST", "/v1/chat/completions")
	if (got == want) == neg {
		ts.Fatalf("the fake OpenAI API answered %d chat requests, want %s%d", got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
	ts.Logf("%d chat requests", got)
}
