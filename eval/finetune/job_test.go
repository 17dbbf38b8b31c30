package finetune

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// fakeJobEnv prepares fine-tuning files from 20 images into a temporary
// folder and returns a client of a fresh fake API and that folder.
func fakeJobEnv(t *testing.T) (*openaitest.Server, *openaiclient.FineTuning, string) {
	t.Helper()
	srv := openaitest.New(t)
	srv.Key = "sk-test-job"
	ds := writeData(t, 20, "gt.json", nil)
	out := t.TempDir()
	if _, err := Prepare(Options{Train: ds.Items[:16], Val: ds.Items[16:], OutDir: out}); err != nil {
		t.Fatal(err)
	}
	ft, err := openaiclient.NewFineTuning(openaiclient.Config{BaseURL: srv.URL(), APIKey: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	ft.Poll = 1
	return srv, ft, out
}

func TestStartRefusesImagesForTextModel(t *testing.T) {
	srv, ft, dir := fakeJobEnv(t)
	_, _, err := Start(t.Context(), ft, StartOptions{Train: filepath.Join(dir, TrainImagesFile), Model: "gpt-4o-mini-2024-07-18",
		Info: filepath.Join(t.TempDir(), "info.json")})
	var refused *ImagesRefusedError
	if !errors.As(err, &refused) || refused.Model != "gpt-4o-mini-2024-07-18" || !strings.Contains(err.Error(), TrainTextFile) {
		t.Fatalf("Start = %v, want an ImagesRefusedError naming %s", err, TrainTextFile)
	}
	if n := srv.Count("POST", "/v1/files"); n != 0 {
		t.Errorf("%d uploads before the refusal", n)
	}
	// A table that marks the model as taking images lets it through.
	models := openaiclient.MergeModels(openaiclient.DefaultModels(), openaiclient.Models{"gpt-4o-mini-2024-07-18": {Vision: true, FineTuneImages: true}})
	if _, _, err := Start(t.Context(), ft, StartOptions{Train: filepath.Join(dir, TrainImagesFile), Model: "gpt-4o-mini-2024-07-18",
		Models: models, Info: filepath.Join(t.TempDir(), "info.json")}); err != nil {
		t.Errorf("Start with the extended table: %v", err)
	}
}

func TestStartFollowImages(t *testing.T) {
	srv, ft, dir := fakeJobEnv(t)
	srv.ModerationSkips = 2
	infoPath := filepath.Join(t.TempDir(), "info.json")
	var uploaded []string
	job, info, err := Start(t.Context(), ft, StartOptions{Train: filepath.Join(dir, TrainImagesFile), Val: filepath.Join(dir, ValImagesFile),
		Model: "gpt-4o-2024-08-06", Epochs: 2, Seed: 7, Suffix: "lib", Info: infoPath,
		Uploaded: func(path, id string, n int) { uploaded = append(uploaded, filepath.Base(path)) }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(uploaded, ",") != TrainImagesFile+","+ValImagesFile {
		t.Errorf("uploaded %v", uploaded)
	}
	if rec, err := openaiclient.ReadInfo(infoPath); err != nil || rec.JobID != job.ID || rec.BaseModel != "gpt-4o-2024-08-06" {
		t.Fatalf("record right after Start: %+v, %v", rec, err)
	}
	var statuses []string
	events := 0
	done, err := Follow(t.Context(), ft, job.ID, info, infoPath, Observer{
		Status: func(j *openaiclient.Job) { statuses = append(statuses, j.Status) },
		Event:  func(openaiclient.Event) { events++ },
		Warn:   func(err error) { t.Errorf("warning: %v", err) },
	})
	if err != nil || done.Status != "succeeded" {
		t.Fatalf("Follow = %+v, %v", done, err)
	}
	if statuses[len(statuses)-1] != "succeeded" || events == 0 {
		t.Errorf("statuses %v, %d events", statuses, events)
	}
	rec, _ := openaiclient.ReadInfo(infoPath)
	if !strings.HasPrefix(rec.FineTunedModel, "ft:gpt-4o-2024-08-06:") || len(rec.Checkpoints) == 0 || rec.SkippedExamples != 2 {
		t.Errorf("record after Follow: %+v", rec)
	}
	// Resolve finds the recorded job; another ID is not the record's.
	if id, in, err := Resolve(infoPath, ""); err != nil || id != job.ID || in == nil {
		t.Errorf("Resolve recorded = %q, %v, %v", id, in, err)
	}
	if id, in, err := Resolve(infoPath, "ftjob-other"); err != nil || id != "ftjob-other" || in != nil {
		t.Errorf("Resolve other = %q, %v, %v", id, in, err)
	}
}

func TestFollowFailedJob(t *testing.T) {
	srv, ft, dir := fakeJobEnv(t)
	srv.FailJobs = true
	infoPath := filepath.Join(t.TempDir(), "info.json")
	job, info, err := Start(t.Context(), ft, StartOptions{Train: filepath.Join(dir, TrainImagesFile), TextOnly: true, Model: "gpt-4o-mini-2024-07-18", Info: infoPath})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.TrainPath, TrainTextFile) {
		t.Errorf("TextOnly trained on %s", info.TrainPath)
	}
	_, err = Follow(t.Context(), ft, job.ID, info, infoPath, Observer{})
	if err == nil || !strings.Contains(err.Error(), job.ID+" failed: ") {
		t.Errorf("Follow of a failing job = %v", err)
	}
	if _, err := os.Stat(infoPath); err != nil {
		t.Error(err)
	}
}
