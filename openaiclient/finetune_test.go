package openaiclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

func newTestFineTuning(t testing.TB, srv *openaitest.Server, mod func(*Config)) *FineTuning {
	t.Helper()
	cfg := Config{BaseURL: srv.URL(), APIKey: srv.Key, RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	ft, err := NewFineTuning(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ft.Poll = time.Millisecond
	return ft
}

// writeJSONL writes n text examples (padded to about size bytes in all).
func writeJSONL(t testing.TB, name string, n, size int) string {
	t.Helper()
	pad := ""
	if size > 0 {
		pad = strings.Repeat("x", max(0, size/n-120))
	}
	var b strings.Builder
	for i := range n {
		ex := Example{Messages: []ExampleMessage{{Role: "user", Content: "Rate " + pad}, {Role: "assistant", Content: fmt.Sprintf("Safety score: %d/10", 1+i%10)}}}
		line, _ := json.Marshal(ex)
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// An upload over a slow link takes longer than a chat request's timeout:
// its timeout grows with its size, progress is reported, and with a fixed
// short timeout (a huge assumed rate) the same upload fails.
func TestUploadSlowLink(t *testing.T) {
	path := writeJSONL(t, "train.jsonl", 50, 400<<10) // ~400 KB
	st, _ := os.Stat(path)
	tests := []struct {
		name    string
		rate    int64
		wantErr string
	}{
		{"timeout scales with size", 256 << 10, ""},
		{"context only", -1, ""},
		{"timeout too short for the link", 1 << 40, "no answer within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.New(t)
			srv.UploadRate = 1 << 20 // 1 MB/s: about 0.4 s
			ft := newTestFineTuning(t, srv, func(c *Config) { c.Timeout = 150 * time.Millisecond; c.UploadRate = tt.rate; c.MaxRetries = 1 })
			ft.MinUploadWait = 0 // the timeout is the request's plus the size term
			var mu sync.Mutex
			var calls int
			var last, total int64
			file, err := ft.Upload(t.Context(), path, func(sent, tot int64) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				last, total = sent, tot
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if file.ID == "" || file.Bytes != int(st.Size()) || file.FileName != "train.jsonl" {
				t.Errorf("file %+v, want %d bytes named train.jsonl", file, st.Size())
			}
			mu.Lock()
			defer mu.Unlock()
			if calls < 3 || last != total || total <= st.Size() {
				t.Errorf("progress: %d calls, last %d of %d (file %d bytes)", calls, last, total, st.Size())
			}
		})
	}
}

func TestUploadRefused(t *testing.T) {
	srv := openaitest.New(t)
	srv.MaxUploadBytes = 4000
	ft := newTestFineTuning(t, srv, nil)
	// Not .jsonl: refused before sending.
	txt := writeJSONL(t, "train.json", 12, 0)
	if _, err := ft.Upload(t.Context(), txt, nil); err == nil || !strings.Contains(err.Error(), "*.jsonl") {
		t.Errorf("train.json: err %v", err)
	}
	if n := srv.Count("POST", "/v1/files"); n != 0 {
		t.Errorf("%d uploads sent for a file the client refuses", n)
	}
	// The fake refuses the same, and a file over its limit.
	big := writeJSONL(t, "big.jsonl", 20, 8000)
	if _, err := ft.Upload(t.Context(), big, nil); err == nil || !strings.Contains(err.Error(), "File is too large") {
		t.Errorf("oversized upload: err %v", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("purpose", "fine-tune")
	w, _ := mw.CreateFormFile("file", "train.csv")
	w.Write([]byte(`{"messages":[]}` + "\n"))
	mw.Close()
	status, msg := rawSend(t, srv, "POST", "/files", mw.FormDataContentType(), body.Bytes())
	if status != 400 || !strings.Contains(msg, "Must be .jsonl") {
		t.Errorf("fake took a .csv: %d %s", status, msg)
	}
}

func TestWaitProcessedLimit(t *testing.T) {
	srv := openaitest.New(t)
	srv.ProcessPolls = -1 // never processed
	ft := newTestFineTuning(t, srv, func(c *Config) { c.ProcessTimeout = 200 * time.Millisecond })
	file, err := ft.Upload(t.Context(), writeJSONL(t, "train.jsonl", 12, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = ft.WaitProcessed(t.Context(), file.ID)
	if !errors.Is(err, ErrNotProcessed) || !strings.Contains(err.Error(), file.ID) || !strings.Contains(err.Error(), `still "uploaded" after`) {
		t.Errorf("err %v, want ErrNotProcessed naming the file and its status", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("waited %s, want about the 200 ms limit", d)
	}
	srv.ProcessPolls = 3
	file, _ = ft.Upload(t.Context(), writeJSONL(t, "train.jsonl", 12, 0), nil)
	if f, err := ft.WaitProcessed(t.Context(), file.ID); err != nil || f.Status != "processed" {
		t.Errorf("after 3 polls: %+v %v", f, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestJobRequestValidate(t *testing.T) {
	ok := JobRequest{Model: "gpt-4o-mini-2024-07-18", TrainingFile: "file-1"}
	hp := func(e, b *int, lr *float64) *Method {
		return &Method{Type: "supervised", Supervised: &Supervised{Hyperparameters: Hyperparameters{Epochs: e, BatchSize: b, LRMultiplier: lr}}}
	}
	tests := []struct {
		name   string
		mod    func(*JobRequest)
		want   string // "" for valid
		param  string // the fake's param for the same request
		status int
	}{
		{"valid", func(r *JobRequest) {
			r.Seed = ptr(int64(0))
			r.Suffix = strings.Repeat("s", 64)
			r.Method = hp(ptr(50), ptr(256), ptr(0.01))
		}, "", "", 200},
		{"suffix 65", func(r *JobRequest) { r.Suffix = strings.Repeat("s", 65) }, "suffix", "suffix", 400},
		{"seed negative", func(r *JobRequest) { r.Seed = ptr(int64(-1)) }, "seed -1", "seed", 400},
		{"seed 2^31", func(r *JobRequest) { r.Seed = ptr(int64(1 << 31)) }, "seed 2147483648", "seed", 400},
		{"epochs 0", func(r *JobRequest) { r.Method = hp(ptr(0), nil, nil) }, "n_epochs 0", "hyperparameters.n_epochs", 400},
		{"epochs 51", func(r *JobRequest) { r.Method = hp(ptr(51), nil, nil) }, "n_epochs 51", "hyperparameters.n_epochs", 400},
		{"batch 257", func(r *JobRequest) { r.Method = hp(nil, ptr(257), nil) }, "batch_size 257", "hyperparameters.batch_size", 400},
		{"batch 0", func(r *JobRequest) { r.Method = hp(nil, ptr(0), nil) }, "batch_size 0", "hyperparameters.batch_size", 400},
		{"lr 0", func(r *JobRequest) { r.Method = hp(nil, nil, ptr(0.0)) }, "learning_rate_multiplier 0", "hyperparameters.learning_rate_multiplier", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.New(t)
			ft := newTestFineTuning(t, srv, nil)
			file, err := ft.Upload(t.Context(), writeJSONL(t, "train.jsonl", 12, 0), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ft.WaitProcessed(t.Context(), file.ID); err != nil {
				t.Fatal(err)
			}
			r := ok
			r.TrainingFile = file.ID
			tt.mod(&r)
			err = r.Validate()
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want %q", err, tt.want)
			}
			_, err = ft.CreateJob(t.Context(), r)
			if (tt.want == "") != (err == nil) {
				t.Errorf("CreateJob: %v", err)
			}
			if tt.want != "" && srv.Count("POST", "/v1/fine_tuning/jobs") != 0 {
				t.Error("an invalid job request was sent")
			}
			// The fake refuses the same request as the API does.
			status, msg := rawPost(t, srv, "/fine_tuning/jobs", r)
			if status != tt.status || tt.param != "" && !strings.Contains(msg, `"param":"`+tt.param+`"`) {
				t.Errorf("fake: %d %s, want %d for %s", status, msg, tt.status, tt.param)
			}
		})
	}
}

// The fake validates files when the job runs, as the service does, and the
// failure arrives in job.error.
func TestJobValidatesFiles(t *testing.T) {
	rgb := imageURL(t, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	grey := imageURL(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	tests := []struct {
		name, model string
		images      []string // per example
		want        string   // in job.error.message; "" for success
	}{
		{"rgb images on gpt-4o-2024-08-06", "gpt-4o-2024-08-06", []string{rgb}, ""},
		{"grey image", "gpt-4o-2024-08-06", []string{grey}, "not in RGB or RGBA mode"},
		{"eleven images", "gpt-4o-2024-08-06", repeat(rgb, 11), "maximum is 10 images"},
		{"images on gpt-4o-mini", "gpt-4o-mini-2024-07-18", []string{rgb}, "does not support images"},
		{"text on gpt-4o-mini", "gpt-4o-mini-2024-07-18", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.New(t)
			ft := newTestFineTuning(t, srv, nil)
			var b strings.Builder
			for i := range 10 {
				parts := []ExamplePart{{Type: "text", Text: "Rate"}}
				for _, u := range tt.images {
					parts = append(parts, ExamplePart{Type: "image_url", ImageURL: &ExampleImage{URL: u, Detail: "low"}})
				}
				line, _ := json.Marshal(Example{Messages: []ExampleMessage{{Role: "user", Content: parts}, {Role: "assistant", Content: fmt.Sprint(i + 1)}}})
				b.Write(line)
				b.WriteByte('\n')
			}
			path := filepath.Join(t.TempDir(), "train.jsonl")
			os.WriteFile(path, []byte(b.String()), 0o644)
			file, err := ft.Upload(t.Context(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ft.WaitProcessed(t.Context(), file.ID); err != nil {
				t.Fatal(err)
			}
			job, err := ft.CreateJob(t.Context(), JobRequest{Model: tt.model, TrainingFile: file.ID})
			if err != nil {
				t.Fatal(err)
			}
			job, err = ft.Follow(t.Context(), job.ID, "", func(Event) {}, func(*Job) {})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if job.Status != "succeeded" {
					t.Errorf("status %s error %+v, want succeeded", job.Status, job.Error)
				}
				return
			}
			if job.Status != "failed" || job.Error == nil || !strings.Contains(job.Error.Message, tt.want) || job.Error.Param != "training_file" {
				t.Errorf("status %s error %+v, want failed with %q", job.Status, job.Error, tt.want)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func imageURL(t testing.TB, img image.Image) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + encodeB64(b.Bytes())
}

// The API writes step counts as floats (88.0): progress and checkpoints
// are read, and a step that is not a whole number is an error, not
// silence.
func TestMetricsFloatSteps(t *testing.T) {
	srv := openaitest.New(t)
	srv.Steps = 4
	ft := newTestFineTuning(t, srv, nil)
	file, _ := ft.Upload(t.Context(), writeJSONL(t, "train.jsonl", 12, 0), nil)
	ft.WaitProcessed(t.Context(), file.ID)
	job, err := ft.CreateJob(t.Context(), JobRequest{Model: "gpt-4o-mini-2024-07-18", TrainingFile: file.ID})
	if err != nil {
		t.Fatal(err)
	}
	var in Info
	var recErrs []error
	job, err = ft.Follow(t.Context(), job.ID, "", func(e Event) {
		if err := in.Record(e); err != nil {
			recErrs = append(recErrs, err)
		}
	}, in.Update)
	if err != nil || job.Status != "succeeded" {
		t.Fatalf("job %+v err %v", job, err)
	}
	if in.Step != 4 || in.TotalSteps != 4 || in.TrainLoss == nil || len(recErrs) > 0 {
		t.Errorf("progress step %d/%d loss %v errors %v, want 4/4", in.Step, in.TotalSteps, in.TrainLoss, recErrs)
	}
	cps, err := ft.Checkpoints(t.Context(), job.ID)
	if err != nil || len(cps) != 2 || cps[0].StepNumber != 4 || cps[0].Metrics.Step != 4 {
		t.Errorf("checkpoints %+v err %v, want steps 4 and 2", cps, err)
	}
	for _, tt := range []struct {
		data, want string
	}{
		{`{"step": 88.0, "total_steps": 100.0, "train_loss": 0.5}`, ""},
		{`{"step": 88.5}`, "not a whole number"},
		{`{"step": "eighty"}`, "cannot unmarshal"},
		{`null`, "without data"},
	} {
		e := Event{ID: "ev", Type: "metrics", Data: json.RawMessage(tt.data)}
		m, ok, err := e.Metrics()
		if tt.want == "" {
			if !ok || err != nil || m.Step != 88 || m.TotalSteps != 100 {
				t.Errorf("%s: %+v %v %v", tt.data, m, ok, err)
			}
			continue
		}
		if ok || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ok %v err %v, want %q", tt.data, ok, err, tt.want)
		}
	}
}

// Fine-tuning access refused, in the wordings the API has used and the
// closing's: never retried, and the error names both ways on (Azure OpenAI,
// the local Qwen2-VL fine-tune).
func TestFineTuningUnavailable(t *testing.T) {
	tests := []struct {
		status int
		msg    string
		want   bool
	}{
		{403, "Forbidden", true},
		{403, "You are not allowed to do that", true},
		{400, "Fine-tuning is not available for your organization.", true},
		{400, "Your organization is not eligible for fine-tuning.", true},
		{404, "You do not have permission to create fine-tuning jobs.", true},
		{400, "Fine-tuning jobs are not allowed for this project.", true},
		{400, "Fine-tuning is no longer offered to new accounts.", true},
		{403, openaitest.FineTuningClosedMessage, true},
		{400, "Invalid 'suffix': string too long.", false},
		{404, "The model `gpt-x` does not exist or you do not have access to it.", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.msg), func(t *testing.T) {
			srv := openaitest.New(t)
			srv.DenyFineTuning, srv.DenyStatus, srv.DenyMessage = true, tt.status, tt.msg
			ft := newTestFineTuning(t, srv, nil)
			file, _ := ft.Upload(t.Context(), writeJSONL(t, "train.jsonl", 12, 0), nil)
			ft.WaitProcessed(t.Context(), file.ID)
			_, err := ft.CreateJob(t.Context(), JobRequest{Model: "gpt-4o-mini-2024-07-18", TrainingFile: file.ID})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrFineTuningUnavailable); got != tt.want {
				t.Errorf("errors.Is(%v, ErrFineTuningUnavailable) = %v, want %v", err, got, tt.want)
			}
			if tt.want && (!strings.Contains(err.Error(), "--provider azure") || !strings.Contains(err.Error(), "vlmcmp lora convert") ||
				!strings.Contains(err.Error(), "2027-01-06")) {
				t.Errorf("err %q does not name both ways on", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Errorf("err %v does not carry the API error", err)
			}
			if n := srv.Count("POST", "/v1/fine_tuning/jobs"); n != 1 {
				t.Errorf("%d job requests, want 1 (never retried)", n)
			}
		})
	}
}

func TestMetricsLosses(t *testing.T) {
	a, b := 0.12345, 2.0
	for _, tc := range []struct {
		m    Metrics
		want string
	}{
		{Metrics{}, ""},
		{Metrics{TrainLoss: &a}, "train loss 0.1235"},
		{Metrics{TrainLoss: &a, ValidLoss: &b}, "train loss 0.1235, valid loss 2.0000"},
	} {
		if got := tc.m.Losses(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.m, got, tc.want)
		}
	}
}
