package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scalepilot/scalepilot/engine/config"
)

// Bad settings found at start are usage errors that name their source, and
// they leave nothing in the state directory: no lock, no journal.
func TestStartupErrorsLeaveNoState(t *testing.T) {
	dir := t.TempDir()
	badTmpl := filepath.Join(dir, "bad.tmpl")
	if err := os.WriteFile(badTmpl, []byte("{{.Nope}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	keepAlive := filepath.Join(dir, "ka.toml")
	if err := os.WriteFile(keepAlive, []byte("[ollama.models.\"tiny\"]\nkeep_alive = \"forever\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"listen without a port", []string{"--listen", "garbage"}, nil, []string{"--listen", "HOST:PORT"}},
		{"listen port out of range", []string{"--listen", "127.0.0.1:99999"}, nil, []string{"99999", "out of range"}},
		{"listen address in use", []string{"--listen", busy.Addr().String()}, nil, []string{"--listen", "in use"}},
		{"ollama url scheme", []string{"--ollama-url", "ftp://x"}, nil, []string{"flag --ollama-url", "ftp"}},
		{"OLLAMA_HOST garbage", nil, map[string]string{"OLLAMA_HOST": "garbage:::"}, []string{"env OLLAMA_HOST"}},
		{"prompt template", []string{"--prompt-file", badTmpl}, nil, []string{"--prompt-file", "bad.tmpl", "Nope"}},
		{"keep_alive", []string{"--config", keepAlive}, nil, []string{"ka.toml", "keep_alive", "not a duration"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			args := append([]string{"--demo", "--auto", "--steps", "1", "--state-dir", state}, tc.args...)
			err := runMain(context.Background(), args, io.Discard, io.Discard, env)
			var ue *config.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("err %v (%T), want a usage error", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(state); len(entries) > 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("left in the state directory: %v", names)
			}
		})
	}
}
