package finetune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// TextOnlyPath is the text-only file [Prepare] writes beside an image file
// (train_with_images.jsonl → train_text_only.jsonl).
func TextOnlyPath(p string) string {
	return strings.Replace(p, "_with_images", "_text_only", 1)
}

// StartOptions configure [Start].
type StartOptions struct {
	// Train and Val are the JSONL files; Val may be empty.
	Train, Val string
	// TextOnly uses the text-only files beside Train and Val instead.
	TextOnly bool
	// Model is the base model.
	Model string
	// Epochs, BatchSize and LRMultiplier are the hyperparameters; zero
	// lets the API choose.
	Epochs, BatchSize int
	LRMultiplier      float64
	Suffix            string
	Seed              int64
	// Force uploads files with images even when Models does not say that
	// Model takes them.
	Force bool
	// Models is the model table; nil means openaiclient.DefaultModels.
	Models openaiclient.Models
	// Info is where the job is recorded (fine_tune_info.json).
	Info string
	// Upload, when set, returns the progress callback of path's upload
	// (nil for none); Uploaded is told each file once the API has it,
	// before Start waits for the API to process it.
	Upload   func(path string) openaiclient.Progress
	Uploaded func(path string, id string, bytes int)
}

// ImagesRefusedError is [Start]'s refusal to upload images for a base model
// the table does not mark as taking them in fine-tuning.
type ImagesRefusedError struct {
	Model, File string
}

func (e *ImagesRefusedError) Error() string {
	return fmt.Sprintf("%s is not known to accept images in fine-tuning (gpt-4o-2024-08-06 is documented to), and %s holds images: "+
		"use the text-only files (--text-only, i.e. %s), choose --model gpt-4o-2024-08-06, or --force to upload anyway",
		e.Model, e.File, TextOnlyPath(e.File))
}

// Start uploads the training (and validation) file, waits until the API has
// processed each, creates a supervised job and records it in opts.Info at
// once. Files with images for a model that does not take them are refused
// before anything is sent (an [*ImagesRefusedError]) unless opts.Force. The
// job's record is returned with the job; the caller follows it with
// [Follow].
func Start(ctx context.Context, ft *openaiclient.FineTuning, opts StartOptions) (*openaiclient.Job, *openaiclient.Info, error) {
	if opts.TextOnly {
		opts.Train = TextOnlyPath(opts.Train)
		if opts.Val != "" {
			opts.Val = TextOnlyPath(opts.Val)
		}
	}
	if opts.Models == nil {
		opts.Models = openaiclient.DefaultModels()
	}
	files := []string{opts.Train}
	if opts.Val != "" {
		files = append(files, opts.Val)
	}
	hasImages := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: file not found (run vlmcmp prepare)", f)
		} else if err != nil {
			return nil, nil, err
		}
		hasImages = hasImages || strings.Contains(string(b), `"image_url"`)
	}
	if hasImages && !opts.Models.AcceptsImages(opts.Model) && !opts.Force {
		return nil, nil, &ImagesRefusedError{Model: opts.Model, File: opts.Train}
	}
	ids := make([]string, len(files))
	for i, f := range files {
		var progress openaiclient.Progress
		if opts.Upload != nil {
			progress = opts.Upload(f)
		}
		file, err := ft.Upload(ctx, f, progress)
		if err != nil {
			return nil, nil, err
		}
		if opts.Uploaded != nil {
			opts.Uploaded(f, file.ID, file.Bytes)
		}
		if _, err := ft.WaitProcessed(ctx, file.ID); err != nil {
			return nil, nil, err
		}
		ids[i] = file.ID
	}
	job, err := ft.CreateJob(ctx, jobRequest(opts, ids))
	if err != nil {
		return nil, nil, err
	}
	info := &openaiclient.Info{TrainPath: opts.Train, ValPath: opts.Val, Suffix: opts.Suffix, Provider: ft.Provider()}
	if ft.Provider() == "azure" {
		info.Endpoint, info.APIVersion = ft.BaseURL(), ft.APIVersion()
	} else {
		info.BaseURL = ft.BaseURL()
	}
	info.Update(job)
	if err := openaiclient.WriteInfo(opts.Info, info); err != nil {
		return nil, nil, err
	}
	return job, info, nil
}

