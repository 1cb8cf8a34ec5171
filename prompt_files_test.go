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
	"github.com/scalepilot/scalepilot/llm"
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

// config.example.toml shows llama3:8b's options at their built-in values:
// copying the file must not change what is sent to the model.
func TestExampleModelOptionsAreTheDefaults(t *testing.T) {
	cfg, err := config.Load([]string{"--config", "config.example.toml"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := llmOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) == 0 {
		t.Fatal("the example sets no per-model options")
	}
	for name, o := range opts {
		def := llm.DefaultOptions(name)
		if o.Temperature != nil && *o.Temperature != *def.Temperature {
			t.Errorf("%s temperature %v, built-in %v", name, *o.Temperature, *def.Temperature)
		}
		if o.NumCtx != 0 && o.NumCtx != def.NumCtx {
			t.Errorf("%s num_ctx %d, built-in %d", name, o.NumCtx, def.NumCtx)
		}
		if o.NumPredict != 0 && o.NumPredict != def.NumPredict {
			t.Errorf("%s num_predict %d, built-in %d", name, o.NumPredict, def.NumPredict)
		}
		if o.KeepAlive != 0 && o.KeepAlive != def.KeepAlive {
			t.Errorf("%s keep_alive %s, built-in %s", name, o.KeepAlive, def.KeepAlive)
		}
		if o.Seed != nil || len(o.Stop) > 0 {
			t.Errorf("%s: the example sets a seed or stop list, which the built-ins leave unset", name)
		}
	}
}
