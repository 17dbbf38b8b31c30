//go:build linux || darwin

package backend

import (
	"os"
	"syscall"
)

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Inode = uint64(st.Ino)
		s.CTime = ctimeNS(st)
	}
	return s
}
