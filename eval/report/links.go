package report

import (
	"net/url"
	"path/filepath"
)

// relLink is the address of the image at path as seen from a file in dir
// (the run folder, where the workbooks and report.html are written): a
// relative URL where one exists, a file:// URL otherwise, "" when path is
// empty. Relative links keep working when the run folder and the images
// move together.
func relLink(dir, path string) string {
	if path == "" {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if d, err := filepath.Abs(dir); err == nil {
		if rel, err := filepath.Rel(d, abs); err == nil {
			// url.URL escapes what must be (spaces, #, ?) and guards a
			// first segment with a colon from reading as a scheme.
			return (&url.URL{Path: filepath.ToSlash(rel)}).String()
		}
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}