// jobRequest is the supervised job for the uploaded files ids (training,
// then validation).
func jobRequest(opts StartOptions, ids []string) openaiclient.JobRequest {
	req := openaiclient.JobRequest{Model: opts.Model, TrainingFile: ids[0], Suffix: opts.Suffix, Seed: &opts.Seed,
		Method: &openaiclient.Method{Type: "supervised", Supervised: &openaiclient.Supervised{}}}
	if len(ids) > 1 {
		req.ValidationFile = ids[1]
	}
	hp := &req.Method.Supervised.Hyperparameters
	if opts.Epochs > 0 {
		hp.Epochs = &opts.Epochs
	}
	if opts.BatchSize > 0 {
		hp.BatchSize = &opts.BatchSize
	}
	if opts.LRMultiplier > 0 {
		hp.LRMultiplier = &opts.LRMultiplier
	}
	return req
}

// Resolve returns the job a command is about: id, else the one recorded at
// path. info is the record when it is that job's, nil for another job.
func Resolve(path, id string) (string, *openaiclient.Info, error) {
	info, err := openaiclient.ReadInfo(path)
	if id != "" {
		if err != nil || info.JobID != id {
			return id, nil, nil // another job than the recorded one
		}
		return id, info, nil
	}
	if err != nil {
		return "", nil, err
	}
	return info.JobID, info, nil
}

// Record writes job's new state into info and the file at path; it does
// nothing when info is nil (a job other than the recorded one).
func Record(path string, info *openaiclient.Info, job *openaiclient.Job) error {
	if info == nil {
		return nil
	}
	info.Update(job)
	return openaiclient.WriteInfo(path, info)
}

// Observer is told what [Follow] sees; every field may be nil. Calls come
// on Follow's goroutine.
type Observer struct {
	// Event is each new event of the job, in order.
	Event func(openaiclient.Event)
	// Status is the job each time its status changes.
	Status func(*openaiclient.Job)
	// Warn is a failure that does not stop following (the record could
	// not be written, an event could not be read).
	Warn func(error)
}

// Follow follows job id until it ends, recording its events and state in
// info and, when path is set, in the file at path (fine_tune_info.json).
// Following resumes after info.LastEventID. When the job has ended its
// checkpoints are recorded. It returns the last state of the job, and an
// error when the job ended other than succeeded (naming its status and
// reason) or following failed (ctx done: the job goes on).
func Follow(ctx context.Context, ft *openaiclient.FineTuning, id string, info *openaiclient.Info, path string, obs Observer) (*openaiclient.Job, error) {
	warn := func(err error) {
		if err != nil && obs.Warn != nil {
			obs.Warn(err)
		}
	}
	save := func() {
		if path != "" {
			warn(openaiclient.WriteInfo(path, info))
		}
	}
	lastStatus := ""
	onEvent := func(e openaiclient.Event) {
		warn(info.Record(e))
		if obs.Event != nil {
			obs.Event(e)
		}
		save()
	}
	onJob := func(j *openaiclient.Job) {
		info.Update(j)
		if j.Status != lastStatus && obs.Status != nil {
			obs.Status(j)
		}
		lastStatus = j.Status
		save()
	}
	job, err := ft.Follow(ctx, id, info.LastEventID, onEvent, onJob)
	if err != nil {
		return job, err
	}
	if cps, err := ft.Checkpoints(ctx, job.ID); err == nil {
		info.Checkpoints = info.Checkpoints[:0]
		for _, c := range cps {
			info.Checkpoints = append(info.Checkpoints, c.FineTunedModelCheckpoint)
		}
		save()
	}
	switch job.Status {
	case "succeeded":
		return job, nil
	case "cancelled":
		return job, fmt.Errorf("job %s was cancelled", job.ID)
	default:
		msg := info.Error
		if msg == "" {
			msg = "no reason given"
		}
		return job, fmt.Errorf("job %s %s: %s", job.ID, job.Status, strings.TrimRight(msg, "."))
	}
}
