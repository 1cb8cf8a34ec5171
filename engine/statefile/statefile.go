// Package statefile keeps the engine's persisted state (cooldowns, the
// expected capacity, an action in flight) in state.json in the state
// directory. Writes are atomic: a reader sees the old file or the new one,
// never a mix, even after a crash or a power cut.
package statefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/scalepilot/scalepilot/engine"
)

// FileName is the state file's name inside the state directory.
const FileName = "state.json"

// Store reads and writes state.json in one directory. It implements
// engine.StateStore and is safe for concurrent use.
type Store struct {
	dir string
	mu  sync.Mutex
}

var _ engine.StateStore = (*Store)(nil)

// New returns a Store for dir. The directory is created on the first Save.
func New(dir string) *Store { return &Store{dir: dir} }

// Path returns the state file's path.
func (s *Store) Path() string { return filepath.Join(s.dir, FileName) }

// CorruptError says the state file exists but cannot be read as state.
// The engine must not start from a guess: the operator moves the file away.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%v): move it away (for example to %s.bad) "+
		"and start again; cooldowns then start afresh and the capacity is read from the scale set",
		e.Path, e.Err, e.Path)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load reads the state. It returns false and no error when there is no state
// file yet, and a *CorruptError when the file cannot be used.
func (s *Store) Load(ctx context.Context) (engine.PersistedState, bool, error) {
	var st engine.PersistedState
	if err := ctx.Err(); err != nil {
		return st, false, fmt.Errorf("load state %s: %w", s.Path(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.Path())
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("load state %s: %w", s.Path(), err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return st, false, &CorruptError{Path: s.Path(), Err: errors.New("the file is empty")}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return engine.PersistedState{}, false, &CorruptError{Path: s.Path(), Err: err}
	}
	if err := check(st); err != nil {
		return engine.PersistedState{}, false, &CorruptError{Path: s.Path(), Err: err}
	}
	return st, true, nil
}

// check rejects values no engine writes.
func check(st engine.PersistedState) error {
	if st.ExpectedCapacity < 0 {
		return fmt.Errorf("expected_capacity is %d, below 0", st.ExpectedCapacity)
	}
	if f := st.InFlight; f != nil && (f.From < 0 || f.To < 0 || f.DecisionID == "") {
		return fmt.Errorf("in_flight is incomplete (decision_id %q, from %d, to %d)",
			f.DecisionID, f.From, f.To)
	}
	return nil
}

// Save replaces the state file atomically: it writes a temporary file in the
// same directory, fsyncs it, renames it over state.json and fsyncs the
// directory.
func (s *Store) Save(ctx context.Context, st engine.PersistedState) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save state %s: %w", s.Path(), err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state for %s: %w", s.Path(), err)
	}
	b = append(b, '\n')

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", s.dir, err)
	}
	if err := writeAtomic(s.dir, s.Path(), b); err != nil {
		return fmt.Errorf("save state %s: %w", s.Path(), err)
	}
	return nil
}

func writeAtomic(dir, path string, b []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+FileName+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
