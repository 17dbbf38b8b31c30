package backend

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	identityFixtures["azure"] = func(t *testing.T) ([]Spec, Env) {
		return []Spec{&AzureSpec{Endpoint: "https://r.openai.azure.com", Deployment: "d", APIVersion: "2024-10-21", APIKeyFile: "k",
			Model: "gpt-4o-2024-08-06", Detail: "high", Structured: true}}, Env{}
	}
}

// clearAzureEnv empties the variables the azure backend reads.
func clearAzureEnv(t *testing.T) {
	for _, k := range []string{openaiclient.AzureKeyEnv, openaiclient.AzureEndpointEnv, openaiclient.AzureVersionEnv, "OPENAI_API_KEY", "OPENAI_BASE_URL"} {
		t.Setenv(k, "")
	}
}

// The azure backend from its YAML entry against the loopback fake of
// Azure's data plane: the request goes to the entry's deployment with its
// api-version whatever vlmcmp's --base-url and --api-key-file say (they
// are the OpenAI models'), the key comes from api_key_file, the score is
// read, the identity names endpoint, deployment, version and model but
// never the key, and the second ask comes from the cache.
func TestAzureBackend(t *testing.T) {
	clearAzureEnv(t)
	srv := openaitest.NewAzure(t)
	if err := srv.Deploy("scorer", "gpt-4o-2024-08-06"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "azure.key"), []byte(srv.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := decodeEntry(t, dir, "name: az\nbackend: azure\nendpoint: "+srv.Endpoint()+"\ndeployment: scorer\napi_version: 2024-10-21\n"+
		"api_key_file: azure.key\nmodel: gpt-4o-2024-08-06\ndetail: low\nmax_tokens: 30\n")
	if err != nil {
		t.Fatal(err)
	}
	env := Env{OpenAI: OpenAIOverrides{BaseURL: "http://openai.invalid/v1", APIKeyFile: filepath.Join(dir, "missing.key")}}
	if r := spec.Ready(env); !r.Ready || r.Reason != "deployment scorer at "+srv.Endpoint()+", key from file azure.key" {
		t.Errorf("readiness %+v", r)
	}
	cache, err := llm.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env.Cache = cache
	id, err := ModelIdentity(spec, "Rate it.", "", env)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{"backend": "azure", "endpoint": srv.Endpoint(), "deployment": "scorer", "api_version": "2024-10-21",
		"model": "gpt-4o-2024-08-06", "detail": "low", "structured": "false", "seed": strconv.Itoa(openaiclient.DefaultSeed), "max_tokens": "30", "temperature": "0",
		"prompt": "Rate it."}
	if id.Key() != want.Key() {
		t.Errorf("identity %v, want %v", id, want)
	}
	data, img := grey(t, 90)
	req := &llm.Request{ID: "a.png", Image: data, Prompt: "Rate it."}
	for i := range 2 {
		b, err := Build(t.Context(), "az", spec, id, env)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Predictor.Predict(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Score == nil || *p.Score != float64(openaitest.ScoreOf(img)) || p.Cached != (i == 1) {
			t.Errorf("answer %d: %+v", i+1, p)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Status != 200 || reqs[0].Path != "/openai/deployments/scorer/chat/completions" ||
		reqs[0].Query != "api-version=2024-10-21" || reqs[0].Chat == nil || reqs[0].Chat.Detail != "low" {
		t.Errorf("requests %+v", reqs)
	}
	for k, v := range id {
		if strings.Contains(k+v, srv.Key) {
			t.Errorf("the identity holds the key: %s", k)
		}
	}
}

// Without endpoint, api_version and api_key_file the entry takes them
// from the variables the official SDKs read; changing the version or the
// endpoint changes the identity.
func TestAzureFromEnvironment(t *testing.T) {
	clearAzureEnv(t)
	srv := openaitest.NewAzure(t)
	if err := srv.Deploy("gpt-4o-mini", "gpt-4o-mini"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(openaiclient.AzureEndpointEnv, srv.Endpoint())
	t.Setenv(openaiclient.AzureVersionEnv, "2025-04-01-preview")
	spec, err := decodeEntry(t, "", "name: az\nbackend: azure\ndeployment: gpt-4o-mini\n")
	if err != nil {
		t.Fatal(err)
	}
	if r := spec.Ready(Env{}); r.Ready || !strings.Contains(r.Reason, "set AZURE_OPENAI_API_KEY or give api_key_file") {
		t.Errorf("no key: %+v", r)
	}
	t.Setenv(openaiclient.AzureKeyEnv, srv.Key)
	id, err := spec.Identity(Env{})
	if err != nil {
		t.Fatal(err)
	}
	if id["endpoint"] != srv.Endpoint() || id["api_version"] != "2025-04-01-preview" || id["model"] != "gpt-4o-mini" {
		t.Errorf("identity %v", id)
	}
	b, err := Build(t.Context(), "az", spec, id, Env{})
	if err != nil {
		t.Fatal(err)
	}
	data, img := grey(t, 30)
	p, err := b.Predictor.Predict(t.Context(), &llm.Request{Image: data, Prompt: "Rate it."})
	if err != nil || p.Score == nil || *p.Score != float64(openaitest.ScoreOf(img)) {
		t.Fatalf("%+v %v", p, err)
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Query != "api-version=2025-04-01-preview" {
		t.Errorf("requests %+v", r)
	}
	t.Setenv(openaiclient.AzureVersionEnv, "2024-10-21")
	if other, _ := spec.Identity(Env{}); other.Key() == id.Key() {
		t.Error("the identity does not change with the API version")
	}
}

// Mistakes in an azure entry are the config's, naming the key.
func TestAzureEntryErrors(t *testing.T) {
	clearAzureEnv(t)
	for _, tt := range []struct{ entry, key, want string }{
		{"endpoint: https://r.openai.azure.com\n", "deployment", "azure models need deployment: NAME"},
		{"deployment: 'my deployment'\n", "deployment", `deployment "my deployment" is not a deployment name`},
		{"deployment: d\nendpoint: https://r.openai.azure.com/openai/deployments/d\n", "endpoint", "has a path or query; give the resource's root, https://r.openai.azure.com"},
		{"deployment: d\napi_version: latest\n", "api_version", `api_version "latest" is not a version such as 2024-10-21`},
		{"deployment: d\ndetail: medium\n", "detail", `detail "medium" is not one of low, high, auto`},
		{"deployment: d\nbase_url: https://r.openai.azure.com\n", "base_url", `unknown key "base_url" for backend azure`},
	} {
		_, err := decodeEntry(t, "", "name: az\nbackend: azure\n"+tt.entry)
		if key, _ := usage.Is(err); err == nil || key != tt.key || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v (key %q), want %q naming %s", tt.entry, err, key, tt.want, tt.key)
		}
	}
	spec, err := decodeEntry(t, "", "name: az\nbackend: azure\ndeployment: d\n")
	if err != nil {
		t.Fatal(err)
	}
	if r := spec.Ready(Env{}); r.Ready || !strings.Contains(r.Reason, "no endpoint") {
		t.Errorf("no endpoint: %+v", r)
	}
}

// An openai entry's model: {from: FILE} refuses an Azure job's record,
// pointing to the azure backend; an OpenAI job's record still names its
// model.
func TestOpenAIFromRefusesAzureRecord(t *testing.T) {
	clearAzureEnv(t)
	t.Setenv("OPENAI_API_KEY", "sk-test")
	dir := t.TempDir()
	write := func(info openaiclient.Info) {
		t.Helper()
		if err := openaiclient.WriteInfo(filepath.Join(dir, "fine_tune_info.json"), &info); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := decodeEntry(t, dir, "name: ft\nbackend: openai\nmodel: {from: fine_tune_info.json}\n")
	if err != nil {
		t.Fatal(err)
	}
	write(openaiclient.Info{JobID: "ftjob-1", Status: "succeeded", FineTunedModel: "ft:gpt-4o-mini-2024-07-18:org::abc"})
	if id, err := spec.Identity(Env{}); err != nil || id["model"] != "ft:gpt-4o-mini-2024-07-18:org::abc" {
		t.Fatalf("OpenAI record: %v %v", id, err)
	}
	write(openaiclient.Info{JobID: "ftjob-2", Status: "succeeded", FineTunedModel: "gpt-4o-2024-08-06.ft-2", Provider: "azure",
		Endpoint: "https://r.openai.azure.com", APIVersion: "2024-10-21"})
	_, err = spec.Identity(Env{})
	if key, _ := usage.Is(err); key != "model" || err == nil || !strings.Contains(err.Error(), "records an Azure OpenAI fine-tuning job") ||
		!strings.Contains(err.Error(), "backend: azure entry") {
		t.Errorf("Azure record: %v", err)
	}
	if r := spec.Ready(Env{}); r.Ready || !strings.Contains(r.Reason, "backend: azure") {
		t.Errorf("readiness %+v", r)
	}
}
