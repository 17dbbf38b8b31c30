package openaiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// newAzurePredictor returns a predictor of deployment on srv with fast
// retries and short deployment waits, its debug log in the buffer.
func newAzurePredictor(t testing.TB, srv *openaitest.Server, deployment string, mod func(*AzureConfig)) (*AzurePredictor, *bytes.Buffer) {
	t.Helper()
	var logBuf bytes.Buffer
	cfg := AzureConfig{Endpoint: srv.Endpoint(), Deployment: deployment, APIVersion: "2024-10-21", APIKey: srv.Key,
		DeploymentWait: time.Millisecond, Options: Config{RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond, Timeout: 5 * time.Second,
			Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))}}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewAzurePredictor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, &logBuf
}

func TestAzureConfigResolve(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "azure.key")
	os.WriteFile(keyFile, []byte("AZURE_OPENAI_API_KEY=filekey0123\n"), 0o600)
	tests := []struct {
		name    string
		cfg     AzureConfig
		env     map[string]string
		want    AzureIdentity
		key     string
		wantErr string
		is      error
	}{
		{name: "all given", cfg: AzureConfig{Endpoint: "https://res.openai.azure.com/", Deployment: "gpt4o", APIVersion: "2025-04-01-preview", APIKey: "k1"},
			want: AzureIdentity{Endpoint: "https://res.openai.azure.com", Deployment: "gpt4o", APIVersion: "2025-04-01-preview"}, key: "k1"},
		{name: "from the environment", cfg: AzureConfig{Deployment: "d"},
			env:  map[string]string{AzureEndpointEnv: "https://env.openai.azure.com", AzureVersionEnv: "2024-06-01", AzureKeyEnv: "envkey"},
			want: AzureIdentity{Endpoint: "https://env.openai.azure.com", Deployment: "d", APIVersion: "2024-06-01"}, key: "envkey"},
		{name: "default version, key file over the variable", cfg: AzureConfig{Endpoint: "https://r.cognitiveservices.azure.com", Deployment: "d", APIKeyFile: keyFile},
			env:  map[string]string{AzureKeyEnv: "envkey"},
			want: AzureIdentity{Endpoint: "https://r.cognitiveservices.azure.com", Deployment: "d", APIVersion: DefaultAzureAPIVersion}, key: "filekey0123"},
		{name: "no endpoint", cfg: AzureConfig{Deployment: "d", APIKey: "k"}, wantErr: "no endpoint: give the resource's endpoint (https://NAME.openai.azure.com) or set AZURE_OPENAI_ENDPOINT"},
		{name: "request URL as endpoint", cfg: AzureConfig{Endpoint: "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21", Deployment: "d", APIKey: "k"},
			wantErr: "has a path or query; give the resource's root, https://r.openai.azure.com"},
		{name: "password in endpoint", cfg: AzureConfig{Endpoint: "https://u:secretpw@r.openai.azure.com", Deployment: "d", APIKey: "k"}, wantErr: "holds a user name or password"},
		{name: "not a URL", cfg: AzureConfig{Endpoint: "r.openai.azure.com", Deployment: "d", APIKey: "k"}, wantErr: "is not an http(s) URL"},
		{name: "bad version", cfg: AzureConfig{Endpoint: "https://r.openai.azure.com", Deployment: "d", APIVersion: "v1", APIKey: "k"}, wantErr: `api_version "v1" is not a version`},
		{name: "no deployment", cfg: AzureConfig{Endpoint: "https://r.openai.azure.com", APIKey: "k"}, wantErr: "no deployment"},
		{name: "bad deployment", cfg: AzureConfig{Endpoint: "https://r.openai.azure.com", Deployment: "my deployment", APIKey: "k"}, wantErr: "is not a deployment name"},
		{name: "no key", cfg: AzureConfig{Endpoint: "https://r.openai.azure.com", Deployment: "d"}, wantErr: "set AZURE_OPENAI_API_KEY or give api_key_file", is: ErrAzureNoKey},
		{name: "missing key file", cfg: AzureConfig{Endpoint: "https://r.openai.azure.com", Deployment: "d", APIKeyFile: "/nonexistent/key"},
			wantErr: "key file /nonexistent/key not found", is: ErrAzureNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{AzureEndpointEnv, AzureVersionEnv, AzureKeyEnv} {
				t.Setenv(k, tt.env[k])
			}
			err := tt.cfg.Ready()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Ready: %v, want %q", err, tt.wantErr)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("%v does not wrap %v", err, tt.is)
				}
				if strings.Contains(err.Error(), "secretpw") {
					t.Errorf("the password shows: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := tt.cfg.Resolve(true)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Identity(); got != tt.want {
				t.Errorf("identity %+v, want %+v", got, tt.want)
			}
			key, _, _ := r.Key()
			if key != tt.key {
				t.Errorf("key %q, want %q", key, tt.key)
			}
			b, _ := json.Marshal(r.Identity())
			if strings.Contains(string(b), key) {
				t.Errorf("identity %s holds the key", b)
			}
		})
	}
}

