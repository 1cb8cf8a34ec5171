// Package llm is scalepilot's model advisor: it asks a local Ollama server
// for a capacity recommendation, streams the answer as it is written, and
// parses it strictly. It also lists the server's models.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/prompts"
)

var _ engine.Advisor = (*Advisor)(nil)

// Markers around thinking text in the token stream. A model's thinking (the
// thinking field of a chunk) reaches AdviceRequest.OnToken between them, so
// the stream reads as a model that writes <think>…</think> inline.
const (
	ThinkStart = "<think>"
	ThinkEnd   = "</think>"
)

// answerSchema is the JSON schema sent as the request's format.
var answerSchema = json.RawMessage(`{"type":"object","properties":{` +
	`"recommended_instances":{"type":"integer"},"confidence":{"type":"number"},` +
	`"reasoning":{"type":"string"}},` +
	`"required":["recommended_instances","confidence","reasoning"]}`)

// ErrUnreachable is wrapped when the Ollama server cannot be dialled.
var ErrUnreachable = errors.New("ollama server unreachable")

// Advisor asks Ollama models for a capacity. It implements engine.Advisor
// and is safe for concurrent use. Build it with New.
type Advisor struct {
	cfg    Config
	log    *slog.Logger
	client *api.Client
	system *prompts.Template
	user   *prompts.Template

	mu        sync.Mutex
	downUntil time.Time // wall-clock end of the unreachable window
	downSince time.Time
	downErr   string
}

// New checks cfg (URL, prompt templates) and builds an Advisor. log may be
// nil.
func New(cfg Config, log *slog.Logger) (*Advisor, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := url.Parse(cfg.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("ollama url %q: want http://HOST:PORT (see llm.ResolveURL)", cfg.URL)
	}
	a := &Advisor{cfg: cfg, log: log.With("component", "llm", "ollama_url", cfg.URL)}
	if a.system, err = parsePrompt("system", cfg.SystemPrompt, prompts.DefaultSystem); err != nil {
		return nil, err
	}
	if a.user, err = parsePrompt("user", cfg.UserPrompt, prompts.DefaultUser); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(cfg.ConnectTimeout)
	}
	a.client = api.NewClient(base, hc)
	return a, nil
}

func parsePrompt(name, text string, def func() *prompts.Template) (*prompts.Template, error) {
	if text == "" {
		return def(), nil
	}
	return prompts.Parse(name, text)
}

