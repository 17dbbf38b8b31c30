package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

const azureTestKey = "azkeyDONOTSHOW0123456789abcdef01"

// azureEnv starts the Azure fake with its key in a key file (azure.key),
// clears the OpenAI variables (the Azure path must not need them) and
// moves into a fresh working directory.
func azureEnv(t *testing.T) *openaitest.Server {
	t.Helper()
	srv := openaitest.NewAzure(t)
	srv.Key = azureTestKey
	for _, k := range []string{"OPENAI_BASE_URL", "OPENAI_API_KEY", openaiclient.AzureKeyEnv, openaiclient.AzureEndpointEnv, openaiclient.AzureVersionEnv} {
		t.Setenv(k, "")
	}
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	t.Chdir(t.TempDir())
	if err := os.WriteFile("azure.key", []byte(azureTestKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv
}

// The Azure loop from the command line: prepare, finetune start --provider
// azure --wait, the deployment step it prints (done with the fake's
// helper, standing in for az), then compare with the printed models entry
// (the fine-tuned deployment) beside a base deployment: every held-out
// image scored by both. status and list find the provider in the record.
// The key is written nowhere: not in the output, any file of the run or
// the working folder, nor the response cache.
func TestFinetuneAzureLoop(t *testing.T) {
	srv := azureEnv(t)
	dir := prepared(t)
	var all strings.Builder
	code, out, errs := vlmcmp(t, t.Context(), "--log-level", "debug", "finetune", "start", "--provider", "azure", "--base-url", srv.Endpoint(),
		"--api-version", "2024-10-21", "--api-key-file", "azure.key", "--model", "gpt-4o-2024-08-06",
		"--train", dir+"/train_with_images.jsonl", "--val", dir+"/val_with_images.jsonl", "--suffix", "safety", "--wait", "--poll", "1ms")
	all.WriteString(out + errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	in := readInfo(t)
	if in.Status != "succeeded" || in.Provider != "azure" || in.Endpoint != srv.Endpoint() || in.APIVersion != "2024-10-21" ||
		!strings.HasPrefix(in.FineTunedModel, "gpt-4o-2024-08-06.ft-") || in.BaseURL != "" {
		t.Errorf("record %+v", in)
	}
	for _, want := range []string{
		"az cognitiveservices account deployment create",
		"--deployment-name vlmcmp-safety",
		"--model-name " + in.FineTunedModel + " --model-version 1 --model-format OpenAI",
		"backend: azure",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the success lacks %q:\n%s", want, out)
		}
	}
	// The models entry, as printed.
	i := strings.Index(out, "  - name: ")
	if i < 0 {
		t.Fatalf("no models entry in:\n%s", out)
	}
	var entries []struct {
		Name, Backend, Endpoint, Deployment, Model string
		APIVersion                                 string `yaml:"api_version"`
		APIKeyFile                                 string `yaml:"api_key_file"`
	}
	if err := yaml.Unmarshal([]byte(out[i:]), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("the models entry does not read as YAML (%v):\n%s", err, out[i:])
	}
	e := entries[0]
	if e.Backend != "azure" || e.Endpoint != srv.Endpoint() || e.Deployment != "vlmcmp-safety" || e.APIVersion != "2024-10-21" ||
		e.APIKeyFile != "azure.key" || e.Model != in.FineTunedModel {
		t.Errorf("entry %+v", e)
	}
	// status, wait and list need no --provider: the record has it.
	for _, args := range [][]string{{"finetune", "status"}, {"finetune", "list"}, {"finetune", "wait", "--poll", "1ms"}} {
		code, out, errs := vlmcmp(t, t.Context(), append(append([]string{"--log-level", "debug"}, args...), "--api-key-file", "azure.key")...)
		all.WriteString(out + errs)
		if code != 0 || !strings.Contains(out, "succeeded") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	// The deployment step, standing in for the az command printed, then
	// compare with the printed entry as it is, beside a base deployment:
	// vlmcmp's --base-url and --api-key-file are the OpenAI models' and
	// must not send Azure's requests elsewhere.
	if err := srv.Deploy(e.Deployment, in.FineTunedModel); err != nil {
		t.Fatal(err)
	}
	if err := srv.Deploy("gpt-4o-base", "gpt-4o-2024-08-06"); err != nil {
		t.Fatal(err)
	}
	cfg := "data: configs/vlm_safety_training_data.json\nmodels:\n" + out[i:] +
		"  - {name: gpt-4o-base, backend: azure, endpoint: " + srv.Endpoint() + ", deployment: gpt-4o-base, api_version: 2024-10-21, api_key_file: azure.key}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Requests())
	code, out, errs = vlmcmp(t, t.Context(), "--log-level", "debug", "compare", "--run-id", "az",
		"--base-url", "http://127.0.0.1:9/v1", "--api-key-file", "openai.key")
	all.WriteString(out + errs)
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s%s", code, out, errs)
	}
	run := filepath.Join("results", "model_comparison", "az")
	var info struct {
		Items []json.RawMessage `json:"items"`
	}
	b, err := os.ReadFile(filepath.Join(run, "run.json"))
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil || len(info.Items) < 3 {
		t.Fatalf("run.json: %v, %d items", err, len(info.Items))
	}
	for _, name := range []string{e.Name, "gpt-4o-base"} {
		scoredAll(t, run, name, len(info.Items), openaitest.ScoreOf)
	}
	chats := map[string]int{}
	for _, r := range srv.Requests()[before:] {
		if r.Status == 200 && r.Query == "api-version=2024-10-21" {
			chats[r.Path]++
		}
	}
	if chats["/openai/deployments/"+e.Deployment+"/chat/completions"] != len(info.Items) || chats["/openai/deployments/gpt-4o-base/chat/completions"] != len(info.Items) {
		t.Errorf("chat requests by path %v, want %d each", chats, len(info.Items))
	}
	keyNowhere(t, azureTestKey, all.String(), "azure.key")
	cache := os.Getenv("VLMCMP_CACHE_DIR")
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(azureTestKey)) {
				t.Errorf("the key appears in the cache's %s", p)
			}
		}
		return nil
	})
	for _, r := range srv.Requests() {
		if strings.Contains(string(r.Body), "DONOTSHOW") || !strings.HasPrefix(r.Path, "/openai/") {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
	}
}

