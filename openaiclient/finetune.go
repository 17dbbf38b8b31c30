package openaiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"
)

// FineTuning is a small typed client for the files and fine-tuning
// endpoints. Uploads go through go-openai; the job endpoints go-openai lacks
// or models on the deprecated request shape (hyperparameters under method →
// supervised, seed, listing jobs, events with their metrics, checkpoints)
// are ours, sent with the same base URL, key and HTTP doer (limits and
// retries). It is safe for concurrent use.
type FineTuning struct {
	c *conn
	// azure is the Azure OpenAI resource the client speaks to (resolved),
	// nil for OpenAI and OpenAI-compatible servers.
	azure *AzureConfig
	// Poll is the interval between status checks (default 5 s).
	Poll time.Duration
	// MinUploadWait is the least time an upload attempt waits for the
	// server's answer, before the size term (default 5 minutes): a server
	// that is slow to answer may still receive the file.
	MinUploadWait time.Duration
}

// NewFineTuning returns a fine-tuning client for cfg (Model is not used).
func NewFineTuning(cfg Config) (*FineTuning, error) {
	if len(cfg.BaseURLs) > 1 {
		return nil, errors.New("openai: fine-tuning needs one server, not a fleet of base URLs")
	}
	c, err := newConn(cfg)
	if err != nil {
		return nil, err
	}
	return &FineTuning{c: c, Poll: 5 * time.Second, MinUploadWait: DefaultMinUploadWait}, nil
}

// BaseURL is the API's base URL in use (an Azure resource's endpoint).
func (f *FineTuning) BaseURL() string { return f.c.baseURL }

// url is the URL of an API path (with its query, if any): under the base
// URL for OpenAI; under {endpoint}/openai with the api-version parameter
// for Azure.
func (f *FineTuning) url(path string) string {
	if f.azure == nil {
		return f.c.baseURL + path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return f.c.baseURL + "/openai" + path + sep + "api-version=" + url.QueryEscape(f.azure.APIVersion)
}

// authorize sets the key's header: api-key for Azure, a bearer token
// otherwise (none without a key).
func (f *FineTuning) authorize(req *http.Request) {
	switch {
	case f.c.key == "":
	case f.azure != nil:
		req.Header.Set(openai.AzureAPIKeyHeader, f.c.key)
	default:
		req.Header.Set("Authorization", "Bearer "+f.c.key)
	}
}

// Hyperparameters of supervised fine-tuning; nil means "auto".
type Hyperparameters struct {
	Epochs       *int     `json:"n_epochs,omitempty"`
	BatchSize    *int     `json:"batch_size,omitempty"`
	LRMultiplier *float64 `json:"learning_rate_multiplier,omitempty"`
}

// Method is the fine-tuning method of a job.
type Method struct {
	Type       string      `json:"type"`
	Supervised *Supervised `json:"supervised,omitempty"`
}

// Supervised holds the supervised method's hyperparameters.
type Supervised struct {
	Hyperparameters Hyperparameters `json:"hyperparameters"`
}

// JobRequest creates a job.
type JobRequest struct {
	Model          string  `json:"model"`
	TrainingFile   string  `json:"training_file"`
	ValidationFile string  `json:"validation_file,omitempty"`
	Suffix         string  `json:"suffix,omitempty"`
	Seed           *int64  `json:"seed,omitempty"`
	Method         *Method `json:"method,omitempty"`
	// Hyperparameters at the top level, the older shape Azure's GA API
	// versions take; CreateJob moves Method's there for Azure.
	Hyperparameters *Hyperparameters `json:"hyperparameters,omitempty"`
}

// JobError is why a job failed.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param"`
}

// Job is a fine-tuning job as the API describes it.
type Job struct {
	ID              string          `json:"id"`
	Model           string          `json:"model"`
	Status          string          `json:"status"`
	FineTunedModel  string          `json:"fine_tuned_model"`
	TrainingFile    string          `json:"training_file"`
	ValidationFile  string          `json:"validation_file"`
	CreatedAt       int64           `json:"created_at"`
	FinishedAt      int64           `json:"finished_at"`
	EstimatedFinish int64           `json:"estimated_finish"`
	TrainedTokens   int             `json:"trained_tokens"`
	Seed            int64           `json:"seed"`
	Suffix          string          `json:"suffix"`
	Hyperparameters json.RawMessage `json:"hyperparameters"`
	Method          json.RawMessage `json:"method"`
	ResultFiles     []string        `json:"result_files"`
	Error           *JobError       `json:"error"`
}