// NewHTTPClient returns an HTTP client for Ollama: dialling bounded by
// connect, no overall timeout (streams are bounded per request), proxies
// from the environment.
func NewHTTPClient(connect time.Duration) *http.Client {
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// URL returns the server the Advisor talks to.
func (a *Advisor) URL() string { return a.cfg.URL }

// Advise asks the primary model, then the fallback, for a capacity. Tokens
// stream to req.OnToken as they arrive. On failure it returns the attempts
// made and an error; the engine then asks its rule advisor.
func (a *Advisor) Advise(ctx context.Context, req engine.AdviceRequest) (engine.Advice, error) {
	start := a.cfg.Now()
	adv := engine.Advice{Advisor: engine.AdvisorModel}
	if err := a.checkReachable(); err != nil {
		return adv, err
	}
	models := modelsOf(req.Models)
	if len(models) == 0 {
		return adv, errors.New("ask ollama: no model chosen: set --model (and --fallback-model)")
	}
	msgs, err := a.messages(req)
	if err != nil {
		return adv, err
	}

	ctx, cancel := context.WithTimeoutCause(ctx, a.cfg.Timeout,
		fmt.Errorf("advice took longer than the overall timeout %s", a.cfg.Timeout))
	defer cancel()
	var errs []error
	for i, model := range models {
		ans, res, err := a.askModel(ctx, model, msgs, req.OnToken, &adv)
		if err == nil {
			adv.Recommended, adv.Confidence, adv.HasConfidence = ans.Recommended, ans.Confidence, true
			adv.Reasoning, adv.Model, adv.DoneReason = ans.Reasoning, model, res.doneReason
			adv.Notes = ans.Notes
			if i > 0 {
				adv.Notes = append(adv.Notes, fmt.Sprintf("fallback %s answered; %s failed", model, models[0]))
			}
			adv.DurationMS = a.cfg.Now().Sub(start).Milliseconds()
			return adv, nil
		}
		errs = append(errs, err)
		if errors.Is(err, ErrUnreachable) || ctx.Err() != nil {
			break // the fallback lives on the same server, or time is up
		}
	}
	adv.DurationMS = a.cfg.Now().Sub(start).Milliseconds()
	return adv, &AdviseError{URL: a.cfg.URL, Errs: errs}
}

// AdviseError is Advise's error when no model gave a usable answer: the
// last error of each model tried, in order.
type AdviseError struct {
	URL  string
	Errs []error // each an *AttemptError
}

func (e *AdviseError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("ask ollama at %s: %s", e.URL, strings.Join(parts, "; "))
}

// Unwrap returns the models' errors, for errors.Is and errors.As.
func (e *AdviseError) Unwrap() []error { return e.Errs }

// AttemptError is one model's failure, as recorded in engine.Attempt.Error.
type AttemptError struct {
	Model string
	Text  string // what the attempt record says
	Err   error  // the underlying error
}

func (e *AttemptError) Error() string { return e.Model + ": " + e.Text }

// Unwrap returns the underlying error.
func (e *AttemptError) Unwrap() error { return e.Err }

func modelsOf(mc engine.ModelChoice) []string {
	var out []string
	for _, m := range []string{mc.Primary, mc.Fallback} {
		m = strings.TrimSpace(m)
		if m != "" && (len(out) == 0 || !SameModel(out[0], m)) {
			out = append(out, m)
		}
	}
	return out
}

func (a *Advisor) messages(req engine.AdviceRequest) ([]api.Message, error) {
	v := prompts.VarsFrom(req)
	sys, err := a.system.Render(v)
	if err != nil {
		return nil, err
	}
	user, err := a.user.Render(v)
	if err != nil {
		return nil, err
	}
	return []api.Message{{Role: "system", Content: sys}, {Role: "user", Content: user}}, nil
}

// askModel tries one model, with retries for transient failures, and records
// every try in adv.Attempts.
func (a *Advisor) askModel(ctx context.Context, model string, msgs []api.Message,
	onToken func(model, text string), adv *engine.Advice) (Answer, chatResult, error) {
	for try := 1; ; try++ {
		start := a.cfg.Now()
		res, err := a.chat(ctx, model, msgs, onToken)
		var ans Answer
		if err == nil {
			ans, err = Parse(res.content, res.doneReason)
		}
		kind := classify(ctx, err)
		if kind == kindUnreachable {
			err = a.markUnreachable(err)
		}
		at := engine.Attempt{Model: model, Try: try, DoneReason: res.doneReason,
			DurationMS: a.cfg.Now().Sub(start).Milliseconds()}
		if err != nil {
			at.Error = describeError(ctx, model, err)
		}
		adv.Attempts = append(adv.Attempts, at)
		a.log.LogAttrs(ctx, logLevel(err), "model attempt", slog.String("model", model),
			slog.Int("try", try), slog.Int64("duration_ms", at.DurationMS),
			slog.String("done_reason", res.doneReason), slog.String("error", at.Error))
		if err == nil {
			return ans, res, nil
		}
		if kind != kindRetry || try > a.cfg.Retries {
			return Answer{}, res, &AttemptError{Model: model, Text: at.Error, Err: err}
		}
		if serr := a.cfg.Sleep(ctx, a.backoff(try)); serr != nil {
			return Answer{}, res, &AttemptError{Model: model, Err: err,
				Text: at.Error + "; retry abandoned: " + describeError(ctx, model, serr)}
		}
	}
}

func logLevel(err error) slog.Level {
	if err != nil {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// backoff returns the wait before retry number n (from 1): full jitter
// over min(BackoffMax, BackoffBase×2^(n-1)).
func (a *Advisor) backoff(n int) time.Duration {
	ceiling := a.cfg.BackoffMax
	if n-1 < 32 {
		ceiling = min(ceiling, a.cfg.BackoffBase<<(n-1))
	}
	if ceiling <= 0 {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Duration(a.cfg.Rand.Int64N(int64(ceiling) + 1))
}

// checkReachable fails at once while a recent dial failure is remembered.
func (a *Advisor) checkReachable() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	if now.Before(a.downUntil) {
		return fmt.Errorf("%w: %s failed %s ago (%s), not dialled again for %s; %s",
			ErrUnreachable, a.cfg.URL, now.Sub(a.downSince).Round(time.Second), a.downErr,
			a.downUntil.Sub(now).Round(time.Second), unreachableHint)
	}
	return nil
}

const unreachableHint = "start it with `ollama serve`, or point --ollama-url or OLLAMA_HOST " +
	"at a running server"

func (a *Advisor) markUnreachable(err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.downSince = a.cfg.Now()
	a.downUntil = a.downSince.Add(a.cfg.UnreachableFor)
	a.downErr = err.Error()
	return fmt.Errorf("%w: %s: %v; %s", ErrUnreachable, a.cfg.URL, err, unreachableHint)
}
