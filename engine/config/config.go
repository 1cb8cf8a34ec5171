// Package config builds scalepilot's effective configuration from flags,
// environment variables, a TOML file and defaults, in that order of
// precedence, and remembers where each value came from.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Sources of a value, for --print-config.
const (
	SourceDefault = "default"
	SourceFile    = "file"
	SourceEnv     = "env"
	SourceFlag    = "flag"
)

// ModelOptions are per-model Ollama options from [ollama.models."NAME"].
type ModelOptions struct {
	Temperature *float64 `toml:"temperature"`
	NumCtx      *int     `toml:"num_ctx"`
	NumPredict  *int     `toml:"num_predict"`
	Stop        []string `toml:"stop"`
	Seed        *int     `toml:"seed"`
	KeepAlive   string   `toml:"keep_alive"`
}

// Config is the effective configuration.
type Config struct {
	// Run shape (flags only).
	Auto, Demo, ListModels, Version, Help, PrintConfig bool
	ConfigFile                                         string

	Mode     string
	StateDir string
	Listen   string
	LogLevel string

	// Engine.
	Interval, Lookback, Grain      time.Duration
	Min, Max                       int
	CooldownOut, CooldownIn        time.Duration
	MaxStepOut, MaxStepIn          int
	ConfidenceThreshold, TargetCPU float64
	Tolerance                      float64
	ScaleOutCPU, ScaleOutMemory    float64
	ScaleInWindow, ApprovalExpiry  time.Duration
	Steps                          int

	// Ollama.
	OllamaURL, Model, FallbackModel   string
	PromptFile, SystemPrompt          string
	ConnectTimeout, FirstTokenTimeout time.Duration
	AdviceTimeout                     time.Duration
	Retries                           int
	ModelOptions                      map[string]ModelOptions

	// Azure.
	Subscription, ResourceGroup, VMSSName, Cloud, VMSize string

	// Demo.
	Trace          string
	Speed          float64
	MeanDemand     float64
	ProvisionDelay time.Duration

	// Dashboard.
	Theme string
	Mouse bool

	settings []*setting
}

type kind int

const (
	kString kind = iota
	kInt
	kFloat
	kBool
	kDuration
)

// setting is one configurable value: its TOML key, flag, environment
// variable, range check and where its value came from.
type setting struct {
	key, flag, env, usage string
	kind                  kind
	// unit is what a bare number means for a duration: "m" or "h".
	unit     string
	secret   bool
	fileOK   bool
	str      *string
	i        *int
	f        *float64
	b        *bool
	d        *time.Duration
	check    func() string // "" or the allowed range
	source   string
	defaultV string
}

func (s *setting) set(v string) error {
	v = strings.TrimSpace(v)
	switch s.kind {
	case kString:
		*s.str = v
	case kInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*s.i = n
	case kFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", v)
		}
		*s.f = f
	case kBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*s.b = b
	case kDuration:
		d, err := ParseDuration(v, s.unit)
		if err != nil {
			return err
		}
		*s.d = d
	}
	return nil
}

func (s *setting) String() string {
	switch s.kind {
	case kString:
		return *s.str
	case kInt:
		return strconv.Itoa(*s.i)
	case kFloat:
		return strconv.FormatFloat(*s.f, 'g', -1, 64)
	case kBool:
		return strconv.FormatBool(*s.b)
	case kDuration:
		return s.d.String()
	}
	return ""
}

// ParseDuration reads a Go duration ("90s", "5m", "1h30m"). A bare number
// is read in unit ("m" minutes, "h" hours), as the original Node.js tool
// did; with no unit a bare number is an error.
func ParseDuration(v, unit string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && unit != "" {
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", v)
		}
		u := time.Minute
		if unit == "h" {
			u = time.Hour
		}
		return time.Duration(f * float64(u)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		hint := "a duration such as 90s, 5m or 1h"
		if unit != "" {
			hint += fmt.Sprintf(" (a bare number means %s)", map[string]string{"m": "minutes", "h": "hours"}[unit])
		}
		return 0, fmt.Errorf("%q is not %s", v, hint)
	}
	return d, nil
}

// flagValue adapts a setting to flag.Value; it records the raw text so that
// flags can be applied last, after the file and the environment.
type flagValue struct {
	s   *setting
	raw *[]flagSet
}

type flagSet struct {
	s    *setting
	val  string
	name string // the flag given, when it is not s.flag (--cooldown)
}

