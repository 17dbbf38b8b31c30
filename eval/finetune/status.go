package finetune

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// WriteStatus writes a job's state to w, one "name value" line a field
// that has a value: id, status, models, files, times, the progress
// recorded in info (may be nil), the error, then the job's checkpoints as
// ft lists them (a failure to list them leaves them out).
func WriteStatus(ctx context.Context, w io.Writer, ft *openaiclient.FineTuning, job *openaiclient.Job, info *openaiclient.Info) error {
	var err error
	line := func(k, v string) {
		if v != "" && err == nil {
			_, err = fmt.Fprintf(w, "%-14s %s\n", k, v)
		}
	}
	line("job", job.ID)
	line("status", job.Status)
	line("base model", job.Model)
	line("fine-tuned", job.FineTunedModel)
	line("training file", job.TrainingFile)
	line("validation", job.ValidationFile)
	line("created", unixTime(job.CreatedAt))
	line("finished", unixTime(job.FinishedAt))
	if info != nil && info.Step > 0 {
		line("progress", fmt.Sprintf("step %d/%d", info.Step, info.TotalSteps))
	}
	if job.Error != nil {
		line("error", job.Error.Message)
	}
	if cps, cerr := ft.Checkpoints(ctx, job.ID); cerr == nil {
		for _, c := range cps {
			line("checkpoint", fmt.Sprintf("%s (step %d)", c.FineTunedModelCheckpoint, c.StepNumber))
		}
	}
	return err
}

// WriteJobs writes one tab-separated line a job: id, status, base model,
// fine-tuned model ("-" before it exists) and creation time.
func WriteJobs(w io.Writer, jobs []openaiclient.Job) error {
	for _, j := range jobs {
		if _, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, j.Model, cmp.Or(j.FineTunedModel, "-"), unixTime(j.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// unixTime formats seconds since 1970 as RFC 3339 in UTC; "" for 0.
func unixTime(sec int64) string {
	if sec <= 0 {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}
