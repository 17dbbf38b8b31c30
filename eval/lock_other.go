//go:build !unix

package eval

import "os"

// tryLock: without flock the folder is not protected; the lock file still
// records the PID.
func tryLock(f *os.File) (held bool, err error) { return false, nil }

func unlock(f *os.File) error { return nil }