func (f flagValue) String() string {
	if f.s == nil {
		return ""
	}
	return f.s.defaultV
}
func (f flagValue) Set(v string) error {
	// Parse now so that a bad flag fails with the flag's name.
	probe := *f.s
	switch probe.kind {
	case kString:
		probe.str = new(string)
	case kInt:
		probe.i = new(int)
	case kFloat:
		probe.f = new(float64)
	case kBool:
		probe.b = new(bool)
	case kDuration:
		probe.d = new(time.Duration)
	}
	if err := probe.set(v); err != nil {
		return err
	}
	*f.raw = append(*f.raw, flagSet{s: f.s, val: v})
	return nil
}
func (f flagValue) IsBoolFlag() bool { return f.s != nil && f.s.kind == kBool }

// UsageError is a command-line or configuration mistake (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, a ...any) error { return &UsageError{Err: fmt.Errorf(format, a...)} }

// Env is how the environment is read; os.LookupEnv in production.
type Env func(string) (string, bool)

// Load parses args (without the program name) and builds the effective
// configuration. demo applies the demo defaults (min 2, max 40, mode auto).
func Load(args []string, env Env, stderr io.Writer) (*Config, error) {
	c := &Config{ModelOptions: map[string]ModelOptions{}}
	c.define()
	demo := false
	for _, a := range args {
		if a == "--demo" || a == "-demo" || a == "--demo=true" {
			demo = true
		}
	}
	if demo {
		c.Min, c.Max, c.Mode = 2, 40, "auto"
		c.Speed = 2
	}
	for _, s := range c.settings {
		s.defaultV = s.String()
		s.source = SourceDefault
	}

	fs := flag.NewFlagSet("scalepilot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var raw []flagSet
	for _, s := range c.settings {
		if s.flag != "" {
			fs.Var(flagValue{s: s, raw: &raw}, s.flag, s.usage)
		}
	}
	var cooldown, configFile string
	var dryRun bool
	fs.StringVar(&configFile, "config", "", "TOML configuration file")
	fs.Func("cooldown", "sets --cooldown-out and --cooldown-in (a bare number means minutes)", func(v string) error {
		if _, err := ParseDuration(v, "m"); err != nil {
			return err
		}
		cooldown = v
		return nil
	})
	fs.BoolVar(&dryRun, "dry-run", false, "decide and record, never change capacity (same as --mode dry-run)")
	fs.BoolVar(&c.Auto, "auto", false, "run headless (no dashboard), for a service manager")
	fs.BoolVar(&c.Demo, "demo", false, "use the built-in simulated scale set replaying a real trace")
	fs.BoolVar(&c.ListModels, "list-models", false, "list the models on the Ollama server and exit")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.BoolVar(&c.PrintConfig, "print-config", false, "print the effective configuration with the source of each value")
	fs.BoolVar(&c.Help, "help", false, "show this help")
	fs.BoolVar(&c.Help, "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		msg := strings.Replace(err.Error(), "flag -", "flag --", 1)
		msg = strings.Replace(msg, "flag provided but not defined: -", "unknown flag --", 1)
		return nil, usage("%s (see scalepilot --help)", msg)
	}
	if fs.NArg() > 0 {
		return nil, usage("unexpected argument %q (see scalepilot --help)", fs.Arg(0))
	}
	if c.Help {
		return c, nil
	}

	// The file: --config, else $XDG_CONFIG_HOME/scalepilot/config.toml if present.
	path, explicit := configFile, configFile != ""
	if !explicit {
		if v, ok := env("SCALEPILOT_CONFIG"); ok && v != "" {
			path, explicit = v, true
		} else {
			path = filepath.Join(xdgDir(env, "XDG_CONFIG_HOME", ".config"), "scalepilot", "config.toml")
		}
	}
	if path != "" {
		if err := c.loadFile(path, explicit); err != nil {
			return nil, err
		}
	}
	// The environment.
	for _, s := range c.settings {
		if s.env == "" {
			continue
		}
		if v, ok := env(s.env); ok && v != "" {
			if err := s.set(v); err != nil {
				return nil, usage("environment variable %s: %v", s.env, err)
			}
			s.source = SourceEnv + " " + s.env
		}
	}
	// The flags, last.
	if cooldown != "" {
		for _, s := range c.settings {
			if s.key == "engine.cooldown_out" || s.key == "engine.cooldown_in" {
				raw = append([]flagSet{{s: s, val: cooldown, name: "cooldown"}}, raw...)
			}
		}
	}
	for _, r := range raw {
		name := r.s.flag
		if r.name != "" {
			name = r.name
		}
		if err := r.s.set(r.val); err != nil {
			return nil, usage("--%s: %v", name, err)
		}
		r.s.source = SourceFlag + " --" + name
	}
	if dryRun {
		if c.modeSetting().source == SourceFlag+" --mode" && c.Mode != "dry-run" {
			return nil, usage("--dry-run and --mode %s disagree: give one of them", c.Mode)
		}
		c.Mode = "dry-run"
		c.modeSetting().source = SourceFlag + " --dry-run"
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Source says where the setting with that key got its value: "flag --X",
// "env NAME", "key K in FILE" or "default"; "" for an unknown key.
func (c *Config) Source(key string) string {
	s := c.setting(key)
	switch {
	case s == nil:
		return ""
	case s.source == SourceFile:
		return "key " + key + " in " + c.ConfigFile
	}
	return s.source
}

// setting is the setting with that key, nil when there is none.
func (c *Config) setting(key string) *setting {
	for _, s := range c.settings {
		if s.key == key {
			return s
		}
	}
	return nil
}

func (c *Config) modeSetting() *setting {
	if s := c.setting("mode"); s != nil {
		return s
	}
	panic("mode setting missing")
}

func xdgDir(env Env, name, fallback string) string {
	if v, ok := env(name); ok && v != "" {
		return v
	}
	if h, ok := env("HOME"); ok && h != "" {
		return filepath.Join(h, filepath.FromSlash(fallback))
	}
	return ""
}

// StateHome returns $XDG_STATE_HOME, else ~/.local/state.
func StateHome(env Env) string { return xdgDir(env, "XDG_STATE_HOME", ".local/state") }

func (c *Config) loadFile(path string, explicit bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return usage("read config file: %v (check --config)", err)
	}
	c.ConfigFile = path
	var tree map[string]any
	if _, err := toml.Decode(string(data), &tree); err != nil {
		return usage("config file %s: %v", path, err)
	}
	byKey := map[string]*setting{}
	for _, s := range c.settings {
		if s.fileOK {
			byKey[s.key] = s
		}
	}
	var errs []error
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			full := k
			if prefix != "" {
				full = prefix + "." + k
			}
			v := m[k]
			if full == "ollama.models" {
				if err := c.loadModels(path, v); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			if sub, ok := v.(map[string]any); ok {
				walk(full, sub)
				continue
			}
			s, ok := byKey[full]
			if !ok {
				errs = append(errs, fmt.Errorf("config file %s: unknown key %q (see config.example.toml for the keys)", path, full))
				continue
			}
			if err := s.set(fmt.Sprint(v)); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %s: %v", path, full, err))
				continue
			}
			s.source = SourceFile
		}
	}
	walk("", tree)
	if len(errs) > 0 {
		return &UsageError{Err: errors.Join(errs...)}
	}
	return nil
}

