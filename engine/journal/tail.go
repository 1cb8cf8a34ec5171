package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// chunkSize is how much Tail reads at a time, backwards from a file's end.
const chunkSize = 64 << 10

// Tail returns up to n of the newest records, oldest first. It reads
// backwards from the end of the current file and goes on into rotated files
// only while it still needs records, so it never reads the whole history.
// Lines that are not valid JSON (a torn line left by a crash) are skipped
// with a warning.
func (j *Journal) Tail(n int) ([]json.RawMessage, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil, fmt.Errorf("read journal %s: %w", j.dir, ErrClosed)
	}
	out := make([]json.RawMessage, 0, max(n, 0))
	for i := 0; i < j.o.Keep && len(out) < n; i++ {
		err := j.tailFile(j.name(i), func(line []byte) bool {
			out = append(out, json.RawMessage(line))
			return len(out) < n
		})
		if errors.Is(err, os.ErrNotExist) {
			break // no older files
		}
		if err != nil {
			return nil, err
		}
	}
	slices.Reverse(out)
	return out, nil
}

// tailFile calls visit with each valid line of the file at path, newest
// first, until visit returns false or the file's start is reached.
func (j *Journal) tailFile(path string, visit func(line []byte) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open journal %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat journal %s: %w", path, err)
	}

	pos := st.Size()
	var carry []byte // the end part of a line whose start is in an earlier chunk
	for pos > 0 {
		size := min(int64(chunkSize), pos)
		pos -= size
		buf := make([]byte, size, int(size)+len(carry))
		if _, err := f.ReadAt(buf, pos); err != nil {
			return fmt.Errorf("read journal %s: %w", path, err)
		}
		buf = append(buf, carry...)
		for {
			nl := bytes.LastIndexByte(buf, '\n')
			if nl < 0 {
				break
			}
			seg := buf[nl+1:]
			buf = buf[:nl]
			if !j.visitLine(path, seg, visit) {
				return nil
			}
		}
		carry = buf
	}
	j.visitLine(path, carry, visit)
	return nil
}

// visitLine passes one line to visit unless it is blank or not valid JSON
// (a record that a crash cut short). It reports whether to go on.
func (j *Journal) visitLine(path string, line []byte, visit func([]byte) bool) bool {
	if len(bytes.TrimSpace(line)) == 0 {
		return true
	}
	if !json.Valid(line) {
		j.log.Warn("journal: skipping a line that is not valid JSON (a record cut short by a crash)",
			"path", path, "bytes", len(line))
		return true
	}
	return visit(bytes.Clone(line))
}
