package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/finetune"
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

const testKey = "sk-test-DONOTSHOW-0123456789abcdef"

// openaiEnv starts the fake API, points OPENAI_BASE_URL and OPENAI_API_KEY
// at it, gives it an empty answer cache and moves into a fresh working
// directory.
func openaiEnv(t *testing.T) *openaitest.Server {
	t.Helper()
	srv := openaitest.New(t)
	srv.Key = testKey
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", testKey)
	// A cache of its own: answers cached by an earlier run on the same
	// port (ports are reused) must not stand in for the requests counted.
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	t.Chdir(t.TempDir())
	return srv
}

// vlmcmp runs the CLI in-process and returns its exit code and output.
func vlmcmp(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"vlmcmp"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// writeGroundTruth writes n images (scores 1..10 in turn) plus the bad
// records of the issue, and returns the data file's path.
func writeGroundTruth(t *testing.T, n int) string {
	t.Helper()
	if err := os.MkdirAll("configs/images", 0o755); err != nil {
		t.Fatal(err)
	}
	var recs []string
	for i := range n {
		name := fmt.Sprintf("images/street_%03d.png", i)
		img := image.NewRGBA(image.Rect(0, 0, 40+i, 30))
		for p := range img.Pix {
			img.Pix[p] = uint8(i * 8)
		}
		img.Set(0, 0, color.White)
		var b bytes.Buffer
		png.Encode(&b, img)
		if err := os.WriteFile(filepath.Join("configs", name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, fmt.Sprintf(`{"image": %q, "safety_score": %d}`, name, i%10+1))
	}
	os.WriteFile("configs/images/broken.jpg", []byte("not a jpeg"), 0o644)
	recs = append(recs,
		`{"safety_score": 4}`,
		`{"image": "images/street_000.png"}`,
		`{"image": "images/street_001.png", "safety_score": 12}`,
		`{"image": "images/gone.png", "safety_score": 3}`,
		`{"image": "images/broken.jpg", "safety_score": 3}`,
		`{"image": "images/street_002.png", "safety_score": 5}`,
	)
	path := "configs/vlm_safety_training_data.json"
	if err := os.WriteFile(path, []byte("[\n"+strings.Join(recs, ",\n")+"\n]"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		n++
	}
	return n
}

func TestPrepareCommand(t *testing.T) {
	openaiEnv(t)
	data := writeGroundTruth(t, 30)
	code, out, errs := vlmcmp(t, t.Context(), "prepare", "--data", data, "--out", "data/openai_finetuning")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"36 records, 30 usable, 6 skipped",
		"skipped      1: duplicate image", "skipped      1: image not found", "skipped      1: image unreadable",
		"skipped      1: no image", "skipped      1: no score", "skipped      1: score outside 1..10",
		"train          27 examples", "val            3 examples", "cost estimate",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"record 31: no image", "record 32", "record 33", "record 34", "record 35", "record 36 (images/street_002.png): duplicate image: record 3",
		"not known to accept images"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	dir := "data/openai_finetuning"
	if n := countLines(t, filepath.Join(dir, finetune.TrainImagesFile)) + countLines(t, filepath.Join(dir, finetune.ValImagesFile)); n != 30 {
		t.Errorf("%d examples with images, want 30", n)
	}
	if a, b := countLines(t, filepath.Join(dir, finetune.TrainTextFile)), countLines(t, filepath.Join(dir, finetune.TrainImagesFile)); a != b {
		t.Errorf("text-only train %d lines, with images %d", a, b)
	}
	// The split names exactly the held-out images, and a line is a chat
	// example with the image and the target answer.
	var split struct {
		Train, Val []string
		Seed       int64
	}
	b, _ := os.ReadFile(filepath.Join(dir, "split.json"))
	if err := json.Unmarshal(b, &split); err != nil || len(split.Val) != 3 || len(split.Train) != 27 || split.Seed != 42 {
		t.Errorf("split %s: %v", b, err)
	}
	line, _ := os.ReadFile(filepath.Join(dir, finetune.ValImagesFile))
	first, _, _ := bytes.Cut(line, []byte("\n"))
	var ex struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(first, &ex); err != nil || len(ex.Messages) != 3 {
		t.Fatalf("example %s: %v", first, err)
	}
	if !bytes.Contains(ex.Messages[1].Content, []byte(`"url":"data:image/png;base64,`)) || !bytes.Contains(ex.Messages[2].Content, []byte("Safety score: ")) {
		t.Errorf("example messages: %s", first)
	}
	// A prices file changes the estimate.
	os.WriteFile("prices.yaml", []byte("gpt-4o-mini: {input: 1, output: 1, training: 1000}\n"), 0o644)
	_, out2, _ := vlmcmp(t, t.Context(), "prepare", "--data", data, "--out", "priced", "--prices", "prices.yaml")
	if !strings.Contains(out2, "cost estimate") || out2 == out {
		t.Errorf("--prices changed nothing:\n%s", out2)
	}
	// Same data, same seed: the same split.
	vlmcmp(t, t.Context(), "prepare", "--data", data, "--out", "again")
	b2, _ := os.ReadFile("again/split.json")
	var split2 struct{ Train, Val []string }
	json.Unmarshal(b2, &split2)
	if strings.Join(split2.Val, ",") != strings.Join(split.Val, ",") {
		t.Errorf("split not reproducible: %v vs %v", split2.Val, split.Val)
	}
}

func TestPrepareBadInput(t *testing.T) {
	tests := []struct {
		name, content string
		args          []string
		code          int
		want          string
	}{
		{"not json", `{"image": "a.png", "score": `, nil, 1, "vlmcmp: ground truth gt.json: not JSON: line 1"},
		{"empty list", `[]`, nil, 1, "ground truth gt.json: no records"},
		{"nothing usable", `[{"image": "a.png", "score": 3}]`, nil, 1, "no usable records (1 records, 1 skipped)"},
		{"bad ratio", `[]`, []string{"--val-ratio", "1.5"}, 2, "--val-ratio 1.5 is not in [0, 1)"},
		{"too few strict", "", []string{"--strict"}, 1, "problems the fine-tuning API would reject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			openaiEnv(t)
			data := "gt.json"
			if tt.content == "" {
				data = writeGroundTruth(t, 5)
			} else {
				os.WriteFile(data, []byte(tt.content), 0o644)
			}
			code, out, errs := vlmcmp(t, t.Context(), append([]string{"prepare", "--data", data, "--out", "o"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s\n%s", code, tt.code, tt.want, out, errs)
			}
			if strings.Contains(errs, "panic") {
				t.Error(errs)
			}
		})
	}
}

// prepared runs prepare on 30 good images and returns the output folder.
func prepared(t *testing.T) string {
	t.Helper()
	data := writeGroundTruth(t, 30)
	if code, out, errs := vlmcmp(t, t.Context(), "prepare", "--data", data, "--out", "data/openai_finetuning"); code != 0 {
		t.Fatalf("prepare: %d\n%s%s", code, out, errs)
	}
	return "data/openai_finetuning"
}

func readInfo(t *testing.T) *openaiclient.Info {
	t.Helper()
	in, err := openaiclient.ReadInfo(openaiclient.DefaultInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestFinetuneStartWait(t *testing.T) {
	srv := openaiEnv(t)
	srv.ModerationSkips = 3
	dir := prepared(t)
	code, out, errs := vlmcmp(t, t.Context(), "finetune", "start", "--train", dir+"/train_with_images.jsonl", "--val", dir+"/val_with_images.jsonl",
		"--text-only", "--epochs", "2", "--suffix", "safety", "--wait", "--poll", "1ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	in := readInfo(t)
	if in.Status != "succeeded" || !strings.HasPrefix(in.FineTunedModel, "ft:gpt-4o-mini-2024-07-18:org-fake:safety:") ||
		in.SkippedExamples != 3 || in.Step != 4 || in.TrainLoss == nil || in.ValidLoss == nil || len(in.Checkpoints) != 2 {
		t.Errorf("info %+v", in)
	}
	var hp struct {
		Epochs int `json:"n_epochs"`
	}
	if json.Unmarshal(in.Hyperparameters, &hp); hp.Epochs != 2 {
		t.Errorf("hyperparameters %s", in.Hyperparameters)
	}
	if !strings.Contains(in.TrainPath, "train_text_only.jsonl") {
		t.Errorf("train path %s", in.TrainPath)
	}
	for _, want := range []string{"job ftjob-", "validating_files", "queued", "running", "step 2/4 train loss 1.0000, valid loss 1.1000", "skipped 3 training examples"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("output lacks %q:\n%s%s", want, out, errs)
		}
	}
	if !strings.Contains(out, "succeeded: fine-tuned model ft:") {
		t.Errorf("stdout: %s", out)
	}
	// The job request used method → supervised and the seed.
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "/v1/fine_tuning/jobs" {
			if !bytes.Contains(r.Body, []byte(`"method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":2}}}`)) || !bytes.Contains(r.Body, []byte(`"seed":42`)) {
				t.Errorf("job request %s", r.Body)
			}
		}
	}
	code, out, _ = vlmcmp(t, t.Context(), "finetune", "status")
	if code != 0 || !strings.Contains(out, "status         succeeded") || !strings.Contains(out, "ckpt-step-4") {
		t.Errorf("status: %d\n%s", code, out)
	}
	code, out, _ = vlmcmp(t, t.Context(), "finetune", "list")
	if code != 0 || !strings.Contains(out, in.JobID+"\tsucceeded\tgpt-4o-mini-2024-07-18\tft:") {
		t.Errorf("list: %d\n%s", code, out)
	}
	// The comparison's reader finds the model.
	if name, err := backend.FineTunedModel(openaiclient.DefaultInfoPath); err != nil || name != in.FineTunedModel {
		t.Errorf("fineTunedModel = %q, %v", name, err)
	}
}

func TestFinetuneImagesNeedModel(t *testing.T) {
	srv := openaiEnv(t)
	dir := prepared(t)
	code, _, errs := vlmcmp(t, t.Context(), "finetune", "start", "--train", dir+"/train_with_images.jsonl", "--val", dir+"/val_with_images.jsonl")
	if code != 1 || !strings.Contains(errs, "gpt-4o-mini-2024-07-18 is not known to accept images") || !strings.Contains(errs, "train_text_only.jsonl") {
		t.Errorf("exit %d:\n%s", code, errs)
	}
	if n := srv.Count("POST", "/v1/files"); n != 0 {
		t.Errorf("%d uploads before the refusal", n)
	}
	// gpt-4o-2024-08-06 takes them.
	code, out, errs := vlmcmp(t, t.Context(), "finetune", "start", "--model", "gpt-4o-2024-08-06", "--train", dir+"/train_with_images.jsonl", "--val", dir+"/val_with_images.jsonl")
	if code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	if in := readInfo(t); in.Status != "validating_files" || in.BaseModel != "gpt-4o-2024-08-06" {
		t.Errorf("info right after start: %+v", in)
	}
}

func TestFinetuneWaitResumes(t *testing.T) {
	srv := openaiEnv(t)
	srv.Steps = 6
	dir := prepared(t)
	if code, out, errs := vlmcmp(t, t.Context(), "finetune", "start", "--text-only", "--train", dir+"/train_with_images.jsonl", "--val", dir+"/val_with_images.jsonl"); code != 0 {
		t.Fatalf("%s%s", out, errs)
	}
	// A wait stopped early (Ctrl-C) leaves the record where it got to.
	srv.Latency = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(150*time.Millisecond, cancel)
	code, _, errs1 := vlmcmp(t, ctx, "finetune", "wait", "--poll", "1ms")
	if code != 130 || !strings.Contains(errs1, "resume with vlmcmp finetune wait") {
		t.Fatalf("interrupted wait: exit %d\n%s", code, errs1)
	}
	mid := readInfo(t)
	if mid.Status == "succeeded" || mid.LastEventID == "" {
		t.Fatalf("record after the interrupted wait: %+v", mid)
	}
	// Dropped connections while waiting are retried.
	srv.Latency = 0
	srv.Inject(openaitest.Fault{Method: "GET", Path: "/v1/fine_tuning/jobs/", Status: 503, RetryAfter: "0", Times: 2})
	code, out, errs2 := vlmcmp(t, t.Context(), "finetune", "wait", "--poll", "1ms")
	if code != 0 || readInfo(t).Status != "succeeded" {
		t.Fatalf("resumed wait: exit %d\n%s%s", code, out, errs2)
	}
	if strings.Contains(errs2, "Validating training file") {
		t.Errorf("the resumed wait repeated old events:\n%s", errs2)
	}
	srv.Verify(t)
}

func TestFinetuneEnds(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*openaitest.Server)
		code  int
		want  string
	}{
		{"failed", func(s *openaitest.Server) { s.FailJobs = true }, 1, "failed: The job failed due to an invalid training file"},
		{"denied", func(s *openaitest.Server) { s.DenyFineTuning = true }, 1, "OpenAI refused to create the fine-tuning job (status 403: You do not have access to fine-tuning"},
		{"closed: both ways on", func(s *openaitest.Server) { s.DenyFineTuning, s.DenyMessage = true, openaitest.FineTuningClosedMessage }, 1,
			"2027-01-06 to all); fine-tune the same model on Azure OpenAI with --provider azure --base-url https://NAME.openai.azure.com, or fine-tune Qwen2-VL locally with LoRA and turn the adapter into a GGUF with vlmcmp lora convert\n"},
		{"key refused", func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Method: "POST", Path: "/v1/files", Status: 401, Message: "Incorrect API key provided: sk-test-***cdef."})
		}, 1, "The API refused the key"},
		{"bad request not retried", func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Method: "POST", Path: "/v1/fine_tuning/jobs", Status: 400, Message: "Invalid n_epochs."})
		}, 1, "status 400: Invalid n_epochs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaiEnv(t)
			tt.setup(srv)
			dir := prepared(t)
			code, out, errs := vlmcmp(t, t.Context(), "finetune", "start", "--text-only", "--train", dir+"/train_with_images.jsonl", "--val", dir+"/val_with_images.jsonl", "--wait", "--poll", "1ms")
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s%s", code, tt.code, tt.want, out, errs)
			}
			if strings.Contains(out+errs, "DONOTSHOW") {
				t.Errorf("the key shows:\n%s%s", out, errs)
			}
			srv.Verify(t)
			if tt.name == "bad request not retried" && srv.Count("POST", "/v1/fine_tuning/jobs") != 1 {
				t.Errorf("job creation sent %d times", srv.Count("POST", "/v1/fine_tuning/jobs"))
			}
		})
	}
}