// Terminal reports whether the job will not change any more.
func (j *Job) Terminal() bool {
	return j.Status == "succeeded" || j.Status == "failed" || j.Status == "cancelled"
}

// Event is a job event; metrics events carry a step's losses in Data.
type Event struct {
	ID        string          `json:"id"`
	CreatedAt int64           `json:"created_at"`
	Level     string          `json:"level"`
	Message   string          `json:"message"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
}

// Metrics is the data of a metrics event (and of a checkpoint).
type Metrics struct {
	Step       int      `json:"step"`
	TotalSteps int      `json:"total_steps"`
	TrainLoss  *float64 `json:"train_loss"`
	ValidLoss  *float64 `json:"valid_loss"`
	TrainAcc   *float64 `json:"train_mean_token_accuracy"`
	ValidAcc   *float64 `json:"valid_mean_token_accuracy"`
}

// Losses is the losses the metrics carry, as people read them:
// "train loss 0.1234, valid loss 0.2345"; "" when there is none.
func (m Metrics) Losses() string {
	var b strings.Builder
	if m.TrainLoss != nil {
		fmt.Fprintf(&b, "train loss %.4f", *m.TrainLoss)
	}
	if m.ValidLoss != nil {
		fmt.Fprintf(&b, ", valid loss %.4f", *m.ValidLoss)
	}
	return b.String()
}

// UnmarshalJSON reads metrics whose step counts may arrive as floats
// ("step": 88.0), as the API sends them; a step that is not a whole number
// is an error.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var raw struct {
		Step       *float64 `json:"step"`
		TotalSteps *float64 `json:"total_steps"`
		TrainLoss  *float64 `json:"train_loss"`
		ValidLoss  *float64 `json:"valid_loss"`
		TrainAcc   *float64 `json:"train_mean_token_accuracy"`
		ValidAcc   *float64 `json:"valid_mean_token_accuracy"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	var err error
	if m.Step, err = wholeNumber("step", raw.Step); err != nil {
		return err
	}
	if m.TotalSteps, err = wholeNumber("total_steps", raw.TotalSteps); err != nil {
		return err
	}
	m.TrainLoss, m.ValidLoss, m.TrainAcc, m.ValidAcc = raw.TrainLoss, raw.ValidLoss, raw.TrainAcc, raw.ValidAcc
	return nil
}

// wholeNumber turns a JSON number that must be a whole count into an int
// (nil is 0).
func wholeNumber(name string, v *float64) (int, error) {
	if v == nil {
		return 0, nil
	}
	if *v != math.Trunc(*v) || *v < 0 || *v > math.MaxInt32 {
		return 0, fmt.Errorf("metrics: %s %v is not a whole number of steps", name, *v)
	}
	return int(*v), nil
}

