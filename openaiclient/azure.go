package openaiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/vlmcmp/vlmcmp/llm"
)

// The environment variables the official SDKs read for Azure OpenAI, and the
// API version used when none is given.
const (
	AzureKeyEnv      = "AZURE_OPENAI_API_KEY"
	AzureEndpointEnv = "AZURE_OPENAI_ENDPOINT"
	AzureVersionEnv  = "OPENAI_API_VERSION"
	// DefaultAzureAPIVersion is the newest generally available data-plane
	// version with chat completions, files and fine-tuning jobs.
	DefaultAzureAPIVersion = "2024-10-21"
)

// Defaults of the wait for a deployment that Azure does not know yet.
const (
	DefaultDeploymentRetries = 3
	DefaultDeploymentWait    = 30 * time.Second
)

// Sentinels of the Azure backend (the CLI maps them to hints).
var (
	// ErrAzureNoKey is returned when no Azure OpenAI key was found.
	ErrAzureNoKey = errors.New("no Azure OpenAI API key")
	// ErrAzureUnauthorized is wrapped when the resource refused the key (or
	// the endpoint is another resource's).
	ErrAzureUnauthorized = errors.New("azure openai refused the key")
	// ErrDeploymentNotFound is wrapped when the resource has no deployment
	// of the name, after waiting for a new one to appear.
	ErrDeploymentNotFound = errors.New("azure openai deployment not found")
)

// AzureConfig configures the Azure OpenAI backend: a deployment of a
// resource, scored through
// {Endpoint}/openai/deployments/{Deployment}/chat/completions?api-version=…
// with the key in the api-key header. Empty fields come from the
// environment the official SDKs read: AZURE_OPENAI_ENDPOINT,
// OPENAI_API_VERSION (else DefaultAzureAPIVersion) and, without a key file,
// AZURE_OPENAI_API_KEY. Fine-tuning ([NewAzureFineTuning]) uses the same
// type and ignores Deployment.
type AzureConfig struct {
	// Endpoint is the resource's endpoint, https://NAME.openai.azure.com
	// (or https://NAME.cognitiveservices.azure.com).
	Endpoint string
	// Deployment is the deployment's name, not the model's.
	Deployment string
	// APIVersion is the data-plane API version, e.g. 2024-10-21.
	APIVersion string
	// APIKey is the key itself, when the caller has resolved it; never
	// logged or written. Empty means APIKeyFile, else AZURE_OPENAI_API_KEY.
	APIKey     string
	APIKeyFile string
	// Model is the model the deployment serves (gpt-4o-2024-08-06, or a
	// fine-tuned model's name), for the model table: whether it takes
	// images, reasoning parameters, image tokens and prices. Empty means
	// the deployment's name, which the table knows when deployments are
	// named after their model.
	Model string
	// DeploymentRetries is how many times a 404 DeploymentNotFound is
	// retried (Azure takes up to 5 minutes to serve a new deployment),
	// DeploymentWait the wait before each retry (defaults 3 and 30 s; -1
	// retries none).
	DeploymentRetries int
	DeploymentWait    time.Duration
	// Options are the scoring and transport options shared with the OpenAI
	// backend: Detail, Structured, MaxTokens, Temperature, Seed, NoSeed,
	// Concurrency, RPM, TPM, Timeout, retries, Models, Prices, upload and
	// processing limits, HTTPClient, Logger. Its Model, BaseURL, BaseURLs,
	// APIKey, APIKeyFile and NoKey are not used.
	Options Config
}

// AzureIdentity is what identifies an Azure deployment's answers: the
// resource's endpoint, the deployment, the API version and the model the
// table reads for it. It never holds the key.
type AzureIdentity struct {
	Endpoint   string `json:"endpoint"`
	Deployment string `json:"deployment"`
	APIVersion string `json:"api_version"`
	Model      string `json:"model,omitempty"`
}

var (
	apiVersionRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)
	deploymentRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Resolve fills the endpoint and API version from the environment and