// Azure's refusals from the command line, each with its hint.
func TestFinetuneAzureErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"no key", []string{"finetune", "list", "--provider", "azure"}, map[string]string{openaiclient.AzureEndpointEnv: "ENDPOINT"},
			[]string{"no Azure OpenAI API key: set AZURE_OPENAI_API_KEY or give api_key_file", "Set AZURE_OPENAI_API_KEY"}},
		{"wrong key", []string{"finetune", "list", "--provider", "azure", "--base-url", "ENDPOINT"}, map[string]string{openaiclient.AzureKeyEnv: "wrongkey0000"},
			[]string{"status 401: Access denied due to invalid subscription key or wrong API endpoint", "The Azure OpenAI resource refused the key"}},
		{"version not served", []string{"finetune", "list", "--provider", "azure", "--base-url", "ENDPOINT", "--api-key-file", "azure.key", "--api-version", "2019-01-01"}, nil,
			[]string{"status 400: API version not supported"}},
		{"request URL for an endpoint", []string{"finetune", "list", "--provider", "azure", "--base-url", "ENDPOINT/openai/deployments/x?api-version=2024-10-21", "--api-key-file", "azure.key"}, nil,
			[]string{"has a path or query; give the resource's root"}},
		{"version without azure", []string{"finetune", "list", "--api-version", "2024-10-21"}, nil, []string{"--api-version is Azure's: give --provider azure"}},
		{"unknown provider", []string{"finetune", "list", "--provider", "vertex"}, nil, []string{`--provider "vertex" is not openai or azure`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := azureEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, strings.ReplaceAll(v, "ENDPOINT", srv.Endpoint()))
			}
			var args []string
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "ENDPOINT", srv.Endpoint()))
			}
			code, out, errs := vlmcmp(t, t.Context(), args...)
			if code == 0 {
				t.Fatalf("exit 0:\n%s%s", out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if regexp.MustCompile(`DONOTSHOW|wrongkey`).MatchString(out + errs) {
				t.Errorf("a key shows:\n%s%s", out, errs)
			}
		})
	}
}

// vlmcmp pipeline --provider azure: the job runs on the Azure fake with
// the endpoint, version and key given, compare first runs without the
// fine-tuned model (with the reminder to deploy it), and once deployed and
// added to the config a second pipeline run skips prepare and finetune and
// scores it. The OpenAI variables are empty: nothing goes to OpenAI.
func TestPipelineAzure(t *testing.T) {
	srv := azureEnv(t)
	data := writeGroundTruth(t, 30)
	cfg := "data: " + data + "\nmodels:\n  - {name: mean, backend: baseline}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"--provider", "vertex"}, {"--api-version", "2024-10-21"}} {
		code, _, errs := vlmcmp(t, t.Context(), append([]string{"pipeline", "--auto", "--config", "vlmcmp.yaml"}, bad...)...)
		if code != 2 || !strings.Contains(errs, bad[0]) {
			t.Errorf("pipeline %v: exit %d %s", bad, code, errs)
		}
	}
	args := []string{"pipeline", "--auto", "--config", "vlmcmp.yaml", "--provider", "azure", "--base-url", srv.Endpoint(),
		"--api-version", "2024-10-21", "--api-key-file", "azure.key", "--poll", "1ms"}
	var all strings.Builder
	code, out, errs := vlmcmp(t, t.Context(), args...)
	all.WriteString(out + errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"step 2/4 finetune: vlmcmp finetune start --model gpt-4o-2024-08-06",
		"--provider azure --api-key-file azure.key --base-url " + srv.Endpoint() + " --api-version 2024-10-21",
		"step 3/4 compare: warning: the config has no azure model",
		"pipeline: done",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if regexp.MustCompile(`step 3/4 compare: vlmcmp compare .*(--base-url|--api-key-file)`).MatchString(errs) {
		t.Errorf("compare got Azure's flags:\n%s", errs)
	}
	in := readInfo(t)
	if in.Provider != "azure" || in.Status != "succeeded" {
		t.Fatalf("record %+v", in)
	}
	if err := srv.Deploy("vlmcmp-ft", in.FineTunedModel); err != nil {
		t.Fatal(err)
	}
	cfg += "  - {name: ft, backend: azure, endpoint: " + srv.Endpoint() + ", deployment: vlmcmp-ft, api_version: 2024-10-21, api_key_file: azure.key, model: " + in.FineTunedModel + "}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = vlmcmp(t, t.Context(), args...)
	all.WriteString(out + errs)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "step 1/4 prepare: skipped") || !strings.Contains(errs, "step 2/4 finetune: skipped, fine-tuned model "+in.FineTunedModel) ||
		strings.Contains(errs, "warning: the config has no azure model") {
		t.Errorf("second run's steps:\n%s", errs)
	}
	if !regexp.MustCompile(`(?m)^ft +\d+ +\d+ `).MatchString(out) {
		t.Errorf("no ft row in the metrics:\n%s", out)
	}
	keyNowhere(t, azureTestKey, all.String(), "azure.key")
}
