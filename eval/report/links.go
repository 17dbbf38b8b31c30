package report

import (
	"net/url"
	"path/filepath"
)

// relPath is the path of the image at path as seen from dir, with forward
// slashes and nothing escaped, as spreadsheet links take it; "" when path
// is empty or there is no relative path (another drive).
func relPath(dir, path string) string {
	if path == "" {
		return ""
	}
	abs, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return ""
	}
	rel, err := filepath.Rel(d, abs)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

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
