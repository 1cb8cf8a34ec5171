//go:build !unix

package lock

import "os"

// lock relies on the PID in the file where the platform has no flock: the
// lock is held while that PID names a live process other than this one. Two
// processes starting at the same instant can both pass this check.
func (l *Lock) lock() error {
	pid := readPID(l.f)
	if pid > 0 && pid != os.Getpid() && alive(pid) {
		return &HeldError{Path: l.path, PID: pid}
	}
	return nil
}

// alive reports whether a process with that PID exists.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

func unlock(*os.File) error { return nil }
