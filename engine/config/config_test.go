package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleConfigLoadsAndCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config", "../../config.example.toml"}, envOf(nil), nil)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	text := string(data)
	for _, s := range c.settings {
		leaf := s.key[strings.LastIndexByte(s.key, '.')+1:]
		i := strings.Index(text, "\n"+leaf+" = ")
		if i < 0 {
			t.Errorf("config.example.toml lacks key %s", s.key)
			continue
		}
		// The line above the key must be a comment.
		before := strings.TrimRight(text[:i], " ")
		lastLine := before[strings.LastIndexByte(before, '\n')+1:]
		if !strings.HasPrefix(lastLine, "#") {
			t.Errorf("key %s in config.example.toml has no comment above it", s.key)
		}
		if s.source != SourceFile {
			t.Errorf("key %s: source %q, want file", s.key, s.source)
		}
	}
	if _, ok := c.ModelOptions["llama3:8b"]; !ok {
		t.Error("per-model options for llama3:8b not loaded")
	}
	if c.Mode != "approve" {
		t.Errorf("the example's mode is %q; the README says the dashboard starts in approve", c.Mode)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "[engine]\nmin_instances = 3\nmax_instances = 12\ninterval = \"2m\"\n")
	env := envOf(map[string]string{"SCALEPILOT_MAX_INSTANCES": "15", "SCALEPILOT_INTERVAL": "3m"})
	c, err := Load([]string{"--config", file, "--interval", "4"}, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Min != 3 {
		t.Errorf("min from file: got %d", c.Min)
	}
	if c.Max != 15 {
		t.Errorf("max from env over file: got %d", c.Max)
	}
	if c.Interval != 4*time.Minute {
		t.Errorf("interval from flag (bare number = minutes) over env: got %s", c.Interval)
	}
	if c.Lookback != time.Hour {
		t.Errorf("lookback default: got %s", c.Lookback)
	}
}

func TestCooldownBareMinutesSetsBoth(t *testing.T) {
	c, err := Load([]string{"--cooldown", "7"}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.CooldownOut != 7*time.Minute || c.CooldownIn != 7*time.Minute {
		t.Fatalf("got out %s in %s", c.CooldownOut, c.CooldownIn)
	}
	c, err = Load([]string{"--cooldown", "7", "--cooldown-in", "20m"}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.CooldownIn != 20*time.Minute || c.CooldownOut != 7*time.Minute {
		t.Fatalf("specific flag should win over --cooldown: out %s in %s", c.CooldownOut, c.CooldownIn)
	}
}

func TestCooldownSourceNamesTheFlagGiven(t *testing.T) {
	c, err := Load([]string{"--cooldown", "7"}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Print(&out)
	for _, key := range []string{"engine.cooldown_out", "engine.cooldown_in"} {
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, key+" ") {
				line = l
			}
		}
		if !strings.HasSuffix(line, "# flag --cooldown") {
			t.Errorf("%s: %q, want it credited to --cooldown", key, line)
		}
	}
}

// Headless, an approve mode from the file or the environment is refused
// with its source named, never turned into auto; --mode auto or --dry-run
// on the command line win over it.
func TestAutoRefusesAnApproveModeFromFileOrEnvironment(t *testing.T) {
	file := writeFile(t, "mode = \"approve\"\n")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		from string
	}{
		{"file", []string{"--config", file, "--auto"}, nil, "key mode in " + file},
		{"environment", []string{"--auto"}, map[string]string{"SCALEPILOT_MODE": "approve"}, "env SCALEPILOT_MODE"},
		{"flag", []string{"--auto", "--mode", "approve"}, nil, "flag --mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, envOf(tc.env), nil)
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.from) ||
				!strings.Contains(err.Error(), "--mode auto") || !strings.Contains(err.Error(), "--dry-run") {
				t.Fatalf("err %v, want a usage error naming %q and the way out", err, tc.from)
			}
			if tc.name == "flag" {
				return
			}
			for _, extra := range [][]string{{"--dry-run"}, {"--mode", "auto"}} {
				c, err := Load(append(append([]string{}, tc.args...), extra...), envOf(tc.env), nil)
				if err != nil {
					t.Fatalf("with %v: %v", extra, err)
				}
				if want := map[bool]string{true: "dry-run", false: "auto"}[extra[0] == "--dry-run"]; c.Mode != want {
					t.Errorf("with %v: mode %q, want %q", extra, c.Mode, want)
				}
			}
		})
	}
	c, err := Load([]string{"--config", file}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != "approve" {
		t.Errorf("without --auto the file's mode stays: %q", c.Mode)
	}
}

