package finetune

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// Start and Follow on an Azure resource: the record names the provider,
// endpoint and version (never the key), the job's fine-tuned model gets
// the deployment step, and once deployed both it and a base deployment
// score every held-out image.
func TestStartFollowAzure(t *testing.T) {
	srv := openaitest.NewAzure(t)
	ds := writeData(t, 20, "gt.json", nil)
	dir := t.TempDir()
	if _, err := Prepare(Options{Train: ds.Items[:16], Val: ds.Items[16:], OutDir: dir, Model: "gpt-4o-2024-08-06"}); err != nil {
		t.Fatal(err)
	}
	ft, err := openaiclient.NewAzureFineTuning(openaiclient.AzureConfig{Endpoint: srv.Endpoint(), APIVersion: "2025-04-01-preview", APIKey: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	ft.Poll = time.Millisecond
	infoPath := filepath.Join(t.TempDir(), "info.json")
	job, info, err := Start(t.Context(), ft, StartOptions{Train: filepath.Join(dir, TrainImagesFile), Val: filepath.Join(dir, ValImagesFile),
		Model: "gpt-4o-2024-08-06", Epochs: 2, Seed: 7, Info: infoPath})
	if err != nil {
		t.Fatal(err)
	}
	end, err := Follow(t.Context(), ft, job.ID, info, infoPath, Observer{})
	if err != nil || end.Status != "succeeded" {
		t.Fatalf("job %+v: %v", end, err)
	}
	rec, err := openaiclient.ReadInfo(infoPath)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Provider != "azure" || rec.Endpoint != srv.Endpoint() || rec.APIVersion != "2025-04-01-preview" || rec.BaseURL != "" ||
		!strings.HasPrefix(rec.FineTunedModel, "gpt-4o-2024-08-06.ft-") || rec.Step == 0 {
		t.Errorf("record %+v", rec)
	}
	if b, _ := os.ReadFile(infoPath); bytes.Contains(b, []byte(srv.Key)) {
		t.Error("the record holds the key")
	}
	d := DeploymentFor(rec, "")
	if d.Model != rec.FineTunedModel || !strings.HasPrefix(d.Name, "vlmcmp-ft-") || !strings.Contains(d.Command(), "--model-name "+rec.FineTunedModel) ||
		!strings.Contains(d.YAML(), "# api_key_file: FILE   (else $AZURE_OPENAI_API_KEY)") {
		t.Errorf("deployment step %+v:\n%s\n%s", d, d.Command(), d.YAML())
	}
	if err := srv.Deploy(d.Name, d.Model); err != nil {
		t.Fatal(err)
	}
	srv.Deploy("base", "gpt-4o-2024-08-06")
	for _, dep := range []string{d.Name, "base"} {
		p, err := openaiclient.NewAzurePredictor(openaiclient.AzureConfig{Endpoint: rec.Endpoint, Deployment: dep, APIVersion: rec.APIVersion, APIKey: srv.Key})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range ds.Items[16:] {
			pred, err := p.Predict(t.Context(), &llm.Request{ID: it.ID, ImagePath: it.ImagePath, Prompt: llm.DefaultPrompt})
			if err != nil || pred.Score == nil {
				t.Fatalf("%s on %s: %+v %v", it.ID, dep, pred, err)
			}
			b, _ := os.ReadFile(it.ImagePath)
			img, _, _ := image.Decode(bytes.NewReader(b))
			if want := float64(openaitest.ScoreOf(img)); *pred.Score != want {
				t.Errorf("%s on %s: %v, want %v", it.ID, dep, *pred.Score, want)
			}
		}
	}
}

func TestDeploymentFor(t *testing.T) {
	for _, tt := range []struct {
		endpoint, suffix, job string
		resource, name        string
	}{
		{"https://myres.openai.azure.com", "safety", "ftjob-0123456789abcdef", "myres", "vlmcmp-safety"},
		{"https://other.cognitiveservices.azure.com", "", "ftjob-0123456789abcdef", "other", "vlmcmp-ft-89abcdef"},
		{"http://127.0.0.1:8080", "a b/c", "ftjob-1", "<resource-name>", "vlmcmp-a-b-c"},
		{"https://a.b.openai.azure.com", "", "x", "<resource-name>", "vlmcmp-ft-x"},
	} {
		d := DeploymentFor(&openaiclient.Info{Endpoint: tt.endpoint, Suffix: tt.suffix, JobID: tt.job, FineTunedModel: "m.ft-1", APIVersion: "2024-10-21"}, "k.txt")
		if d.Resource != tt.resource || d.Name != tt.name {
			t.Errorf("%s %q %s: resource %q name %q, want %q %q", tt.endpoint, tt.suffix, tt.job, d.Resource, d.Name, tt.resource, tt.name)
		}
		if !strings.Contains(d.Command(), "--name "+d.Resource+" ") || !strings.Contains(d.YAML(), "api_key_file: k.txt") {
			t.Errorf("%s\n%s", d.Command(), d.YAML())
		}
	}
}
