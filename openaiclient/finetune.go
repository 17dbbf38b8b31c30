package openaiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	// Poll is the interval between status checks (default 5 s).
	Poll time.Duration
}

// NewFineTuning returns a fine-tuning client for cfg (Model is not used).
func NewFineTuning(cfg Config) (*FineTuning, error) {
	c, err := newConn(cfg)
	if err != nil {
		return nil, err
	}
	return &FineTuning{c: c, Poll: 5 * time.Second}, nil
}

// BaseURL is the API's base URL in use.
func (f *FineTuning) BaseURL() string { return f.c.baseURL }

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

// Metrics reads a metrics event's data; ok is false for other events.
func (e *Event) Metrics() (Metrics, bool) {
	var m Metrics
	if e.Type != "metrics" || len(e.Data) == 0 || json.Unmarshal(e.Data, &m) != nil {
		return m, false
	}
	return m, true
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
	req, err := http.NewRequestWithContext(ctx, method, f.c.baseURL+path, body)
	if err != nil {
		return err
	}
	if f.c.key != "" {
		req.Header.Set("Authorization", "Bearer "+f.c.key)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
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
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w: %v", method, path, ErrMalformed, err)
		}
	}
	return nil
}

// Upload uploads a JSONL file for fine-tuning and returns its file ID.
func (f *FineTuning) Upload(ctx context.Context, path string) (openai.File, error) {
	file, err := f.c.api.CreateFile(ctx, openai.FileRequest{FileName: path, FilePath: path, Purpose: string(openai.PurposeFineTune)})
	if err != nil {
		return file, fmt.Errorf("upload %s: %w", path, convertError(err, f.c.key))
	}
	return file, nil
}

// WaitProcessed polls the file until the API has processed it; a file the
// API rejected is an error with its status details.
func (f *FineTuning) WaitProcessed(ctx context.Context, id string) (openai.File, error) {
	for {
		file, err := f.c.api.GetFile(ctx, id)
		if err != nil {
			return file, fmt.Errorf("file %s: %w", id, convertError(err, f.c.key))
		}
		switch file.Status {
		case "processed":
			return file, nil
		case "error", "deleted":
			return file, fmt.Errorf("file %s (%s) was rejected: %s", id, file.FileName, strings.TrimSpace(file.StatusDetails))
		}
		if err := sleepCtx(ctx, min(f.Poll, time.Second)); err != nil {
			return file, err
		}
	}
}

// CreateJob creates a fine-tuning job. A refusal because the account may
// not fine-tune wraps ErrFineTuningUnavailable.
func (f *FineTuning) CreateJob(ctx context.Context, r JobRequest) (*Job, error) {
	var j Job
	if err := f.do(ctx, http.MethodPost, "/fine_tuning/jobs", r, &j); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && refusesFineTuning(ae) {
			return nil, fmt.Errorf("create job: %w (OpenAI no longer opens fine-tuning to new accounts): %w", ErrFineTuningUnavailable, err)
		}
		return nil, fmt.Errorf("create job: %w", err)
	}
	return &j, nil
}

func refusesFineTuning(e *APIError) bool {
	m := strings.ToLower(e.Message)
	if e.Status == http.StatusForbidden {
		return true
	}
	return (e.Status == http.StatusBadRequest || e.Status == http.StatusNotFound) &&
		strings.Contains(m, "fine-tun") && (strings.Contains(m, "not available") || strings.Contains(m, "access") || strings.Contains(m, "not allowed"))
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