func (c *Config) loadModels(path string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("config file %s: ollama.models must be a table of [ollama.models.\"NAME\"] tables", path)
	}
	for name, raw := range m {
		var buf strings.Builder
		if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
			return fmt.Errorf("config file %s: ollama.models.%q: %v", path, name, err)
		}
		var mo ModelOptions
		md, err := toml.Decode(buf.String(), &mo)
		if err != nil {
			return fmt.Errorf("config file %s: ollama.models.%q: %v", path, name, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return fmt.Errorf("config file %s: ollama.models.%q: unknown key %q (allowed: temperature, num_ctx, num_predict, stop, seed, keep_alive)",
				path, name, und[0].String())
		}
		if mo.Temperature != nil && (*mo.Temperature < 0 || *mo.Temperature > 2) {
			return fmt.Errorf("config file %s: ollama.models.%q.temperature = %v is out of range: allowed 0 to 2", path, name, *mo.Temperature)
		}
		if mo.KeepAlive != "" {
			if _, err := time.ParseDuration(mo.KeepAlive); err != nil {
				return fmt.Errorf("config file %s: ollama.models.%q.keep_alive = %q is not a duration: write one such as \"10m\" or \"1h\" (negative keeps the model loaded)",
					path, name, mo.KeepAlive)
			}
		}
		if mo.NumCtx != nil && *mo.NumCtx < 256 {
			return fmt.Errorf("config file %s: ollama.models.%q.num_ctx = %d is out of range: allowed 256 or more", path, name, *mo.NumCtx)
		}
		c.ModelOptions[name] = mo
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	for _, s := range c.settings {
		if s.check == nil {
			continue
		}
		if allowed := s.check(); allowed != "" {
			where := s.source
			errs = append(errs, fmt.Errorf("%s = %s is out of range: allowed %s (set by %s)", s.key, s.String(), allowed, where))
		}
	}
	// Headless, nobody can approve: an approve mode from anywhere but the
	// default is refused rather than turned into auto, which would apply
	// changes its author meant a person to look at.
	if c.Auto && c.Mode == "approve" && c.modeSetting().source != SourceDefault {
		errs = append(errs, fmt.Errorf("--auto runs headless and cannot ask for approvals, but the mode is \"approve\" (from %s): "+
			"pass --mode auto to apply decisions or --dry-run to only record them, or run without --auto for the dashboard",
			c.Source("mode")))
	}
	if len(errs) > 0 {
		return &UsageError{Err: errors.Join(errs...)}
	}
	return nil
}