// A predictor is made and checked without a request; its requests go to
// the deployment's path with api-version and api-key, every image is
// scored, and the answer budget goes as max_tokens (Azure's GA versions).
func TestAzurePredictorScores(t *testing.T) {
	srv := openaitest.NewAzure(t)
	if err := srv.Deploy("scorer", "gpt-4o-2024-08-06"); err != nil {
		t.Fatal(err)
	}
	p, logBuf := newAzurePredictor(t, srv, "scorer", nil)
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests before predicting", n)
	}
	shades := []uint8{10, 120, 250}
	var reqs []*llm.Request
	for i, s := range shades {
		reqs = append(reqs, &llm.Request{ID: string(rune('a' + i)), Image: pngOf(t, 64, 48, s), Prompt: llm.DefaultPrompt})
	}
	got := map[string]*llm.Prediction{}
	for r := range p.PredictBatch(t.Context(), reqs) {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Request.ID, r.Err)
		}
		got[r.Request.ID] = r.Prediction
	}
	for i, s := range shades {
		pred := got[string(rune('a'+i))]
		img, _, _ := image.Decode(bytes.NewReader(pngOf(t, 64, 48, s)))
		if want := float64(openaitest.ScoreOf(img)); pred == nil || pred.Score == nil || *pred.Score != want {
			t.Errorf("shade %d: %+v, want score %v", s, pred, want)
			continue
		}
		if pred.Backend != "azure" || pred.Model != "gpt-4o-2024-08-06" || pred.Server == nil || pred.Server.URL != srv.Endpoint() {
			t.Errorf("prediction %+v %+v", pred, pred.Server)
		}
	}
	for _, r := range srv.Requests() {
		if r.Path != "/openai/deployments/scorer/chat/completions" || r.Status != 200 {
			t.Errorf("request %s %s answered %d", r.Method, r.Path, r.Status)
		}
		if r.Chat == nil || r.Chat.MaxTokensParam != "max_tokens" {
			t.Errorf("answer budget sent as %+v, want max_tokens", r.Chat)
		}
	}
	if id := p.Identity(); id.Deployment != "scorer" || id.Endpoint != srv.Endpoint() || id.APIVersion != "2024-10-21" {
		t.Errorf("identity %+v", id)
	}
	if strings.Contains(logBuf.String(), srv.Key) {
		t.Error("the key is in the debug log")
	}
}

// Azure's errors as Azure writes them: each test names what the client must
// make of one.
func TestAzureErrors(t *testing.T) {
	tests := []struct {
		name       string
		deployment string
		setup      func(*openaitest.Server)
		mod        func(*AzureConfig)
		chats      int // chat requests the fake sees
		wantErr    string
		is         error
		minWait    time.Duration
	}{
		{name: "invalid key refused at once", deployment: "d", mod: func(c *AzureConfig) { c.APIKey = "wrongwrongwrongwrongwrongwrong00" },
			chats: 1, wantErr: "status 401: Access denied due to invalid subscription key or wrong API endpoint", is: ErrAzureUnauthorized},
		{name: "unknown deployment waited for, then named", deployment: "nope", mod: func(c *AzureConfig) { c.DeploymentRetries = 2 },
			chats: 3, wantErr: "azure deployment nope at", is: ErrDeploymentNotFound},
		{name: "new deployment answers after its first minutes", deployment: "d", setup: func(s *openaitest.Server) { s.SetDeployLag(2); s.Deploy("d", "gpt-4o-2024-08-06") },
			chats: 3},
		{name: "version Azure does not serve", deployment: "d", mod: func(c *AzureConfig) { c.APIVersion = "2019-01-01" }, chats: 1, wantErr: "status 400: API version not supported"},
		{name: "429 waits its retry-after", deployment: "d", setup: func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Path: "/openai/deployments/d/", Status: 429, RetryAfter: "0.3",
				Message: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second."})
		}, chats: 2, minWait: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.NewAzure(t)
			srv.Deploy("d", "gpt-4o-2024-08-06")
			if tt.setup != nil {
				tt.setup(srv)
			}
			p, _ := newAzurePredictor(t, srv, tt.deployment, tt.mod)
			start := time.Now()
			pred, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, 32, 32, 200), Prompt: "Rate"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("%v does not wrap %v", err, tt.is)
				}
				if strings.Contains(err.Error(), srv.Key) {
					t.Errorf("the key shows: %v", err)
				}
			} else if err != nil || pred.Score == nil {
				t.Fatalf("pred %+v, err %v", pred, err)
			}
			if n := srv.Count("POST", "/openai/deployments/"); n != tt.chats {
				t.Errorf("%d chat requests, want %d", n, tt.chats)
			}
			if el := time.Since(start); el < tt.minWait {
				t.Errorf("answered after %s, before the server's %s", el, tt.minWait)
			}
			srv.Verify(t)
		})
	}
}

