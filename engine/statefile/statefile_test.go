package statefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

func sample() engine.PersistedState {
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	return engine.PersistedState{
		ScaleSet:         "web-vmss",
		LastAppliedAt:    at,
		LastAction:       &engine.LastAction{At: at, From: 3, To: 5, Outcome: engine.OutcomeApplied},
		ExpectedCapacity: 5,
		InFlight:         &engine.InFlight{DecisionID: "d-42", From: 5, To: 7, StartedAt: at.Add(5 * time.Minute)},
		UpdatedAt:        at.Add(5 * time.Minute),
	}
}

func TestSaveThenLoadRoundTrips(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	s := New(dir)
	ctx := context.Background()
	if _, ok, err := s.Load(ctx); ok || err != nil {
		t.Fatalf("Load before any Save = ok %v, err %v; want false, nil", ok, err)
	}
	want := sample()
	if err := s.Save(ctx, want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, ok, err := New(dir).Load(ctx)
	if err != nil || !ok {
		t.Fatalf("Load = ok %v, err %v", ok, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}

	// a second Save replaces the first and leaves no temporary file behind.
	want.InFlight = nil
	want.ExpectedCapacity = 7
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, _, err = s.Load(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Load after the second Save = %+v, %v; want %+v", got, err, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != FileName {
		t.Errorf("directory holds %v, want only %s", entries, FileName)
	}
	if st, _ := os.Stat(s.Path()); st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestLoadOfACorruptFileIsAClearError(t *testing.T) {
	for _, tc := range []struct{ name, content, mention string }{
		{"empty", "", "empty"},
		{"garbage", "not json at all", "invalid character"},
		{"cut short", `{"scale_set":"web-vmss","expected_capa`, "unexpected end"},
		{"negative capacity", `{"scale_set":"web","expected_capacity":-3}`, "expected_capacity"},
		{"in flight without id", `{"expected_capacity":3,"in_flight":{"from":3,"to":5}}`, "in_flight"},
		{"wrong type", `{"expected_capacity":"five"}`, "expected_capacity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, ok, err := New(dir).Load(context.Background())
			if ok || err == nil {
				t.Fatalf("Load = ok %v, err %v; want an error", ok, err)
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("error %v (%T) is not a *CorruptError for %s", err, err, path)
			}
			msg := err.Error()
			for _, want := range []string{path, "move it away", tc.mention} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			// the file is left for the operator to inspect.
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Errorf("Load changed the corrupt file")
			}
		})
	}
}

// A crash between writing the temporary file and renaming it leaves the
// temporary file; the state is still the previous one.
func TestLeftoverTemporaryFileDoesNotMatter(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	want := sample()
	if err := s.Save(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "."+FileName+".tmp-123"), []byte(`{"expected_ca`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(context.Background())
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v, %v, %v; want the saved state", got, ok, err)
	}
}

func TestSaveFailsClearlyWhenTheDirectoryIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(file).Save(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Save into a file = %v, want an error naming %s", err, file)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := New(t.TempDir())
	if err := s.Save(ctx, sample()); !errors.Is(err, context.Canceled) {
		t.Errorf("Save = %v, want context.Canceled", err)
	}
	if _, _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v, want context.Canceled", err)
	}
}

func TestConcurrentSavesLeaveOneWholeState(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			st := sample()
			st.ExpectedCapacity = i + 1
			st.ScaleSet = fmt.Sprintf("set-%d", i+1)
			if err := s.Save(context.Background(), st); err != nil {
				t.Errorf("Save: %v", err)
			}
		})
	}
	wg.Wait()
	got, ok, err := s.Load(context.Background())
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if got.ScaleSet != fmt.Sprintf("set-%d", got.ExpectedCapacity) {
		t.Errorf("state mixes two saves: %+v", got)
	}
}
