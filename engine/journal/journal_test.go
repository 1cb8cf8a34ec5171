package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type rec struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Pad  string `json:"pad,omitempty"`
}

func open(t *testing.T, dir string, o Options) *Journal {
	t.Helper()
	j, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func appendN(t testing.TB, j *Journal, from, to int, pad string) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := j.Append(context.Background(), rec{Type: "decision", ID: fmt.Sprintf("d-%d", i), Pad: pad}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

// fileLines returns the lines of one file, without the newline.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func ids(t *testing.T, raws []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range raws {
		var v rec
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatalf("record %s: %v", r, err)
		}
		out = append(out, v.ID)
	}
	return out
}

func wantIDs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("d-%d", i))
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestAppendWritesOneJSONLinePerRecord(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	appendN(t, j, 0, 3, "")
	if err := j.Append(context.Background(), map[string]any{"type": "summary", "note": "a\nb"}); err != nil {
		t.Fatal(err)
	}
	lines := fileLines(t, filepath.Join(dir, "journal.jsonl"))
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON: %s", i, l)
		}
	}
	if lines[0] != `{"type":"decision","id":"d-0"}` {
		t.Errorf("line 0 = %s", lines[0])
	}
}

func TestAppendRejectsWhatCannotBeEncoded(t *testing.T) {
	j := open(t, t.TempDir(), Options{})
	if err := j.Append(context.Background(), map[string]any{"f": func() {}}); err == nil {
		t.Fatal("Append of a func: no error")
	}
	got, err := j.Tail(10)
	if err != nil || len(got) != 0 {
		t.Fatalf("Tail after a failed Append = %v, %v; want nothing", got, err)
	}
}

func TestAppendAfterCloseAndCancelledContext(t *testing.T) {
	j := open(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Append(ctx, rec{ID: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled ctx = %v, want context.Canceled", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(context.Background(), rec{ID: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := j.Tail(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Tail after Close = %v, want ErrClosed", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestReopenAppendsAfterExistingRecords(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	appendN(t, j, 0, 3, "")
	j.Close()
	j = open(t, dir, Options{})
	appendN(t, j, 3, 5, "")
	got, err := j.Tail(10)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got); !equal(g, wantIDs(0, 5)) {
		t.Errorf("Tail = %v, want %v", g, wantIDs(0, 5))
	}
}

func TestTornLastLineIsSkippedWithAWarning(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tail     string   // what a crash left after two good lines
		wantIDs  []string // records Tail returns after one more Append
		wantWarn int      // warnings logged by Open and Tail together
	}{
		{"cut inside a record", `{"type":"decision","id":"d-2","cur`, []string{"d-0", "d-1", "d-9"}, 2},
		{"cut inside a string", `{"type":"decision","id":"d-`, []string{"d-0", "d-1", "d-9"}, 2},
		{"only the newline lost", `{"type":"decision","id":"d-2"}`, []string{"d-0", "d-1", "d-2", "d-9"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good := `{"type":"decision","id":"d-0"}` + "\n" + `{"type":"decision","id":"d-1"}` + "\n"
			if err := os.WriteFile(filepath.Join(dir, "journal.jsonl"), []byte(good+tc.tail), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			j := open(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err := j.Append(context.Background(), rec{Type: "decision", ID: "d-9"}); err != nil {
				t.Fatal(err)
			}
			got, err := j.Tail(10)
			if err != nil {
				t.Fatalf("Tail: %v", err)
			}
			if g := ids(t, got); !equal(g, tc.wantIDs) {
				t.Errorf("Tail = %v, want %v", g, tc.wantIDs)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != tc.wantWarn {
				t.Errorf("%d warnings, want %d:\n%s", n, tc.wantWarn, logs.String())
			}
			lines := fileLines(t, filepath.Join(dir, "journal.jsonl"))
			if last := lines[len(lines)-1]; last != `{"type":"decision","id":"d-9"}` {
				t.Errorf("the new record does not start on a fresh line: %q", last)
			}
			if lines[2] != tc.tail {
				t.Errorf("the torn bytes were changed: %q, want %q", lines[2], tc.tail)
			}
		})
	}
}

func TestRotationKeepsFilesUnderTheLimit(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 300
	j := open(t, dir, Options{MaxBytes: maxBytes, Keep: 3})
	appendN(t, j, 0, 100, "")

	var all []string
	for _, name := range []string{"journal.2.jsonl", "journal.1.jsonl", "journal.jsonl"} {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Size() > maxBytes {
			t.Errorf("%s has %d bytes, more than %d", name, st.Size(), maxBytes)
		}
		all = append(all, fileLines(t, path)...)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.3.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal.3.jsonl exists with Keep 3 (err %v)", err)
	}
	// the kept files hold the newest records, in order, without a gap.
	var got []string
	for _, l := range all {
		var r rec
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, r.ID)
	}
	if want := wantIDs(100-len(got), 100); !equal(got, want) {
		t.Errorf("kept records = %v, want %v", got, want)
	}
	if len(got) < 15 {
		t.Errorf("only %d records kept in three files of %d bytes", len(got), maxBytes)
	}
}

func TestRotationWithKeepOne(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{MaxBytes: 100, Keep: 1})
	appendN(t, j, 0, 20, "")
	matches, _ := filepath.Glob(filepath.Join(dir, "journal*"))
	if len(matches) != 1 {
		t.Errorf("files = %v, want only journal.jsonl", matches)
	}
	got, err := j.Tail(100)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got); len(g) == 0 || g[len(g)-1] != "d-19" {
		t.Errorf("Tail = %v, want the newest records ending with d-19", g)
	}
}

func TestRecordLargerThanTheLimitGetsAFileOfItsOwn(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{MaxBytes: 100, Keep: 5})
	appendN(t, j, 0, 1, "")
	appendN(t, j, 1, 2, strings.Repeat("x", 300))
	appendN(t, j, 2, 3, "")
	got, err := j.Tail(3)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got); !equal(g, wantIDs(0, 3)) {
		t.Errorf("Tail = %v, want %v", g, wantIDs(0, 3))
	}
	if lines := fileLines(t, filepath.Join(dir, "journal.1.jsonl")); len(lines) != 1 {
		t.Errorf("the large record shares its file: %d lines", len(lines))
	}
}

func TestTailAcrossRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{MaxBytes: 250, Keep: 5})
	appendN(t, j, 0, 40, "")
	perFile := len(fileLines(t, filepath.Join(dir, "journal.1.jsonl")))
	for _, n := range []int{0, 1, perFile, perFile + 3, 2*perFile + 1} {
		got, err := j.Tail(n)
		if err != nil {
			t.Fatalf("Tail(%d): %v", n, err)
		}
		if g := ids(t, got); !equal(g, wantIDs(40-n, 40)) {
			t.Errorf("Tail(%d) = %v, want %v", n, g, wantIDs(40-n, 40))
		}
	}
	// more than the kept files hold: everything kept, oldest first.
	got, err := j.Tail(1000)
	if err != nil {
		t.Fatal(err)
	}
	g := ids(t, got)
	if len(g) == 0 || len(g) >= 40 || g[len(g)-1] != "d-39" || !equal(g, wantIDs(40-len(g), 40)) {
		t.Errorf("Tail(1000) = %v, want the newest kept records in order", g)
	}
}

// Tail must not read files it does not need: an unreadable old file is
// only an error when the records asked for reach into it.
func TestTailReadsOnlyTheNewestFiles(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{MaxBytes: 250, Keep: 5})
	appendN(t, j, 0, 40, "")
	if err := os.Remove(filepath.Join(dir, "journal.2.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "journal.2.jsonl"), 0o700); err != nil {
		t.Fatal(err)
	}
	n := len(fileLines(t, filepath.Join(dir, "journal.jsonl"))) + 1
	if _, err := j.Tail(n); err != nil {
		t.Errorf("Tail(%d) read past journal.1.jsonl: %v", n, err)
	}
	if _, err := j.Tail(1000); err == nil {
		t.Error("Tail(1000) did not reach the unreadable journal.2.jsonl")
	}
}

func TestTailAcrossChunkBoundaries(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	// records longer than a chunk, and many short ones across boundaries.
	appendN(t, j, 0, 2, strings.Repeat("y", chunkSize+17))
	appendN(t, j, 2, 3000, "")
	got, err := j.Tail(3000)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got); !equal(g, wantIDs(0, 3000)) {
		t.Errorf("Tail(3000) returned %d records, first %v", len(g), g[:min(3, len(g))])
	}
	var first rec
	if err := json.Unmarshal(got[0], &first); err != nil || len(first.Pad) != chunkSize+17 {
		t.Errorf("long record came back with %d bytes of padding (err %v)", len(first.Pad), err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{MaxBytes: 4096, Keep: 100})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := rec{Type: "decision", ID: fmt.Sprintf("w%d-%d", w, i)}
				if err := j.Append(context.Background(), r); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "journal*.jsonl"))
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r rec
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: interleaved or broken line %q: %v", path, sc.Text(), err)
			}
			if seen[r.ID] {
				t.Errorf("record %s written twice", r.ID)
			}
			seen[r.ID] = true
		}
		f.Close()
	}
	if len(seen) != writers*each {
		t.Errorf("%d records on disk, want %d", len(seen), writers*each)
	}
}

func BenchmarkAppend(b *testing.B) {
	j, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	r := rec{Type: "decision", ID: "d-1", Pad: strings.Repeat("p", 600)} // about a decision's size
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Append(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
