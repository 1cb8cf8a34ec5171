//go:build unix

package lock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lock takes an exclusive flock on the file without waiting. On a file
// system without flock (some network file systems) it falls back to the
// PID in the file and whether that process lives.
func (l *Lock) lock() error {
	fd := int(l.f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return &HeldError{Path: l.path, PID: readPID(l.f)}
		case errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EOPNOTSUPP):
			return l.lockByPID()
		}
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
}

// lockByPID treats the lock as held while the PID in the file names a live
// process other than this one. Two processes starting at the same instant
// can both pass this check; flock has no such gap.
func (l *Lock) lockByPID() error {
	pid := readPID(l.f)
	if pid > 0 && pid != os.Getpid() && alive(pid) {
		return &HeldError{Path: l.path, PID: pid}
	}
	return nil
}

// alive reports whether a process with that PID exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func unlock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) {
		return nil
	}
	return err
}
