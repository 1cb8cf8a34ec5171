package llm

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestResolveURLPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name, flag, env, config, want, source string
	}{
		{"default", "", "", "", "http://127.0.0.1:11434", SourceDefault},
		{"config", "", "", "gpu-box:11434", "http://gpu-box:11434", SourceConfig},
		{"env over config", "", "10.0.0.5", "gpu-box", "http://10.0.0.5:11434", SourceEnv},
		{"flag over env", "http://127.0.0.1:11501", "10.0.0.5", "", "http://127.0.0.1:11501", SourceFlag},
		{"quoted env", "", `"127.0.0.1:9999"`, "", "http://127.0.0.1:9999", SourceEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OLLAMA_HOST", tc.env)
			got, src, err := ResolveURLSource(tc.flag, tc.config)
			if err != nil || got != tc.want || src != tc.source {
				t.Errorf("ResolveURLSource = %q, %q, %v; want %q from %q", got, src, err, tc.want, tc.source)
			}
		})
	}
}

func TestParseHostReadsLikeTheOllamaCLI(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":                 "http://127.0.0.1:11434",
		"0.0.0.0":                   "http://127.0.0.1:11434",
		"0.0.0.0:8080":              "http://127.0.0.1:8080",
		":11500":                    "http://127.0.0.1:11500",
		"[::]:11434":                "http://[::1]:11434",
		"::1":                       "http://[::1]:11434",
		"[::1]:9000":                "http://[::1]:9000",
		"gpu-box":                   "http://gpu-box:11434",
		"http://gpu-box":            "http://gpu-box:80",
		"https://ollama.example":    "https://ollama.example:443",
		"https://ollama.example/x/": "https://ollama.example:443/x",
		"http://localhost:11434/":   "http://localhost:11434",
	} {
		got, err := ParseHost(in)
		if err != nil || got != want {
			t.Errorf("ParseHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseHostRejectsWithAHint(t *testing.T) {
	for _, in := range []string{
		"ftp://host", "localhost:abc", "localhost:", "host:99999", "host:0",
		"http://user@host:1", "host:1?x=y", "a:b:c",
	} {
		_, err := ParseHost(in)
		if err == nil {
			t.Errorf("ParseHost(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), "write HOST[:PORT]") {
			t.Errorf("ParseHost(%q) error %q lacks what to write", in, err)
		}
	}
	t.Setenv("OLLAMA_HOST", "localhost:abc")
	if _, err := ResolveURL("", ""); err == nil || !strings.Contains(err.Error(), "env OLLAMA_HOST") {
		t.Errorf("bad OLLAMA_HOST: err = %v, want it named", err)
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"llama3":                         "llama3:latest",
		"llama3:8b":                      "llama3:8b",
		" tiny ":                         "tiny:latest",
		"registry.local:5000/team/model": "registry.local:5000/team/model:latest",
		"registry.local:5000/m:q4":       "registry.local:5000/m:q4",
		"":                               "",
	} {
		if got := CanonicalName(in); got != want {
			t.Errorf("CanonicalName(%q) = %q, want %q", in, got, want)
		}
	}
	if !SameModel("tiny", "tiny:latest") || SameModel("llama3", "llama3:8b") || SameModel("", "") {
		t.Error("SameModel disagrees with CanonicalName")
	}
}

func TestOptionsForMergesOverDefaults(t *testing.T) {
	cfg := Config{Options: map[string]ModelOptions{
		"llama3:8b": {Temperature: ptr(0.0), Stop: []string{"\n\n"}},
		"tiny":      {NumPredict: 64, KeepAlive: -1},
	}}
	o := cfg.optionsFor("llama3:8b")
	if *o.Temperature != 0 || o.NumCtx != 4096 || o.NumPredict != 256 || !slices.Equal(o.Stop, []string{"\n\n"}) {
		t.Errorf("llama3:8b options = %+v", o)
	}
	o = cfg.optionsFor("tiny:latest")
	if o.NumPredict != 64 || o.KeepAlive != -1 || *o.Temperature != 0.2 {
		t.Errorf("tiny options = %+v (configured as \"tiny\")", o)
	}
	if o := cfg.optionsFor("mixtral:8x7b"); o.NumCtx != 8192 || o.KeepAlive != time.Hour {
		t.Errorf("mixtral defaults = %+v", o)
	}
	m := cfg.optionsFor("tiny").apiOptions()
	if _, ok := m["keep_alive"]; ok || m["num_predict"] != 64 || m["temperature"] != 0.2 {
		t.Errorf("api options = %v", m)
	}
	for _, name := range Recommended() {
		if o := DefaultOptions(name); o.Temperature == nil || o.NumCtx < 4096 || o.NumPredict < 128 {
			t.Errorf("recommended %s lacks tuned defaults: %+v", name, o)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.URL != DefaultURL || c.ConnectTimeout != 3*time.Second || c.FirstTokenTimeout != 90*time.Second ||
		c.Timeout != 3*time.Minute || c.Retries != 2 || c.BackoffBase != 500*time.Millisecond ||
		c.BackoffMax != 8*time.Second || c.UnreachableFor != 15*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if c := (Config{Retries: -1}).withDefaults(); c.Retries != 0 {
		t.Errorf("Retries -1 gives %d, want 0", c.Retries)
	}
}