// checks them and the deployment: an http(s) endpoint without a path or a
// query (the resource's root, not a request URL), an API version of the
// form 2024-10-21 or 2025-04-01-preview, a deployment name of letters,
// digits, '.', '-' and '_'. It does not look for the key ([AzureConfig.Key]).
// needDeployment is false for fine-tuning, which has none.
func (c AzureConfig) Resolve(needDeployment bool) (AzureConfig, error) {
	if c.Endpoint == "" {
		c.Endpoint = strings.TrimSpace(os.Getenv(AzureEndpointEnv))
	}
	if c.APIVersion == "" {
		c.APIVersion = strings.TrimSpace(os.Getenv(AzureVersionEnv))
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAzureAPIVersion
	}
	if c.Endpoint == "" {
		return c, fmt.Errorf("azure: no endpoint: give the resource's endpoint (https://NAME.openai.azure.com) or set %s", AzureEndpointEnv)
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, fmt.Errorf("azure: endpoint %q is not an http(s) URL such as https://NAME.openai.azure.com", Redact(c.Endpoint, ""))
	}
	if u.User != nil {
		return c, fmt.Errorf("azure: endpoint %s holds a user name or password; the key goes in api_key_file or %s", u.Redacted(), AzureKeyEnv)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" || u.RawQuery != "" {
		return c, fmt.Errorf("azure: endpoint %s has a path or query; give the resource's root, %s://%s (the deployment and api_version are separate settings)", u.Redacted(), u.Scheme, u.Host)
	}
	c.Endpoint = u.Scheme + "://" + u.Host
	if !apiVersionRe.MatchString(c.APIVersion) {
		return c, fmt.Errorf("azure: api_version %q is not a version such as %s or 2025-04-01-preview", c.APIVersion, DefaultAzureAPIVersion)
	}
	if needDeployment {
		if c.Deployment == "" {
			return c, errors.New("azure: no deployment: give the deployment's name (az cognitiveservices account deployment list shows them)")
		}
		if !deploymentRe.MatchString(c.Deployment) {
			return c, fmt.Errorf("azure: deployment %q is not a deployment name (letters, digits, '.', '-' and '_', at most 64)", c.Deployment)
		}
	}
	return c, nil
}

// Key finds the key: APIKey, else the key file, else AZURE_OPENAI_API_KEY.
// It returns the key and where it came from (for display; never the key).
func (c AzureConfig) Key() (key, source string, err error) {
	switch {
	case c.APIKey != "":
		return c.APIKey, "given", nil
	case c.APIKeyFile != "":
		k, src, err := readKeyFile(c.APIKeyFile)
		if errors.Is(err, ErrNoKey) {
			err = fmt.Errorf("%w: %s", ErrAzureNoKey, strings.TrimPrefix(err.Error(), ErrNoKey.Error()+": "))
		}
		return k, src, err
	}
	if k := strings.TrimSpace(os.Getenv(AzureKeyEnv)); k != "" {
		return k, AzureKeyEnv, nil
	}
	return "", "", fmt.Errorf("%w: set %s or give api_key_file (--api-key-file)", ErrAzureNoKey, AzureKeyEnv)
}

// Identity is the deployment's identity. Call it on a resolved config.
func (c AzureConfig) Identity() AzureIdentity {
	return AzureIdentity{Endpoint: c.Endpoint, Deployment: c.Deployment, APIVersion: c.APIVersion, Model: c.Model}
}

// Ready reports, without sending anything, whether the deployment can be
// asked: the settings are valid and a key is found.
func (c AzureConfig) Ready() error {
	r, err := c.Resolve(true)
	if err != nil {
		return err
	}
	_, _, err = r.Key()
	return err
}

// AzureTableName is the name the model table knows an Azure model by:
// Azure names a fine-tuned model BASE.ft-ID (gpt-4o-2024-08-06.ft-0123…),
// which the table reads as OpenAI's ft:BASE; other names are unchanged.
func AzureTableName(model string) string {
	if i := strings.Index(model, ".ft-"); i > 0 {
		return "ft:" + model[:i] + ":azure::" + model[i+4:]
	}
	return model
}

