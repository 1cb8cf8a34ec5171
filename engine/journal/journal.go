// Package journal keeps scalepilot's records (decisions, events, summaries)
// as JSON Lines in a directory: append-only, each record fsynced before
// Append returns, rotated by size.
//
// The newest records are in journal.jsonl; older ones in journal.1.jsonl,
// journal.2.jsonl and so on, the highest number being the oldest. A record
// that a crash cut short (a torn last line) is skipped with a warning when
// the journal is opened or read; it is never fatal.
package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Defaults for Options.
const (
	DefaultMaxBytes = 10 << 20 // 10 MiB per file
	DefaultKeep     = 5        // journal.jsonl and four rotated files
)

// Options tunes a Journal. The zero value gives the defaults.
type Options struct {
	// MaxBytes is the size at which the current file is rotated: a record
	// that would take it past MaxBytes goes into a fresh file.
	MaxBytes int64
	// Keep is how many files are kept, the current one included (at least 1).
	Keep int
	// Logger receives warnings about torn or unreadable lines; nil discards.
	Logger *slog.Logger
}

// Journal is an append-only JSON Lines journal. It is safe for concurrent use.
type Journal struct {
	dir  string
	o    Options
	log  *slog.Logger
	mu   sync.Mutex
	f    *os.File // current file, nil once closed
	size int64    // bytes in the current file
}

// ErrClosed is returned by Append and Tail after Close.
var ErrClosed = errors.New("journal is closed")

// Open opens or creates the journal in dir. If the current file ends with a
// torn line, Open logs a warning and makes the next record start on a fresh
// line; the torn bytes stay in the file and readers skip them.
func Open(dir string, o Options) (*Journal, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory %s: %w", dir, err)
	}
	j := &Journal{dir: dir, o: o, log: log}
	if err := j.openCurrent(); err != nil {
		return nil, err
	}
	if err := j.healTornEnd(); err != nil {
		j.f.Close()
		return nil, err
	}
	return j, nil
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Path returns the path of the current file.
func (j *Journal) Path() string { return j.name(0) }

// name returns the path of file i: 0 is the current file, higher is older.
func (j *Journal) name(i int) string {
	if i == 0 {
		return filepath.Join(j.dir, "journal.jsonl")
	}
	return filepath.Join(j.dir, fmt.Sprintf("journal.%d.jsonl", i))
}

func (j *Journal) openCurrent() error {
	f, err := os.OpenFile(j.name(0), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open journal %s: %w", j.name(0), err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat journal %s: %w", j.name(0), err)
	}
	j.f, j.size = f, st.Size()
	return nil
}

// healTornEnd ends a torn last line with a newline so that the next record
// starts on a line of its own.
func (j *Journal) healTornEnd() error {
	if j.size == 0 {
		return nil
	}
	r, err := os.Open(j.name(0))
	if err != nil {
		return fmt.Errorf("open journal %s: %w", j.name(0), err)
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, j.size-1); err != nil {
		return fmt.Errorf("read journal %s: %w", j.name(0), err)
	}
	if last[0] == '\n' {
		return nil
	}
	j.log.Warn("journal ends with a torn line (a crash cut a record short); it will be skipped",
		"path", j.name(0), "offset", j.size)
	if err := j.write([]byte{'\n'}); err != nil {
		return fmt.Errorf("end torn line in journal %s: %w", j.name(0), err)
	}
	return nil
}

// Append writes record as one JSON line and fsyncs the file before it
// returns. It rotates the files first when the record would take the
// current file past Options.MaxBytes.
func (j *Journal) Append(ctx context.Context, record any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append to journal %s: %w", j.dir, err)
	}
	line, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("append to journal %s: %w", j.dir, ErrClosed)
	}
	if j.size > 0 && j.size+int64(len(line)) > j.o.MaxBytes {
		if err := j.rotate(); err != nil {
			// a record matters more than the size limit: write it where we can.
			j.log.Error("journal rotation failed; writing to the current file",
				"path", j.name(0), "error", err)
			if j.f == nil {
				return fmt.Errorf("append to journal %s: %w", j.dir, err)
			}
		}
	}
	if err := j.write(line); err != nil {
		return fmt.Errorf("append to journal %s: %w", j.name(0), err)
	}
	return nil
}

// write writes b in one call and fsyncs. The caller holds mu.
func (j *Journal) write(b []byte) error {
	n, err := j.f.Write(b)
	j.size += int64(n)
	if err != nil {
		return err
	}
	return j.f.Sync()
}

// rotate shifts every file one number up, drops the oldest beyond Keep and
// starts a fresh current file. If shifting fails, the current file is
// reopened as it is so that records keep being written. The caller holds mu.
func (j *Journal) rotate() error {
	err := j.shift()
	if j.f == nil {
		if oerr := j.openCurrent(); oerr != nil {
			return errors.Join(err, oerr)
		}
	}
	return err
}

func (j *Journal) shift() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close journal %s before rotating: %w", j.name(0), err)
	}
	j.f = nil
	oldest := j.o.Keep - 1
	if oldest == 0 {
		// keep only the current file: start it afresh.
		if err := os.Remove(j.name(0)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate journal %s: %w", j.name(0), err)
		}
	} else {
		if err := os.Remove(j.name(oldest)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate journal: remove %s: %w", j.name(oldest), err)
		}
		for i := oldest - 1; i >= 0; i-- {
			err := os.Rename(j.name(i), j.name(i+1))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rotate journal: rename %s: %w", j.name(i), err)
			}
		}
	}
	if err := syncDir(j.dir); err != nil {
		return fmt.Errorf("rotate journal: %w", err)
	}
	return j.openCurrent()
}

// Close closes the current file. Append and Tail fail afterwards.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return fmt.Errorf("close journal %s: %w", j.name(0), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
