package llm

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultURL               = "http://127.0.0.1:11434"
	DefaultConnectTimeout    = 3 * time.Second
	DefaultFirstTokenTimeout = 90 * time.Second
	DefaultTimeout           = 3 * time.Minute
	DefaultRetries           = 2
	DefaultBackoffBase       = 500 * time.Millisecond
	DefaultBackoffMax        = 8 * time.Second
	DefaultUnreachableFor    = 15 * time.Second
)

// Config sets up an Advisor. The zero value of every field means its default.
type Config struct {
	// URL is the Ollama server, as ResolveURL returns it.
	URL string
	// HTTPClient makes the requests; nil builds one that honours
	// ConnectTimeout. A client given here keeps its own dial settings and
	// must not set http.Client.Timeout (it would cut streams).
	HTTPClient *http.Client
	// ConnectTimeout bounds dialling the server (default 3s).
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds the wait for the first streamed chunk, which
	// includes loading the model (default 90s: a cold load can take a
	// minute). It also bounds any silence between two chunks.
	FirstTokenTimeout time.Duration
	// Timeout bounds one Advise call: every try of both models (default 3m).
	Timeout time.Duration
	// Retries is how many times a model is tried again after a network
	// error, a 5xx or a 429 (default 2; negative means none).
	Retries int
	// BackoffBase and BackoffMax shape the wait before a retry: a random
	// duration up to min(BackoffMax, BackoffBase×2^retry) (full jitter).
	BackoffBase time.Duration // default 500ms
	BackoffMax  time.Duration // default 8s
	// UnreachableFor is how long a refused connection is remembered: calls in
	// that window fail at once without dialling (default 15s, wall-clock).
	UnreachableFor time.Duration
	// Options are per-model options by model name; a name without a tag
	// means NAME:latest. Set fields override DefaultOptions for that model.
	Options map[string]ModelOptions
	// SystemPrompt and UserPrompt are prompt templates (see package
	// prompts); empty means the embedded defaults.
	SystemPrompt string
	UserPrompt   string

	// Rand draws the backoff jitter; nil seeds one at random.
	Rand *rand.Rand
	// Sleep waits d or until ctx ends; nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now tells wall-clock time for the unreachable window and durations;
	// nil uses time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.FirstTokenTimeout, DefaultFirstTokenTimeout)
	setDur(&c.Timeout, DefaultTimeout)
	setDur(&c.BackoffBase, DefaultBackoffBase)
	setDur(&c.BackoffMax, DefaultBackoffMax)
	setDur(&c.UnreachableFor, DefaultUnreachableFor)
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// ModelOptions are the generation options sent with every request to one
// model. Zero values (nil pointers, 0, empty) leave the server's default.
type ModelOptions struct {
	Temperature *float64      `toml:"temperature" json:"temperature,omitempty"`
	NumCtx      int           `toml:"num_ctx" json:"num_ctx,omitempty"`
	NumPredict  int           `toml:"num_predict" json:"num_predict,omitempty"`
	Stop        []string      `toml:"stop" json:"stop,omitempty"`
	Seed        *int          `toml:"seed" json:"seed,omitempty"`
	KeepAlive   time.Duration `toml:"keep_alive" json:"keep_alive,omitempty"` // negative: keep loaded
}

// merge returns o with every field that over sets replaced.
func (o ModelOptions) merge(over ModelOptions) ModelOptions {
	if over.Temperature != nil {
		o.Temperature = over.Temperature
	}
	if over.NumCtx != 0 {
		o.NumCtx = over.NumCtx
	}
	if over.NumPredict != 0 {
		o.NumPredict = over.NumPredict
	}
	if over.Stop != nil {
		o.Stop = over.Stop
	}
	if over.Seed != nil {
		o.Seed = over.Seed
	}
	if over.KeepAlive != 0 {
		o.KeepAlive = over.KeepAlive
	}
	return o
}

// apiOptions returns the options map of an Ollama request.
func (o ModelOptions) apiOptions() map[string]any {
	m := map[string]any{}
	if o.Temperature != nil {
		m["temperature"] = *o.Temperature
	}
	if o.NumCtx > 0 {
		m["num_ctx"] = o.NumCtx
	}
	if o.NumPredict != 0 {
		m["num_predict"] = o.NumPredict
	}
	if len(o.Stop) > 0 {
		m["stop"] = o.Stop
	}
	if o.Seed != nil {
		m["seed"] = *o.Seed
	}
	return m
}

// Recommended lists the models scalepilot is tuned for, in the order
// --list-models shows them.
func Recommended() []string {
	return []string{
		"llama3:8b", "llama3.1:8b", "qwen2.5:7b", "mistral:7b", "gemma:7b",
		"llama3:70b", "mixtral:8x7b",
	}
}

// DefaultOptions returns the built-in options for a model: tuned values for
// the recommended models, generic ones for any other.
func DefaultOptions(model string) ModelOptions {
	base := ModelOptions{
		Temperature: ptr(0.2), NumCtx: 4096, NumPredict: 256, KeepAlive: 30 * time.Minute,
	}
	// Stop sequences are left to each model's own Modelfile: a request's
	// stop list replaces the model's instead of adding to it. The large
	// models stay loaded longer: loading them takes minutes.
	switch CanonicalName(model) {
	case "llama3:8b":
		base.Temperature = ptr(0.1)
	case "llama3.1:8b":
		base.Temperature, base.NumCtx = ptr(0.1), 8192
	case "qwen2.5:7b":
		base.NumCtx = 8192
	case "llama3:70b":
		base.Temperature, base.KeepAlive = ptr(0.1), time.Hour
	case "mixtral:8x7b":
		base.NumCtx, base.KeepAlive = 8192, time.Hour
	}
	return base
}

// optionsFor returns the options sent for model: the defaults, overridden by
// the configured ones.
func (c Config) optionsFor(model string) ModelOptions {
	o := DefaultOptions(model)
	for name, over := range c.Options {
		if SameModel(name, model) {
			return o.merge(over)
		}
	}
	return o
}

// CanonicalName returns a model name with its tag: "llama3" becomes
// "llama3:latest". A registry host's port does not count as a tag.
func CanonicalName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	last := name[strings.LastIndexByte(name, '/')+1:]
	if !strings.Contains(last, ":") {
		return name + ":latest"
	}
	return name
}

// SameModel reports whether two model names mean the same model.
func SameModel(a, b string) bool {
	return a != "" && strings.EqualFold(CanonicalName(a), CanonicalName(b))
}

func ptr[T any](v T) *T { return &v }
