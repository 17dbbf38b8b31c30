package openaiclient

import (
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// An upload attempt waits at least 5 minutes for the server's answer, plus
// the time the file takes at the slowest rate allowed.
func TestUploadTimeoutWaitsFiveMinutesPlusSize(t *testing.T) {
	srv := openaitest.New(t)
	ft := newTestFineTuning(t, srv, func(c *Config) { c.Timeout = 60 * time.Second; c.UploadRate = 256 << 10 })
	ft.MinUploadWait = DefaultMinUploadWait
	for _, tt := range []struct {
		size int64
		want time.Duration
	}{
		{0, 5 * time.Minute},
		{256 << 10, 5*time.Minute + time.Second},
		{75 * 256 << 10, 5*time.Minute + 75*time.Second},
	} {
		if got := ft.UploadTimeout(tt.size); got != tt.want {
			t.Errorf("UploadTimeout(%d) = %s, want %s", tt.size, got, tt.want)
		}
	}
}

// A retried upload never leaves a second copy on the server: when an
// attempt's answer is late or lost although the file arrived, the retry
// finds the file (same name and size, not there before) instead of
// sending it again; when the file did not arrive, it is sent again. A file
// of the same name and size uploaded earlier is not taken for it.
func TestUploadRetriesNeverDuplicate(t *testing.T) {
	tests := []struct {
		name    string
		azure   bool
		fault   openaitest.Fault
		earlier bool // the same file was uploaded before
		posts   int  // uploads the server sees
	}{
		{name: "answer slower than a request's timeout, within the upload's wait", fault: openaitest.Fault{Method: "POST", Path: "/v1/files", Late: true, Delay: 250 * time.Millisecond}, posts: 1},
		{name: "answer late, file kept", fault: openaitest.Fault{Method: "POST", Path: "/v1/files", Late: true, Delay: 1500 * time.Millisecond}, posts: 1},
		{name: "answer late, an earlier copy there", fault: openaitest.Fault{Method: "POST", Path: "/v1/files", Late: true, Delay: 1500 * time.Millisecond}, earlier: true, posts: 2},
		{name: "server error, file not kept", fault: openaitest.Fault{Method: "POST", Path: "/v1/files", Status: 502}, posts: 2},
		{name: "azure, answer late", azure: true, fault: openaitest.Fault{Method: "POST", Path: "/openai/files", Late: true, Delay: 1500 * time.Millisecond}, posts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeJSONL(t, "train.jsonl", 12, 0)
			var srv *openaitest.Server
			var ft *FineTuning
			if tt.azure {
				srv = openaitest.NewAzure(t)
				var err error
				ft, err = NewAzureFineTuning(AzureConfig{Endpoint: srv.Endpoint(), APIKey: srv.Key,
					Options: Config{RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond, Timeout: 100 * time.Millisecond}})
				if err != nil {
					t.Fatal(err)
				}
			} else {
				srv = openaitest.New(t)
				ft = newTestFineTuning(t, srv, func(c *Config) { c.Timeout = 100 * time.Millisecond })
			}
			ft.MinUploadWait = 500 * time.Millisecond // the request timeout is 100 ms
			var earlier string
			if tt.earlier {
				f, err := ft.Upload(t.Context(), path, nil)
				if err != nil {
					t.Fatal(err)
				}
				earlier = f.ID
			}
			before := srv.Files()
			srv.Inject(tt.fault)
			file, err := ft.Upload(t.Context(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.Files() - before; got != 1 {
				t.Errorf("the upload left %d files on the server, want 1", got)
			}
			if file.ID == "" || file.ID == earlier || file.FileName != "train.jsonl" {
				t.Errorf("file %+v (earlier copy %q)", file, earlier)
			}
			if n := srv.Count("POST", tt.fault.Path); n != tt.posts {
				t.Errorf("%d uploads sent, want %d", n, tt.posts)
			}
			srv.Verify(t)
		})
	}
}
