package backend

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileHashCacheEnv, when set, is the file in which [FileSHA256] keeps
// digests between processes; otherwise it is filehash.json in the user's
// cache folder.
const FileHashCacheEnv = "VLMCMP_FILEHASH_CACHE"

// fileStamp is what must not change for a digest to be trusted: a file
// rewritten in place keeping its size and modification time (cp -p, rsync
// -a, touch -r) still gets a new change time, and a file replaced by
// another (mv) a new inode.
type fileStamp struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	Inode   uint64    `json:"inode"`
	CTime   int64     `json:"ctime_ns"`
}

type fileHashEntry struct {
	fileStamp
	SHA256 string `json:"sha256"`
}

var fileHashes struct {
	sync.Mutex
	mem    map[string]fileHashEntry // by absolute path: each file hashed once per process
	hashed int                      // files read through, for tests
}

func fileHashCachePath() string {
	if p := os.Getenv(FileHashCacheEnv); p != "" {
		return p
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "vlmcmp", "filehash.json")
}

// FileSHA256 is the hex sha256 of the file at path. Model files are
// gigabytes, so a digest is computed once per process and kept on disk (see
// [FileHashCacheEnv]); either is trusted only while the file's absolute
// path, size, modification time, inode and change time all match.
func FileSHA256(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	stamp := stampOf(st)
	fileHashes.Lock()
	defer fileHashes.Unlock()
	if e, ok := fileHashes.mem[abs]; ok && e.fileStamp == stamp {
		return e.SHA256, nil
	}
	cachePath := fileHashCachePath()
	disk := map[string]fileHashEntry{}
	if cachePath != "" {
		if b, err := os.ReadFile(cachePath); err == nil {
			json.Unmarshal(b, &disk) // a damaged or older cache is rebuilt
		}
	}
	if e, ok := disk[abs]; ok && e.SHA256 != "" && sameStamp(e.fileStamp, stamp) {
		remember(abs, e)
		return e.SHA256, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash model file %s: %w", abs, err)
	}
	fileHashes.hashed++
	e := fileHashEntry{fileStamp: stamp, SHA256: hex.EncodeToString(h.Sum(nil))}
	remember(abs, e)
	if cachePath != "" {
		disk[abs] = e
		if b, err := json.Marshal(disk); err == nil && os.MkdirAll(filepath.Dir(cachePath), 0o755) == nil {
			tmp := fmt.Sprintf("%s.%d.tmp", cachePath, os.Getpid())
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, cachePath)
			} else {
				os.Remove(tmp)
			}
		}
	}
	return e.SHA256, nil
}

func remember(abs string, e fileHashEntry) {
	if fileHashes.mem == nil {
		fileHashes.mem = map[string]fileHashEntry{}
	}
	fileHashes.mem[abs] = e
}

// sameStamp compares stamps; an entry without an inode or change time (one
// written before they were recorded) never matches.
func sameStamp(a, b fileStamp) bool {
	return a.Inode != 0 && a.CTime != 0 && a.Size == b.Size && a.ModTime.Equal(b.ModTime) && a.Inode == b.Inode && a.CTime == b.CTime
}