// Once a deployment is known not to exist, later requests fail at once;
// each is a missing answer (no_model), not the model's "no score".
func TestAzureDeploymentGoneFailsFast(t *testing.T) {
	srv := openaitest.NewAzure(t)
	p, _ := newAzurePredictor(t, srv, "nope", func(c *AzureConfig) { c.DeploymentRetries = 1 })
	for range 3 {
		_, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 8, 8, 1)})
		if !errors.Is(err, ErrDeploymentNotFound) || llm.MissingReason(err) != llm.MissingNoModel {
			t.Fatalf("err %v (missing %q)", err, llm.MissingReason(err))
		}
	}
	if n := srv.Count("POST", "/openai/deployments/"); n != 2 {
		t.Errorf("%d requests, want 2 (the first and its one retry)", n)
	}
}

// A content-filter refusal is the model's answer without a score, with the
// reason; not an error (a missing answer).
func TestAzureContentFilterIsARefusal(t *testing.T) {
	for _, tt := range []struct{ kind, want string }{
		{"prompt", "refused by Azure OpenAI's content filter: The response was filtered due to the prompt triggering Azure OpenAI's content management policy"},
		{"completion", "refused by the content filter: the answer was filtered for violence (medium)"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			srv := openaitest.NewAzure(t)
			srv.Deploy("d", "gpt-4o-2024-08-06")
			srv.FilterNext(tt.kind, 1)
			p, _ := newAzurePredictor(t, srv, "d", nil)
			pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 32, 32, 90), Prompt: "Rate"})
			if err != nil {
				t.Fatalf("a refusal came back as an error: %v", err)
			}
			if pred.Score != nil || !strings.Contains(pred.ScoreError, tt.want) || pred.Backend != "azure" {
				t.Errorf("prediction %+v, want no score and %q", pred, tt.want)
			}
			if n := srv.Count("POST", "/openai/deployments/"); n != 1 {
				t.Errorf("%d requests: a refusal is not retried", n)
			}
			// The next image is scored.
			if pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 32, 32, 90), Prompt: "Rate"}); err != nil || pred.Score == nil {
				t.Errorf("after the refusal: %+v %v", pred, err)
			}
		})
	}
}

