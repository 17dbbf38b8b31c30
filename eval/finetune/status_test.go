package finetune

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/openaiclient"
)

func TestWriteStatusAndJobs(t *testing.T) {
	_, ft, _ := fakeJobEnv(t)
	job := &openaiclient.Job{ID: "ftjob-1", Status: "failed", Model: "gpt-4o-2024-08-06", TrainingFile: "file-t",
		CreatedAt: 86400, Error: &openaiclient.JobError{Message: "bad data"}}
	var b strings.Builder
	if err := WriteStatus(t.Context(), &b, ft, job, &openaiclient.Info{Step: 3, TotalSteps: 9}); err != nil {
		t.Fatal(err)
	}
	want := "job            ftjob-1\nstatus         failed\nbase model     gpt-4o-2024-08-06\ntraining file  file-t\n" +
		"created        1970-01-02T00:00:00Z\nprogress       step 3/9\nerror          bad data\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Errorf("status:\n%s\nwant it to start with\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteJobs(&b, []openaiclient.Job{*job, {ID: "ftjob-2", Status: "succeeded", Model: "m", FineTunedModel: "ft:m"}}); err != nil {
		t.Fatal(err)
	}
	if want := "ftjob-1\tfailed\tgpt-4o-2024-08-06\t-\t1970-01-02T00:00:00Z\nftjob-2\tsucceeded\tm\tft:m\t\n"; b.String() != want {
		t.Errorf("jobs %q, want %q", b.String(), want)
	}
}
