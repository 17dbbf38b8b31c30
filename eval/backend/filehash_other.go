//go:build !linux && !darwin

package backend

import "os"

// stampOf has no inode or change time here: digests are then trusted
// within one process only (sameStamp refuses disk entries without them).
func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{Size: fi.Size(), ModTime: fi.ModTime()}
}
