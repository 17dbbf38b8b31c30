package main

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// A password in a base URL's userinfo, from the YAML, OPENAI_BASE_URL or
// --base-url, is in no file of the run (predictions, summary.json,
// report.txt, report.html…), no debug log line and not in the printed
// finish command, which shows it redacted.
func TestBaseURLPasswordNeverWritten(t *testing.T) {
	const secret = "S3CRETPASS"
	for _, from := range []string{"yaml", "env", "flag"} {
		t.Run(from, func(t *testing.T) {
			srv := openaiEnv(t)
			url := strings.Replace(srv.URL(), "http://", "http://user:"+secret+"@", 1)
			if _, err := demo.WriteDataset("data", 6, 5); err != nil {
				t.Fatal(err)
			}
			model := "  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 1}\n"
			args := []string{"--log-level", "debug", "compare", "--config", "vlmcmp.yaml", "--split", "all", "--output-dir", "out", "--run-id", "r"}
			switch from {
			case "yaml":
				model = "  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 1, base_url: '" + url + "'}\n"
			case "env":
				t.Setenv("OPENAI_BASE_URL", url)
			case "flag":
				args = append(args, "--base-url", url)
			}
			if err := os.WriteFile("vlmcmp.yaml", []byte("data: data/ground_truth.json\nmodels:\n"+model), 0o644); err != nil {
				t.Fatal(err)
			}
			// One refused request: the run ends with a finish command.
			srv.Inject(openaitest.Fault{Method: "POST", Path: "/v1/chat/completions", Status: http.StatusBadRequest, Message: "refused for the test"})
			code, stdout, stderr := vlmcmp(t, t.Context(), args...)
			if code == 0 || !strings.Contains(stderr, "finish with:") {
				t.Fatalf("compare exited %d without a finish command:\n%s", code, stderr)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("the output holds the password:\n%s\n%s", stdout, stderr)
			}
			if from == "flag" && !strings.Contains(stderr, "--base-url http://user:xxxxx@") {
				t.Errorf("the finish command does not give the base URL redacted:\n%s", stderr)
			}
			if !strings.Contains(stderr, "level=DEBUG") {
				t.Errorf("no debug log to check:\n%s", stderr)
			}
			files := 0
			filepath.WalkDir("out", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				files++
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secret) {
					t.Errorf("%s holds the password", path)
				}
				return nil
			})
			if files < 5 {
				t.Errorf("only %d files in the run folder", files)
			}
		})
	}
}