func TestFinetuneCancel(t *testing.T) {
	srv := openaiEnv(t)
	dir := prepared(t)
	vlmcmp(t, t.Context(), "finetune", "start", "--text-only", "--train", dir+"/train_with_images.jsonl")
	in := readInfo(t)
	code, out, errs := vlmcmp(t, t.Context(), "finetune", "cancel", in.JobID)
	if code != 0 || !strings.Contains(out, "cancelled") || srv.JobStatus(in.JobID) != "cancelled" || readInfo(t).Status != "cancelled" {
		t.Errorf("cancel: %d %s %s", code, out, errs)
	}
	code, _, errs = vlmcmp(t, t.Context(), "finetune", "wait")
	if code != 1 || !strings.Contains(errs, "was cancelled") {
		t.Errorf("wait on a cancelled job: %d %s", code, errs)
	}
}

func TestOpenAIKeySources(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		openaiEnv(t)
		t.Setenv("OPENAI_API_KEY", "")
		code, _, errs := vlmcmp(t, t.Context(), "finetune", "list")
		if code != 1 || !strings.Contains(errs, "no OpenAI API key") || !strings.Contains(errs, "OPENAI_API_KEY") || !strings.Contains(errs, "--api-key-file") {
			t.Errorf("exit %d: %s", code, errs)
		}
	})
	t.Run("key file flag", func(t *testing.T) {
		openaiEnv(t)
		t.Setenv("OPENAI_API_KEY", "sk-wrong")
		os.WriteFile("mykey", []byte(testKey+"\n"), 0o600)
		if code, out, errs := vlmcmp(t, t.Context(), "finetune", "list", "--api-key-file", "mykey"); code != 0 {
			t.Errorf("exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("API_KEY_Enoch in working directory", func(t *testing.T) {
		openaiEnv(t)
		t.Setenv("OPENAI_API_KEY", "")
		os.WriteFile(openaiclient.KeyFileName, []byte(testKey), 0o600)
		if code, out, errs := vlmcmp(t, t.Context(), "finetune", "list"); code != 0 {
			t.Errorf("exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("base url flag", func(t *testing.T) {
		srv := openaiEnv(t)
		t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
		if code, out, errs := vlmcmp(t, t.Context(), "finetune", "list", "--base-url", srv.URL()); code != 0 {
			t.Errorf("exit %d: %s%s", code, out, errs)
		}
	})
}

// TestKeyAppearsNowhere runs every OpenAI command with debug logs, one
// failing with 401, and searches all output and every file written for the
// key.
func TestKeyAppearsNowhere(t *testing.T) {
	srv := openaiEnv(t)
	dir := prepared(t)
	srv.Inject(openaitest.Fault{Method: "GET", Path: "/v1/fine_tuning/jobs/", Status: 500, Message: "upstream said " + testKey})
	var all strings.Builder
	for _, args := range [][]string{
		{"--log-level", "debug", "finetune", "start", "--text-only", "--train", dir + "/train_with_images.jsonl", "--val", dir + "/val_with_images.jsonl", "--wait", "--poll", "1ms"},
		{"--log-level", "debug", "finetune", "status"},
		{"--log-level", "debug", "finetune", "list"},
	} {
		code, out, errs := vlmcmp(t, t.Context(), args...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", args, code, errs)
		}
		all.WriteString(out + errs)
	}
	srv.Inject(openaitest.Fault{Path: "/v1/fine_tuning/jobs", Status: 401, Message: "Incorrect API key provided: " + testKey})
	_, out, errs := vlmcmp(t, t.Context(), "--log-level", "debug", "finetune", "list")
	all.WriteString(out + errs)
	if !strings.Contains(all.String(), "retrying") {
		t.Errorf("the debug log shows no retry:\n%s", all.String())
	}
	if strings.Contains(all.String(), "DONOTSHOW") {
		t.Errorf("the key appears in the output:\n%s", all.String())
	}
	filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("DONOTSHOW")) {
			t.Errorf("the key appears in %s", p)
		}
		return nil
	})
	srv.Verify(t)
}