// azureClient is go-openai's client in its Azure configuration, sending
// through the doer of c: every request goes to
// {endpoint}/openai/deployments/{deployment}/…?api-version=… with the
// api-key header.
func azureClient(c *conn, endpoint, version, deployment string) *openai.Client {
	oc := openai.DefaultAzureConfig(c.key, endpoint)
	oc.APIVersion = version
	oc.AzureModelMapperFunc = func(string) string { return deployment }
	oc.HTTPClient = c.doer
	return openai.NewClientWithConfig(oc)
}

// AzurePredictor scores images with a deployment of an Azure OpenAI
// resource. It is a [Predictor] whose requests go to the deployment, with
// Azure's answers read as Azure writes them: a refused key names
// AZURE_OPENAI_API_KEY, a deployment not found is waited for (a new one
// takes a few minutes to serve), and a content-filter refusal is the
// model's answer without a score, not a missing answer.
type AzurePredictor struct {
	*Predictor
	cfg AzureConfig
	// gone is set once a deployment was still not found after the waits,
	// so that the other requests fail at once.
	gone  atomic.Bool
	sleep func(ctx context.Context, d time.Duration) error
}

var (
	_ llm.Predictor      = (*AzurePredictor)(nil)
	_ llm.BatchPredictor = (*AzurePredictor)(nil)
)

// NewAzurePredictor returns a predictor for the deployment cfg names. It
// fails when the settings are not valid or no key is found; it sends
// nothing.
func NewAzurePredictor(cfg AzureConfig) (*AzurePredictor, error) {
	cfg, err := cfg.Resolve(true)
	if err != nil {
		return nil, err
	}
	key, _, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	if cfg.Model == "" {
		cfg.Model = cfg.Deployment
	}
	switch {
	case cfg.DeploymentRetries == 0:
		cfg.DeploymentRetries = DefaultDeploymentRetries
	case cfg.DeploymentRetries < 0:
		cfg.DeploymentRetries = 0
	}
	if cfg.DeploymentWait <= 0 {
		cfg.DeploymentWait = DefaultDeploymentWait
	}
	oc := cfg.Options
	oc.Model, oc.BaseURL, oc.BaseURLs, oc.APIKey, oc.APIKeyFile, oc.NoKey = AzureTableName(cfg.Model), cfg.Endpoint, nil, key, "", false
	p, err := New(oc)
	if err != nil {
		return nil, fmt.Errorf("azure deployment %s: %w", cfg.Deployment, err)
	}
	p.c.api = azureClient(p.c, cfg.Endpoint, cfg.APIVersion, cfg.Deployment)
	p.c.azure = true
	return &AzurePredictor{Predictor: p, cfg: cfg, sleep: sleepCtx}, nil
}

// Identity is the deployment's identity (endpoint, deployment, version,
// model); never the key.
func (p *AzurePredictor) Identity() AzureIdentity { return p.cfg.Identity() }

// Deployment is the deployment the predictor asks.
func (p *AzurePredictor) Deployment() string { return p.cfg.Deployment }

// Predict scores one image. See llm.Predictor.
func (p *AzurePredictor) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	start := time.Now()
	for try := 0; ; try++ {
		if p.gone.Load() {
			return nil, p.notFound(nil)
		}
		pred, err := p.Predictor.Predict(ctx, req)
		if err == nil {
			pred.Backend = "azure"
			return pred, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			return nil, p.wrap(err)
		}
		switch {
		case ae.Code == "content_filter":
			// The filter refused the prompt (here, the image): the
			// model's answer is a refusal, with its reason.
			return &llm.Prediction{Backend: "azure", Model: p.cfg.Model, Latency: time.Since(start), ScoreError: "refused by Azure OpenAI's content filter: " + strings.TrimRight(ae.Message, ". ")}, nil
		case ae.Status == http.StatusNotFound && ae.Code == "DeploymentNotFound":
			if try >= p.cfg.DeploymentRetries {
				p.gone.Store(true)
				return nil, p.notFound(ae)
			}
			p.c.log.Debug("azure: deployment not found, waiting for it", "deployment", p.cfg.Deployment, "try", try+1, "wait", p.cfg.DeploymentWait)
			if err := p.sleep(ctx, p.cfg.DeploymentWait); err != nil {
				return nil, err
			}
		default:
			return nil, p.wrap(err)
		}
	}
}