// Print writes every setting with its value and source; secrets masked.
func (c *Config) Print(w io.Writer) {
	fmt.Fprintf(w, "# effective configuration (flags > environment > file > defaults)\n")
	if c.ConfigFile != "" {
		fmt.Fprintf(w, "# file: %s\n", c.ConfigFile)
	} else {
		fmt.Fprintf(w, "# file: none\n")
	}
	for _, s := range c.settings {
		v := maskURL(s.String())
		if s.secret && v != "" {
			v = "****"
		}
		fmt.Fprintf(w, "%-32s = %-28q # %s\n", s.key, v, s.source)
	}
	names := make([]string, 0, len(c.ModelOptions))
	for n := range c.ModelOptions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "ollama.models.%q # file\n", n)
	}
}

// Usage writes the help text.
func (c *Config) Usage(w io.Writer) {
	fmt.Fprint(w, `scalepilot keeps an Azure VM Scale Set at the right size, advised by a local LLM.

Usage:
  scalepilot [flags]               dashboard with the engine underneath
  scalepilot --auto [flags]        headless (no dashboard), mode auto; add --dry-run to only decide
  scalepilot --demo [flags]        the built-in simulated scale set (dashboard or --auto)
  scalepilot --list-models         models on the Ollama server, recommended ones marked
  scalepilot metrics [flags]       collect metrics once and write them (for cron users)
  scalepilot backtest [flags]      replay traces through policies and compare
  scalepilot --version | --help

Run shape:
  --auto                 run headless: JSON lines on stdout, logs on stderr
  --demo                 simulated scale set replaying a real trace (no Azure, no model needed)
  --dry-run              decide and record, never change capacity (= --mode dry-run)
  --list-models          list the Ollama server's models and exit (exit 1 if unreachable)
  --print-config         print the effective configuration with the source of each value
  --config FILE          TOML file (default $XDG_CONFIG_HOME/scalepilot/config.toml if present)
  --cooldown D           sets both cooldowns (a bare number means minutes)
  --version, --help

`)
	groups := []struct{ title, prefix string }{
		{"General", ""}, {"Engine", "engine."}, {"Model (Ollama)", "ollama."}, {"Azure", "azure."},
		{"Demo", "demo."}, {"Dashboard", "tui."},
	}
	for _, g := range groups {
		fmt.Fprintf(w, "%s:\n", g.title)
		for _, s := range c.settings {
			if s.flag == "" || groupOf(s.key) != g.prefix {
				continue
			}
			env := ""
			if s.env != "" {
				env = " [$" + s.env + "]"
			}
			def := ""
			if s.defaultV != "" && s.defaultV != "0" && s.defaultV != "0s" && s.defaultV != "false" {
				def = " (default " + s.defaultV + ")"
			}
			fmt.Fprintf(w, "  --%-22s %s%s%s\n", s.flag, s.usage, def, env)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, `Exit codes: 0 ok; 1 runtime failure; 2 usage, configuration or lock error; 3 scale set not found.
`)
}

func groupOf(key string) string {
	if i := strings.IndexByte(key, '.'); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// FlagNames lists every flag the main command accepts, without dashes.
func FlagNames() []string {
	c := &Config{}
	c.define()
	names := []string{"config", "cooldown", "dry-run", "auto", "demo", "list-models", "version", "print-config", "help", "h"}
	for _, s := range c.settings {
		if s.flag != "" {
			names = append(names, s.flag)
		}
	}
	sort.Strings(names)
	return names
}

// maskURL hides the password of a URL with user information.
func maskURL(v string) string {
	i := strings.Index(v, "://")
	if i < 0 {
		return v
	}
	rest := v[i+3:]
	at := strings.IndexByte(rest, '@')
	if at < 0 || strings.IndexByte(rest[:at], '/') >= 0 {
		return v
	}
	user := rest[:at]
	if c := strings.IndexByte(user, ':'); c >= 0 {
		user = user[:c] + ":****"
	}
	return v[:i+3] + user + rest[at:]
}
