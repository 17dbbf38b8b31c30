package openaitest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// AzureAPIVersions are the data-plane API versions the Azure fake serves
// (GA and preview versions with chat completions, files and fine-tuning
// jobs); another is refused as Azure refuses it.
var AzureAPIVersions = []string{"2024-02-01", "2024-06-01", "2024-10-21",
	"2024-08-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview",
	"2025-01-01-preview", "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview"}

// AzureFineTunableModels are the base models the Azure fake fine-tunes.
var AzureFineTunableModels = []string{"gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14",
	"gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14"}

// Azure's error messages, as the service writes them.
const (
	AzureInvalidKey     = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	AzureMissingKey     = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
	AzureNoDeployment   = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."
	AzurePromptFiltered = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)

type azureState struct {
	deployments map[string]*deployment
	filters     []string // content filter verdicts queued for the next chat requests
	lag         int      // requests a new deployment answers 404
}

type deployment struct {
	model string
	lag   int // requests still answered 404 DeploymentNotFound
}

// NewAzure starts a fake of an Azure OpenAI resource's data plane and stops
// it when the test ends. It is the OpenAI fake (the same checks of chat
// requests, files and fine-tuning jobs, the same faults) behind Azure's
// routes and rules:
//
//   - every request needs the api-version parameter (404 "Resource not
//     found" without it, 400 "API version not supported" for a version not
//     in AzureAPIVersions) and the key in the api-key header (401 with
//     Azure's wording: a bearer token is not a key);
//   - chat completions go to /openai/deployments/{name}/chat/completions;
//     a name not deployed answers 404 DeploymentNotFound, and the model in
//     the body is ignored for the deployment's;
//   - files and jobs live under /openai/files and /openai/fine_tuning/jobs;
//     only AzureFineTunableModels are fine-tuned, and a job names its model
//     BASE.ft-ID as Azure does;
//   - deployments are made by [Server.Deploy], standing in for az, and a new
//     one answers 404 for its first requests ([Server.SetDeployLag]);
//   - [Server.FilterNext] has the content filter refuse the next prompts
//     (400 content_filter) or cut the next answers (finish reason
//     content_filter).
//
// Endpoint is the resource's endpoint; the key is "0123456789abcdef0123456789abcdef".
func NewAzure(t testing.TB) *Server {
	t.Helper()
	s := &Server{Key: "0123456789abcdef0123456789abcdef", files: map[string]*file{}, jobs: map[string]*job{}, clock: 1_700_000_000,
		azure: &azureState{deployments: map[string]*deployment{}}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint is the Azure resource's endpoint (no path).
func (s *Server) Endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv.URL
}

// SetDeployLag sets how many requests a deployment made by Deploy answers
// 404 DeploymentNotFound before it serves, as a new deployment does for a
// few minutes.
func (s *Server) SetDeployLag(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.azure.lag = n
}

// Deploy creates deployment name of model, standing in for az
// cognitiveservices account deployment create. The model must be a base
// model (one whose name does not start with "missing") or the fine-tuned
// model of a succeeded job of this resource. It fails as az does for an
// unknown model or a name already taken by another model.
func (s *Server) Deploy(name, model string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.azure == nil {
		return fmt.Errorf("openaitest: Deploy on a fake that is not Azure's (use NewAzure)")
	}
	if strings.Contains(model, ".ft-") {
		found := false
		for _, j := range s.jobs {
			if j.status == "succeeded" && j.obj["fine_tuned_model"] == model {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("(DeploymentModelNotSupported) The model '%s' is not a succeeded fine-tuned model of this resource", model)
		}
	} else if model == "" || strings.HasPrefix(model, "missing") {
		return fmt.Errorf("(DeploymentModelNotSupported) The model 'Format:OpenAI,Name:%s,Version:1' of account deployment is not supported", model)
	}
	if d, ok := s.azure.deployments[name]; ok && d.model != model {
		return fmt.Errorf("(DeploymentNameInUse) deployment %s already serves %s", name, d.model)
	}
	s.azure.deployments[name] = &deployment{model: model, lag: s.azure.lag}
	return nil
}

// FilterNext queues content filter verdicts for the next chat requests:
// "prompt" refuses the prompt (400, code content_filter), "completion"
// cuts the answer (200, finish reason content_filter), each times times.
func (s *Server) FilterNext(kind string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range times {
		s.azure.filters = append(s.azure.filters, kind)
	}
}

// azureModelName is the name Azure gives a job's fine-tuned model.
func azureModelName(base, jobID string) string {
	h := sha256.Sum256([]byte(jobID))
	return base + ".ft-" + hex.EncodeToString(h[:16])
}

// azureError writes Azure's own error body, {"error": {"code", "message"}}.
func azureError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// routeAzure checks the version and key and serves Azure's routes.
func (s *Server) routeAzure(w http.ResponseWriter, r *http.Request, body []byte) *ChatRequest {
	version := r.URL.Query().Get("api-version")
	switch {
	case version == "":
		azureError(w, http.StatusNotFound, "404", "Resource not found")
		return nil
	case !slices.Contains(AzureAPIVersions, version):
		azureError(w, http.StatusBadRequest, "BadRequest", "API version not supported")
		return nil
	}
	switch key := r.Header.Get("api-key"); {
	case key == "":
		azureError(w, http.StatusUnauthorized, "401", AzureMissingKey)
		return nil
	case key != s.Key:
		azureError(w, http.StatusUnauthorized, "401", AzureInvalidKey)
		return nil
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	parts := strings.Split(strings.TrimPrefix(p, "/openai/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "deployments" && parts[2] == "chat" && parts[3] == "completions" && r.Method == http.MethodPost:
		return s.azureChat(w, parts[1], body)
	case p == "/openai/files" && r.Method == http.MethodPost:
		s.upload(w, r, body)
	case p == "/openai/files" && r.Method == http.MethodGet:
		s.listFiles(w, r)
	case len(parts) == 2 && parts[0] == "files" && r.Method == http.MethodGet:
		s.getFile(w, parts[1])
	case p == "/openai/fine_tuning/jobs" && r.Method == http.MethodPost:
		var req struct {
			Model string `json:"model"`
		}
		if json.Unmarshal(body, &req) == nil && req.Model != "" && !slices.Contains(AzureFineTunableModels, req.Model) {
			azureError(w, http.StatusBadRequest, "invalidPayload", fmt.Sprintf("The specified base model does not support fine-tuning. (model: %s)", req.Model))
			return nil
		}
		s.createJob(w, body)
	case p == "/openai/fine_tuning/jobs" && r.Method == http.MethodGet:
		s.listJobs(w, r)
	case len(parts) >= 3 && parts[0] == "fine_tuning" && parts[1] == "jobs":
		s.jobEndpoint(w, r, parts[2], parts[3:])
	default:
		azureError(w, http.StatusNotFound, "404", "Resource not found")
	}
	return nil
}

// azureChat serves a deployment's chat completion: the deployment's model
// answers whatever model the body names.
func (s *Server) azureChat(w http.ResponseWriter, name string, body []byte) *ChatRequest {
	s.mu.Lock()
	d := s.azure.deployments[name]
	notYet := d != nil && d.lag > 0
	if notYet {
		d.lag--
	}
	filter := ""
	if d != nil && !notYet && len(s.azure.filters) > 0 {
		filter, s.azure.filters = s.azure.filters[0], s.azure.filters[1:]
	}
	s.mu.Unlock()
	if d == nil || notYet {
		azureError(w, http.StatusNotFound, "DeploymentNotFound", AzureNoDeployment)
		return nil
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		azureError(w, http.StatusBadRequest, "BadRequest", "Failed to parse the request body as JSON.")
		return nil
	}
	// The checks of the OpenAI fake, for the deployment's model (a
	// fine-tuned BASE.ft-ID read as ft:BASE).
	model := d.model
	if i := strings.Index(model, ".ft-"); i > 0 {
		model = "ft:" + model[:i] + ":azure::" + model[i+4:]
	}
	req["model"] = model
	body, _ = json.Marshal(req)
	switch filter {
	case "prompt":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": AzurePromptFiltered, "type": nil, "param": "prompt",
			"code": "content_filter", "status": 400, "innererror": map[string]any{"code": "ResponsibleAIPolicyViolation",
				"content_filter_result": filterResults("violence")}}})
		return &ChatRequest{Model: d.model}
	case "completion":
		rec := httptest.NewRecorder()
		cr := s.chat(rec, body)
		if rec.Code != http.StatusOK {
			copyRecorded(w, rec)
			return cr
		}
		var resp map[string]any
		json.Unmarshal(rec.Body.Bytes(), &resp)
		choice := resp["choices"].([]any)[0].(map[string]any)
		choice["finish_reason"] = "content_filter"
		choice["message"] = map[string]any{"role": "assistant", "content": nil}
		choice["content_filter_results"] = filterResults("violence")
		resp["model"] = d.model
		writeJSON(w, resp)
		return cr
	}
	rec := httptest.NewRecorder()
	cr := s.chat(rec, body)
	if rec.Code == http.StatusOK {
		var resp map[string]any
		json.Unmarshal(rec.Body.Bytes(), &resp)
		resp["model"] = d.model // Azure answers with the deployment's model
		resp["prompt_filter_results"] = []any{map[string]any{"prompt_index": 0, "content_filter_results": filterResults("")}}
		writeJSON(w, resp)
		return cr
	}
	copyRecorded(w, rec)
	return cr
}

// filterResults are content filter results with category flagged
// (medium), the others safe.
func filterResults(flagged string) map[string]any {
	out := map[string]any{}
	for _, c := range []string{"hate", "self_harm", "sexual", "violence"} {
		out[c] = map[string]any{"filtered": c == flagged, "severity": map[bool]string{true: "medium", false: "safe"}[c == flagged]}
	}
	return out
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}
