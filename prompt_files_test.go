package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scalepilot/scalepilot/engine/config"
)

// A prompt file that is empty or does not parse stops the start with a
// usage error naming the flag and the file.
func TestPromptFilesAreCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.tmpl", "{{.ScaleSet}} has {{.Capacity}} instances\n")
	cases := []struct {
		flag, path string
		want       []string // in the error; none for success
	}{
		{"--prompt-file", write("empty.tmpl", " \n\t\n"), []string{"--prompt-file", "empty.tmpl", "is empty"}},
		{"--system-prompt", write("bad.tmpl", "hello {{.Bogus}}\n"), []string{"--system-prompt", "bad.tmpl", "Bogus", "valid variables"}},
		{"--prompt-file", filepath.Join(dir, "missing.tmpl"), []string{"--prompt-file", "missing.tmpl"}},
		{"--prompt-file", good, nil},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range cases {
		cfg, err := config.Load([]string{tc.flag, tc.path}, noEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = newAdvisor(cfg, logger)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s %s: %v", tc.flag, filepath.Base(tc.path), err)
			}
			continue
		}
		var ue *config.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%s %s: err %v, want a usage error", tc.flag, filepath.Base(tc.path), err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %s: %q lacks %q", tc.flag, filepath.Base(tc.path), err, w)
			}
		}
	}
}