// PredictBatch scores reqs with up to the configured concurrency. See
// llm.BatchPredictor.
func (p *AzurePredictor) PredictBatch(ctx context.Context, reqs []*llm.Request) <-chan llm.Result {
	return llm.PredictPool(ctx, reqs, cap(p.sem), p.Predict)
}

// wrap names the deployment and the resource in an error, and marks a
// refused key as Azure's.
func (p *AzurePredictor) wrap(err error) error {
	err = fmt.Errorf("azure deployment %s at %s: %w", p.cfg.Deployment, p.cfg.Endpoint, err)
	if errors.Is(err, ErrUnauthorized) {
		return &sentinelError{err: err, sentinel: ErrAzureUnauthorized}
	}
	return err
}

func (p *AzurePredictor) notFound(ae *APIError) error {
	msg := "the resource has no deployment of this name"
	if ae != nil {
		msg = ae.Error()
	}
	waited := time.Duration(p.cfg.DeploymentRetries) * p.cfg.DeploymentWait
	// The resource lacks the model: a missing answer (asked again on
	// resume), not the model's answer without a score.
	return llm.Missing(llm.MissingNoModel, &sentinelError{sentinel: ErrDeploymentNotFound, err: fmt.Errorf("azure deployment %s at %s: %s (waited %s for it); "+
		"create it with az cognitiveservices account deployment create, or check the name with az cognitiveservices account deployment list",
		p.cfg.Deployment, p.cfg.Endpoint, msg, waited)})
}

// sentinelError is err, which also wraps sentinel (for the CLI's hints).
type sentinelError struct {
	err, sentinel error
}

func (e *sentinelError) Error() string   { return e.err.Error() }
func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.err} }

// contentFilterReason is why a content filter cut an answer (finish reason
// content_filter): the categories it flagged, as Azure reports them.
func contentFilterReason(r openai.ContentFilterResults) string {
	var cats []string
	add := func(name string, filtered bool, severity string) {
		if filtered {
			if severity != "" {
				name += " (" + severity + ")"
			}
			cats = append(cats, name)
		}
	}
	add("hate", r.Hate.Filtered, r.Hate.Severity)
	add("self_harm", r.SelfHarm.Filtered, r.SelfHarm.Severity)
	add("sexual", r.Sexual.Filtered, r.Sexual.Severity)
	add("violence", r.Violence.Filtered, r.Violence.Severity)
	add("jailbreak", r.JailBreak.Filtered, "")
	add("profanity", r.Profanity.Filtered, "")
	msg := "refused by the content filter: the answer was filtered"
	if len(cats) > 0 {
		msg += " for " + strings.Join(cats, ", ")
	}
	return msg
}

// NewAzureFineTuning returns a fine-tuning client for an Azure OpenAI
// resource: files and jobs under {Endpoint}/openai/files and
// /openai/fine_tuning/jobs with the api-version parameter and the api-key
// header. cfg.Deployment is not used; the endpoint, version and key are
// found as for scoring. It sends nothing.
func NewAzureFineTuning(cfg AzureConfig) (*FineTuning, error) {
	cfg, err := cfg.Resolve(false)
	if err != nil {
		return nil, err
	}
	key, _, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	oc := cfg.Options
	oc.BaseURL, oc.BaseURLs, oc.APIKey, oc.APIKeyFile, oc.NoKey = cfg.Endpoint, nil, key, "", false
	c, err := newConn(oc)
	if err != nil {
		return nil, err
	}
	c.azure = true
	cfg.APIKey, cfg.APIKeyFile = "", ""
	return &FineTuning{c: c, azure: &cfg, Poll: 5 * time.Second, MinUploadWait: DefaultMinUploadWait}, nil
}

// Provider names who runs the jobs: "azure" for an Azure OpenAI resource,
// "openai" otherwise.
func (f *FineTuning) Provider() string {
	if f.azure != nil {
		return "azure"
	}
	return "openai"
}

// APIVersion is the Azure API version in use, "" for OpenAI.
func (f *FineTuning) APIVersion() string {
	if f.azure == nil {
		return ""
	}
	return f.azure.APIVersion
}