// The fake is as strict as Azure: no api-version, a bearer token instead of
// api-key, OpenAI's paths.
func TestAzureFakeStrict(t *testing.T) {
	srv := openaitest.NewAzure(t)
	srv.Deploy("d", "gpt-4o-2024-08-06")
	for _, tt := range []struct {
		name, path string
		header     [2]string
		status     int
		want       string
	}{
		{"no api-version", "/openai/deployments/d/chat/completions", [2]string{"api-key", srv.Key}, 404, `"message":"Resource not found"`},
		{"bearer, not api-key", "/openai/deployments/d/chat/completions?api-version=2024-10-21", [2]string{"Authorization", "Bearer " + srv.Key}, 401, "missing subscription key"},
		{"OpenAI's path", "/v1/chat/completions?api-version=2024-10-21", [2]string{"api-key", srv.Key}, 404, "Resource not found"},
		{"unknown deployment", "/openai/deployments/x/chat/completions?api-version=2024-10-21", [2]string{"api-key", srv.Key}, 404, `"code":"DeploymentNotFound"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawAzure(t, srv, "POST", tt.path, tt.header, []byte(`{"messages":[{"role":"user","content":"hi"}]}`))
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%d %s, want %d with %q", status, body, tt.status, tt.want)
			}
		})
	}
	if err := srv.Deploy("e", "gpt-4o-2024-08-06.ft-0000"); err == nil {
		t.Error("deployed a fine-tuned model the resource never made")
	}
}

func rawAzure(t *testing.T, srv *openaitest.Server, method, path string, header [2]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.Endpoint()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header[0], header[1])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The whole loop on Azure: upload, job (hyperparameters at the top level,
// as Azure's GA versions take them), its events to the end, the deployment
// of the fine-tuned model, and scoring with it beside a base deployment.
func TestAzureFineTuneThenScore(t *testing.T) {
	srv := openaitest.NewAzure(t)
	ft, err := NewAzureFineTuning(AzureConfig{Endpoint: srv.Endpoint(), APIVersion: "2024-10-21", APIKey: srv.Key,
		Options: Config{RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ft.Poll = time.Millisecond
	if ft.Provider() != "azure" || ft.BaseURL() != srv.Endpoint() || ft.APIVersion() != "2024-10-21" {
		t.Errorf("client %s %s %s", ft.Provider(), ft.BaseURL(), ft.APIVersion())
	}
	file, err := ft.Upload(t.Context(), writeJSONL(t, "train.jsonl", 12, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ft.WaitProcessed(t.Context(), file.ID); err != nil {
		t.Fatal(err)
	}
	epochs, seed := 2, int64(7)
	job, err := ft.CreateJob(t.Context(), JobRequest{Model: "gpt-4o-mini-2024-07-18", TrainingFile: file.ID, Seed: &seed,
		Method: &Method{Type: "supervised", Supervised: &Supervised{Hyperparameters: Hyperparameters{Epochs: &epochs}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "/openai/fine_tuning/jobs" {
			var body map[string]any
			json.Unmarshal(r.Body, &body)
			if _, ok := body["method"]; ok || body["hyperparameters"] == nil {
				t.Errorf("job request %s: want the hyperparameters at the top level", r.Body)
			}
		}
	}
	end, err := ft.Follow(t.Context(), job.ID, "", func(Event) {}, func(*Job) {})
	if err != nil || end.Status != "succeeded" || !strings.HasPrefix(end.FineTunedModel, "gpt-4o-mini-2024-07-18.ft-") {
		t.Fatalf("job %+v, err %v", end, err)
	}
	if _, err := ft.CreateJob(t.Context(), JobRequest{Model: "gpt-4-0613", TrainingFile: file.ID}); err == nil || !strings.Contains(err.Error(), "does not support fine-tuning") {
		t.Errorf("a base model Azure does not fine-tune: %v", err)
	}
	// The deployment step (az, here the fake's helper).
	if err := srv.Deploy("base", "gpt-4o-2024-08-06"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Deploy("tuned", end.FineTunedModel); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ name, model string }{{"base", ""}, {"tuned", end.FineTunedModel}} {
		p, _ := newAzurePredictor(t, srv, d.name, func(c *AzureConfig) { c.Model = d.model })
		pred, err := p.Predict(context.Background(), &llm.Request{Image: pngOf(t, 40, 40, 180), Prompt: "Rate"})
		if err != nil || pred.Score == nil {
			t.Errorf("%s: %+v %v", d.name, pred, err)
		}
		if d.model != "" && pred != nil && pred.Model != d.model {
			t.Errorf("%s answered as %s, want %s", d.name, pred.Model, d.model)
		}
	}
	for _, r := range srv.Requests() {
		if !strings.HasPrefix(r.Path, "/openai/") || r.Status >= 400 && r.Path != "/openai/fine_tuning/jobs" {
			t.Errorf("request %s %s answered %d", r.Method, r.Path, r.Status)
		}
	}
}

func TestAzureTableName(t *testing.T) {
	for in, want := range map[string]string{
		"gpt-4o-2024-08-06.ft-0123abcd": "ft:gpt-4o-2024-08-06:azure::0123abcd",
		"gpt-4o":                        "gpt-4o",
	} {
		if got := AzureTableName(in); got != want {
			t.Errorf("AzureTableName(%q) = %q, want %q", in, got, want)
		}
	}
	// The table reads a fine-tuned Azure model as a fine-tune of its base.
	if _, ok := DefaultModels().Lookup(AzureTableName("gpt-4o-mini-2024-07-18.ft-0123")); !ok {
		t.Error("the model table does not know an Azure fine-tune of gpt-4o-mini")
	}
}
