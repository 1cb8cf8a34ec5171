// Package lock makes sure one scalepilot at a time works on a state
// directory, and so on a scale set. The lock is a file in the state directory
// that holds the owner's PID, locked with flock(2) where the platform has it:
// the kernel drops the lock when its process dies, so a lock left by a
// crashed scalepilot is taken over without help.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file's name inside the state directory.
const FileName = "scalepilot.lock"

// ErrHeld is matched (with errors.Is) by the error Acquire returns when
// another process holds the lock. Use errors.As with *HeldError for the PID.
var ErrHeld = errors.New("state directory is locked by another scalepilot")

// HeldError says another process holds the lock.
type HeldError struct {
	Path string // the lock file
	PID  int    // the holder's PID; 0 when the file does not say
}

func (e *HeldError) Error() string {
	who := "another scalepilot"
	if e.PID > 0 {
		who = fmt.Sprintf("another scalepilot (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is running on this scale set (lock %s): stop it first, "+
		"or give this one another --state-dir", who, e.Path)
}

// Is reports whether target is ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held lock on a state directory. Release it when done; the
// kernel releases it anyway when the process ends.
type Lock struct {
	path     string
	f        *os.File
	stalePID int
}

// Acquire takes the lock in dir, creating dir if needed, and writes this
// process's PID into the lock file. It returns a *HeldError (matching
// ErrHeld) when another live process holds the lock. A lock file left by a
// process that is gone is taken over; StalePID then names that process.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	l := &Lock{path: path, f: f}
	if err := l.lock(); err != nil {
		f.Close()
		return nil, err
	}
	if old := readPID(f); old > 0 && old != os.Getpid() {
		l.stalePID = old
	}
	if err := writePID(f); err != nil {
		l.Release()
		return nil, fmt.Errorf("write pid to lock file %s: %w", path, err)
	}
	return l, nil
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// StalePID returns the PID found in a lock file that no live process held
// (a scalepilot that crashed or was killed), or 0.
func (l *Lock) StalePID() int { return l.stalePID }

// Release clears the PID and releases the lock. The file stays, empty, so
// that a process starting at the same moment never locks a file that is
// being removed. Release is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	errTrunc := f.Truncate(0)
	errUnlock := unlock(f)
	errClose := f.Close()
	if err := errors.Join(errTrunc, errUnlock, errClose); err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}

// readPID returns the PID in the lock file, or 0 when it holds none.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}