func TestNaNAndInfinityAreNotNumbers(t *testing.T) {
	for _, v := range []string{"NaN", "nan", "Inf", "-inf"} {
		if _, err := Load([]string{"--demo", "--speed", v}, envOf(nil), nil); err == nil || !strings.Contains(err.Error(), "not a number") {
			t.Errorf("--speed %s: err %v", v, err)
		}
	}
	file := writeFile(t, "[demo]\nspeed = nan\n[engine]\ntarget_cpu = inf\n")
	if _, err := Load([]string{"--config", file}, envOf(nil), nil); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("nan and inf in the file: err %v", err)
	}
}

func TestErrorsNameTheKeyAndRange(t *testing.T) {
	cases := []struct {
		name string
		args []string
		file string
		want []string
	}{
		{"unknown key", nil, "[engine]\nmin_instancs = 3\n", []string{`unknown key "engine.min_instancs"`}},
		{"min zero", []string{"--min-instances", "0"}, "", []string{"engine.min_instances", "1 or more"}},
		{"max below min", []string{"--min-instances", "5", "--max-instances", "3"}, "", []string{"engine.max_instances", "at least engine.min_instances (5, from flag --min-instances)"}},
		{"confidence", nil, "[engine]\nconfidence_threshold = 1.5\n", []string{"engine.confidence_threshold", "0 to 1"}},
		{"bad duration", []string{"--interval", "soon"}, "", []string{"--interval", "not a duration"}},
		{"bad mode", []string{"--mode", "yolo"}, "", []string{"mode", "auto, approve or dry-run"}},
		{"auto with approve", []string{"--auto", "--mode", "approve"}, "", []string{"--auto", "--mode auto", "--dry-run"}},
		{"dry-run disagrees", []string{"--mode", "auto", "--dry-run"}, "", []string{"disagree"}},
		{"toml syntax", nil, "[engine\nmin = 1", []string{"config file"}},
		{"model option", nil, "[ollama.models.\"x\"]\ntemprature = 1\n", []string{`unknown key "temprature"`}},
		{"stray argument", []string{"run"}, "", []string{`unexpected argument "run"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, err := Load(args, envOf(nil), nil)
			if err == nil {
				t.Fatal("expected an error")
			}
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("error %v is not a UsageError (exit 2)", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDemoDefaultsAndDryRun(t *testing.T) {
	c, err := Load([]string{"--demo"}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Min != 2 || c.Max != 40 || c.Mode != "auto" || c.Speed != 2 {
		t.Errorf("demo defaults: min %d max %d mode %s speed %g", c.Min, c.Max, c.Mode, c.Speed)
	}
	c, err = Load([]string{"--dry-run"}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != "dry-run" {
		t.Errorf("--dry-run: mode %s", c.Mode)
	}
}

func TestXDGConfigFileIsReadWhenPresent(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scalepilot"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scalepilot", "config.toml"), []byte("[engine]\nmax_instances = 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(nil, envOf(map[string]string{"XDG_CONFIG_HOME": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Max != 9 {
		t.Errorf("max from XDG config: %d", c.Max)
	}
	// Absent XDG file is fine; an absent --config file is an error.
	if _, err := Load(nil, envOf(map[string]string{"XDG_CONFIG_HOME": t.TempDir()}), nil); err != nil {
		t.Errorf("absent default file: %v", err)
	}
	if _, err := Load([]string{"--config", filepath.Join(t.TempDir(), "nope.toml")}, envOf(nil), nil); err == nil {
		t.Error("absent --config file should be an error")
	}
}

func TestPrintConfigShowsSourcesAndMasksPasswords(t *testing.T) {
	env := envOf(map[string]string{"OLLAMA_HOST": "http://bob:hunter2@127.0.0.1:11434", "AZURE_VMSS_NAME": "web"})
	c, err := Load([]string{"--max-instances", "7"}, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	c.Print(&b)
	out := b.String()
	for _, want := range []string{"engine.max_instances", "flag --max-instances", "env AZURE_VMSS_NAME", "default", "bob:****@"} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("print-config shows a password")
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	c, err := Load([]string{"--help"}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	c.Usage(&b)
	for _, name := range FlagNames() {
		if len(name) > 1 && !strings.Contains(b.String(), "--"+name) {
			t.Errorf("help lacks --%s", name)
		}
	}
}
