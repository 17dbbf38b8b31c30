package openaitest

import (
	"net/http"
	"sort"
)

// listFiles answers GET /files: the files held, newest first, filtered by
// the purpose parameter when given.
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	purpose := r.URL.Query().Get("purpose")
	s.mu.Lock()
	files := make([]*file, 0, len(s.files))
	for _, f := range s.files {
		if purpose == "" || f.Purpose == purpose {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].CreatedAt > files[j].CreatedAt })
	list := make([]any, len(files))
	for i, f := range files {
		list[i] = f.object()
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"object": "list", "data": list, "has_more": false})
}

// Files is how many files the fake holds (uploads it received, whether or
// not the client saw the answer).
func (s *Server) Files() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}