// compare with the gpt4 model set to the models replacing gpt-4o: the fake
// refuses max_tokens and temperatures for them as the API does, and no
// request may be refused.
func TestCompareNewerModels(t *testing.T) {
	for _, model := range []string{"gpt-5-mini", "o4-mini"} {
		t.Run(model, func(t *testing.T) {
			srv := openaiEnv(t)
			data := writeGroundTruth(t, 12)
			code, out, errs := vlmcmp(t, t.Context(), "compare", "--split", "all", "--data", data, "--models", "gpt4", "--gpt4-model", model, "--run-id", "r1")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			n := 0
			for _, r := range srv.Requests() {
				if r.Path != "/v1/chat/completions" {
					continue
				}
				n++
				if r.Status != 200 || r.Chat == nil || r.Chat.Model != model || r.Chat.MaxTokensParam != "max_completion_tokens" || r.Chat.Temperature != nil {
					t.Errorf("request %+v refused or wrong for %s", r.Chat, model)
				}
			}
			if n != 12 {
				t.Errorf("%d chat requests, want 12", n)
			}
		})
	}
}

// An OpenAI-compatible server that needs no key, given with --base-url:
// compare runs without any key.
func TestCompareCompatibleServerWithoutKey(t *testing.T) {
	srv := openaiEnv(t)
	srv.Key = ""
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	data := writeGroundTruth(t, 12)
	code, out, errs := vlmcmp(t, t.Context(), "compare", "--split", "all", "--data", data, "--models", "gpt4", "--gpt4-model", "qwen2-vl",
		"--base-url", srv.URL(), "--run-id", "r1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if n := srv.Count("POST", "/v1/chat/completions"); n != 12 {
		t.Errorf("%d chat requests, want 12", n)
	}
	// Without --base-url the OpenAI API is meant, and it needs a key.
	code, _, errs = vlmcmp(t, t.Context(), "compare", "--split", "all", "--data", data, "--models", "gpt4", "--run-id", "r2")
	if code == 0 || !strings.Contains(errs, "no OpenAI API key") {
		t.Errorf("no key, no base URL: exit %d %s", code, errs)
	}
}