// Metrics reads a metrics event's data: ok is false for other events; err
// says why a metrics event's data could not be read.
func (e *Event) Metrics() (m Metrics, ok bool, err error) {
	if e.Type != "metrics" {
		return m, false, nil
	}
	if len(e.Data) == 0 || string(e.Data) == "null" {
		return m, false, fmt.Errorf("event %s: metrics event without data", e.ID)
	}
	if err := json.Unmarshal(e.Data, &m); err != nil {
		return m, false, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return m, true, nil
}

var skippedRe = regexp.MustCompile(`(?i)(\d+)\s+(?:training\s+)?(?:examples?|images?)\b[^.]*?\b(?:skipped|excluded|removed)`)

// SkippedByModeration reads from an event how many examples the job's
// moderation step dropped (images with people, faces, children or CAPTCHAs
// are not trained on); 0 when the event says nothing of it.
func (e *Event) SkippedByModeration() int {
	m := skippedRe.FindStringSubmatch(e.Message)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Checkpoint is a model checkpoint of a job.
type Checkpoint struct {
	ID                       string  `json:"id"`
	CreatedAt                int64   `json:"created_at"`
	FineTunedModelCheckpoint string  `json:"fine_tuned_model_checkpoint"`
	StepNumber               int     `json:"step_number"`
	Metrics                  Metrics `json:"metrics"`
}

// UnmarshalJSON reads a checkpoint whose step_number may arrive as a float.
func (c *Checkpoint) UnmarshalJSON(b []byte) error {
	type plain Checkpoint
	var raw struct {
		plain
		StepNumber *float64 `json:"step_number"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	*c = Checkpoint(raw.plain)
	n, err := wholeNumber("step_number", raw.StepNumber)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.ID, err)
	}
	c.StepNumber = n
	return nil
}

type listPage[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// do sends a JSON request to path under the base URL and decodes the answer
// into out.
func (f *FineTuning) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.url(path), body)
	if err != nil {
		return err
	}
	f.authorize(req)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return f.send(req, out)
}

// send sends req through the doer and decodes the answer into out. An
// error answer is an [APIError]; on a files or fine-tuning endpoint, a
// refusal to let the account fine-tune wraps ErrFineTuningUnavailable.
func (f *FineTuning) send(req *http.Request, out any) error {
	method, path := req.Method, strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(mustPath(f.c.baseURL), "/"))
	resp, err := f.c.doer.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error *struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    any    `json:"code"`
			} `json:"error"`
		}
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, &e) == nil && e.Error != nil {
			ae.Message, ae.Type = Redact(e.Error.Message, f.c.key), e.Error.Type
			if e.Error.Code != nil {
				ae.Code = fmt.Sprint(e.Error.Code)
			}
		} else {
			ae.Message = Redact(strings.TrimSpace(string(b)), f.c.key)
		}
		if f.azure == nil && refusesFineTuning(ae) {
			return &UnavailableError{API: ae}
		}
		if f.azure != nil && ae.Status == http.StatusUnauthorized {
			return &sentinelError{err: ae, sentinel: ErrAzureUnauthorized}
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w: %v", method, path, ErrMalformed, err)
		}
	}
	return nil
}

func mustPath(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Path
}

// Defaults of uploads.
const (
	// DefaultUploadRate is the slowest upload, in bytes per second, an
	// upload's timeout allows for by default: 256 KiB/s, about 2 Mbit/s.
	DefaultUploadRate = 256 << 10
	// DefaultProcessTimeout bounds the wait for a file to be processed.
	DefaultProcessTimeout = 30 * time.Minute
	// DefaultMinUploadWait is the least an upload attempt waits for the
	// server's answer, before the size term.
	DefaultMinUploadWait = 5 * time.Minute
)

// UploadTimeout is the per-attempt timeout of uploading size bytes: the
// larger of the request timeout and MinUploadWait (5 minutes), plus the
// time the upload takes at the slowest rate allowed (Config.UploadRate);
// 0 (no timeout but the context's) when the rate is negative.
func (f *FineTuning) UploadTimeout(size int64) time.Duration {
	rate := f.c.cfg.UploadRate
	if rate < 0 {
		return 0
	}
	return max(f.c.cfg.Timeout, f.MinUploadWait) + time.Duration(float64(size)/float64(rate)*float64(time.Second))
}

// Upload uploads a JSONL file for fine-tuning and returns the file object.
// The file is streamed from disk (not held in memory), each attempt has a
// timeout that grows with the file's size ([FineTuning.UploadTimeout]),
// and progress, when not nil, is told how much has been sent. A file that
// is not .jsonl or larger than the API takes is refused before anything is
// sent.
//
// Retries never leave a second copy: before uploading, the files already
// there with the same name and size are noted, and before each retry the
// list is read again; a new file of that name and size is the one a failed
// attempt delivered (its answer was lost or late), and is returned instead
// of sending the file again. A server that cannot list files is retried
// as before.
func (f *FineTuning) Upload(ctx context.Context, path string, progress Progress) (openai.File, error) {
	var file openai.File
	st, err := os.Stat(path)
	if err != nil {
		return file, fmt.Errorf("upload %s: %w", path, err)
	}
	if !strings.EqualFold(filepath.Ext(path), ".jsonl") {
		return file, fmt.Errorf("upload %s: fine-tuning files must be JSON lines named *.jsonl", path)
	}
	if st.Size() > MaxTrainingFileBytes {
		return file, fmt.Errorf("upload %s: %d MB, the API takes fine-tuning files up to %d MB", path, st.Size()>>20, MaxTrainingFileBytes>>20)
	}
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if err := mw.WriteField("purpose", string(openai.PurposeFineTune)); err != nil {
		return file, err
	}
	if _, err := mw.CreateFormFile("file", filepath.Base(path)); err != nil {
		return file, err
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	body := func() (io.ReadCloser, error) {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head.Bytes()), fh, strings.NewReader(tail)), fh}, nil
	}
	rc, err := body()
	if err != nil {
		return file, fmt.Errorf("upload %s: %w", path, err)
	}
	name := filepath.Base(path)
	before, listErr := f.sameFiles(ctx, name, st.Size())
	if listErr != nil {
		f.c.log.Debug("openai: cannot list files, so a retried upload may leave a copy", "err", listErr)
	}
	var found *openai.File
	errFound := errors.New("found the file a failed attempt delivered")
	base := ctx
	ctx = withProgress(withAttemptTimeout(ctx, f.UploadTimeout(st.Size())), progress)
	if listErr == nil {
		ctx = withBeforeRetry(ctx, func() error {
			now, err := f.sameFiles(base, name, st.Size())
			if err != nil {
				return nil
			}
			for id, fl := range now {
				if _, old := before[id]; !old {
					found = &fl
					f.c.log.Debug("openai: the upload arrived although its answer did not", "file", id, "name", name)
					return errFound
				}
			}
			return nil
		})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url("/files"), rc)
	if err != nil {
		rc.Close()
		return file, err
	}
	req.ContentLength = int64(head.Len()) + st.Size() + int64(len(tail))
	req.GetBody = body
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	f.authorize(req)
	if err := f.send(req, &file); errors.Is(err, errFound) {
		return *found, nil
	} else if err != nil {
		return file, fmt.Errorf("upload %s: %w", path, err)
	}
	if file.ID == "" {
		return file, fmt.Errorf("upload %s: %w: no file id in the answer", path, ErrMalformed)
	}
	return file, nil
}

// ListFiles lists the fine-tuning files the account (or resource) holds.
func (f *FineTuning) ListFiles(ctx context.Context) ([]openai.File, error) {
	var p listPage[openai.File]
	if err := f.do(ctx, http.MethodGet, "/files?purpose=fine-tune", nil, &p); err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	return p.Data, nil
}

// sameFiles are the fine-tuning files named name of size bytes, by ID.
func (f *FineTuning) sameFiles(ctx context.Context, name string, size int64) (map[string]openai.File, error) {
	files, err := f.ListFiles(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]openai.File{}
	for _, fl := range files {
		if fl.FileName == name && int64(fl.Bytes) == size && fl.Status != "deleted" && fl.Status != "error" {
			out[fl.ID] = fl
		}
	}
	return out, nil
}

// ErrNotProcessed is wrapped when a file is still not processed at the
// end of Config.ProcessTimeout.
var ErrNotProcessed = errors.New("file not processed in time")

// WaitProcessed polls the file until the API has processed it, for at most
// Config.ProcessTimeout; a file the API rejected is an error with its
// status details.
func (f *FineTuning) WaitProcessed(ctx context.Context, id string) (openai.File, error) {
	limit := f.c.cfg.ProcessTimeout
	start := time.Now()
	for {
		var file openai.File
		if err := f.do(ctx, http.MethodGet, "/files/"+url.PathEscape(id), nil, &file); err != nil {
			return file, fmt.Errorf("file %s: %w", id, err)
		}
		switch file.Status {
		case "processed":
			return file, nil
		case "error", "deleted":
			return file, fmt.Errorf("file %s (%s) was rejected: %s", id, file.FileName, strings.TrimSpace(file.StatusDetails))
		}
		if time.Since(start) >= limit {
			return file, fmt.Errorf("%w: file %s (%s) is still %q after %s; the API may be busy: its ID stays valid, "+
				"so start the job later or wait longer (Config.ProcessTimeout)", ErrNotProcessed, id, file.FileName, file.Status, limit.Round(time.Second))
		}
		if err := sleepCtx(ctx, min(f.Poll, time.Second, max(time.Millisecond, limit-time.Since(start)))); err != nil {
			return file, err
		}
	}
}

// Limits of a job request the API checks.
const (
	MaxSuffixLen = 64
	MaxSeed      = 1<<31 - 1
	MaxEpochs    = 50
	MaxBatchSize = 256
)

// Validate checks the request as the API would: a model and a training
// file, a suffix of 1 to 64 characters when given, a seed in 0..2³¹−1,
// n_epochs in 1..50, batch_size in 1..256, a learning-rate multiplier
// above 0. The error lists every problem.
func (r JobRequest) Validate() error {
	var probs []string
	if r.Model == "" {
		probs = append(probs, "no model")
	}
	if r.TrainingFile == "" {
		probs = append(probs, "no training file")
	}
	if n := utf8.RuneCountInString(r.Suffix); n > MaxSuffixLen {
		probs = append(probs, fmt.Sprintf("suffix %q is %d characters, the API takes 1 to %d", r.Suffix, n, MaxSuffixLen))
	}
	if r.Seed != nil && (*r.Seed < 0 || *r.Seed > MaxSeed) {
		probs = append(probs, fmt.Sprintf("seed %d is not in 0..%d", *r.Seed, MaxSeed))
	}
	if r.Method != nil && r.Method.Supervised != nil {
		hp := r.Method.Supervised.Hyperparameters
		if hp.Epochs != nil && (*hp.Epochs < 1 || *hp.Epochs > MaxEpochs) {
			probs = append(probs, fmt.Sprintf("n_epochs %d is not in 1..%d", *hp.Epochs, MaxEpochs))
		}
		if hp.BatchSize != nil && (*hp.BatchSize < 1 || *hp.BatchSize > MaxBatchSize) {
			probs = append(probs, fmt.Sprintf("batch_size %d is not in 1..%d", *hp.BatchSize, MaxBatchSize))
		}
		if hp.LRMultiplier != nil && !(*hp.LRMultiplier > 0) {
			probs = append(probs, fmt.Sprintf("learning_rate_multiplier %v is not above 0", *hp.LRMultiplier))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("job request: %s", strings.Join(probs, "; "))
	}
	return nil
}

// CreateJob checks the request ([JobRequest.Validate]) and creates a
// fine-tuning job. A refusal because the account may not fine-tune wraps
// ErrFineTuningUnavailable ([UnavailableError]).
func (f *FineTuning) CreateJob(ctx context.Context, r JobRequest) (*Job, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("create job: %w", err)
	}
	var body any = r
	if f.azure != nil && r.Method != nil && r.Method.Supervised != nil {
		// Azure's GA API versions take the hyperparameters at the top
		// level, not under method.
		hp := r.Method.Supervised.Hyperparameters
		r.Method, r.Hyperparameters = nil, &hp
		body = r
	}
	var j Job
	if err := f.do(ctx, http.MethodPost, "/fine_tuning/jobs", body, &j); err != nil {
		return nil, fmt.Errorf("create job: %w", err)
	}
	return &j, nil
}

// UnavailableError is the API's refusal to let the account fine-tune. It
// wraps ErrFineTuningUnavailable and the API's own error.
type UnavailableError struct {
	API *APIError
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("OpenAI refused to create the fine-tuning job (%v): its self-serve fine-tuning is closed "+
		"(since 2026-05-07 to organisations that never fine-tuned, 2026-07-02 to inactive ones, 2027-01-06 to all); "+
		"fine-tune the same model on Azure OpenAI with --provider azure --base-url https://NAME.openai.azure.com, "+
		"or fine-tune Qwen2-VL locally with LoRA and turn the adapter into a GGUF with vlmcmp lora convert",
		e.API)
}

// Unwrap gives ErrFineTuningUnavailable and the API error.
func (e *UnavailableError) Unwrap() []error { return []error{ErrFineTuningUnavailable, e.API} }

// refusesFineTuning reports whether an error answer means the account may
// not fine-tune. OpenAI closes fine-tuning to accounts in stages and words
// the refusal differently over time, so the test is broad: any 403, and a
// 400 or 404 whose message speaks of fine-tuning together with
// "available", "eligible", "permission", "allowed", "access" or "no
// longer". Such answers are never retried.
func refusesFineTuning(e *APIError) bool {
	if e.Status == http.StatusForbidden {
		return true
	}
	if e.Status != http.StatusBadRequest && e.Status != http.StatusNotFound {
		return false
	}
	m := strings.ToLower(e.Message + " " + e.Code)
	if !strings.Contains(m, "fine-tun") && !strings.Contains(m, "fine tun") && !strings.Contains(m, "finetun") && !strings.Contains(m, "fine_tun") {
		return false
	}
	for _, w := range []string{"available", "eligible", "permission", "allowed", "access", "no longer"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// Job retrieves a job.
func (f *FineTuning) Job(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := f.do(ctx, http.MethodGet, "/fine_tuning/jobs/"+url.PathEscape(id), nil, &j); err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	return &j, nil
}

// Cancel cancels a job.
func (f *FineTuning) Cancel(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := f.do(ctx, http.MethodPost, "/fine_tuning/jobs/"+url.PathEscape(id)+"/cancel", nil, &j); err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", id, err)
	}
	return &j, nil
}

// ListJobs lists up to limit jobs, newest first.
func (f *FineTuning) ListJobs(ctx context.Context, limit int) ([]Job, error) {
	var p listPage[Job]
	if err := f.do(ctx, http.MethodGet, "/fine_tuning/jobs?limit="+strconv.Itoa(limit), nil, &p); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return p.Data, nil
}

// Checkpoints lists a job's checkpoints, newest first.
func (f *FineTuning) Checkpoints(ctx context.Context, id string) ([]Checkpoint, error) {
	var p listPage[Checkpoint]
	if err := f.do(ctx, http.MethodGet, "/fine_tuning/jobs/"+url.PathEscape(id)+"/checkpoints?limit=100", nil, &p); err != nil {
		return nil, fmt.Errorf("checkpoints of %s: %w", id, err)
	}
	return p.Data, nil
}

// EventsSince returns the job's events newer than the event with ID since
// (all when since is empty), oldest first. The API lists newest first, so
// pages are read until since is met.
func (f *FineTuning) EventsSince(ctx context.Context, id, since string) ([]Event, error) {
	var out []Event
	after := ""
	for page := 0; page < 100; page++ {
		q := "/fine_tuning/jobs/" + url.PathEscape(id) + "/events?limit=100"
		if after != "" {
			q += "&after=" + url.QueryEscape(after)
		}
		var p listPage[Event]
		if err := f.do(ctx, http.MethodGet, q, nil, &p); err != nil {
			return nil, fmt.Errorf("events of %s: %w", id, err)
		}
		for _, e := range p.Data {
			if since != "" && e.ID == since {
				return reverse(out), nil
			}
			out = append(out, e)
		}
		if !p.HasMore || len(p.Data) == 0 {
			break
		}
		after = p.Data[len(p.Data)-1].ID
	}
	return reverse(out), nil
}

func reverse(e []Event) []Event {
	for i, j := 0, len(e)-1; i < j; i, j = i+1, j-1 {
		e[i], e[j] = e[j], e[i]
	}
	return e
}

// Follow polls a job until it ends or ctx is done, calling onEvent for each
// new event (after the one with ID since) and onJob after each status
// check. A failed poll that is not the API's refusal (a dropped connection
// past the doer's retries) is logged and tried again next interval, up to
// 10 in a row. It returns the last job seen.
func (f *FineTuning) Follow(ctx context.Context, id, since string, onEvent func(Event), onJob func(*Job)) (*Job, error) {
	var last *Job
	fails := 0
	for {
		events, err := f.EventsSince(ctx, id, since)
		if err == nil {
			for _, e := range events {
				onEvent(e)
				since = e.ID
			}
			var j *Job
			if j, err = f.Job(ctx, id); err == nil {
				last = j
				onJob(j)
				if j.Terminal() {
					// Events written as the job ended.
					if events, err := f.EventsSince(ctx, id, since); err == nil {
						for _, e := range events {
							onEvent(e)
						}
					}
					return j, nil
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			var ae *APIError
			if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests {
				return last, err
			}
			fails++
			if fails >= 10 {
				return last, fmt.Errorf("following job %s: %w", id, err)
			}
			f.c.log.Debug("openai: job poll failed, trying again", "job", id, "err", err)
		} else {
			fails = 0
		}
		if err := sleepCtx(ctx, f.Poll); err != nil {
			return last, err
		}
	}
}
