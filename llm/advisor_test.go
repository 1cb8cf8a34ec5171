package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/scalepilot/scalepilot/engine"
)

// fakeOllama is an httptest server speaking /api/chat. Each request is
// answered by the next reply in order (the last one repeats); requests are
// recorded.
type fakeOllama struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	reqs    []api.ChatRequest
}

// reply answers one chat request.
type reply func(w http.ResponseWriter, r *http.Request)

func newFake(t *testing.T, replies ...reply) *fakeOllama {
	f := &fakeOllama{t: t, replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOllama) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/chat" {
		http.NotFound(w, r)
		return
	}
	var req api.ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.t.Errorf("fake ollama: bad request body: %v", err)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	rep := f.replies[min(len(f.reqs), len(f.replies))-1]
	f.mu.Unlock()
	rep(w, r)
}

func (f *fakeOllama) requests() []api.ChatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slicesClone(f.reqs)
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ollama", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ndjson streams body line by line, flushing each, as Ollama does.
func ndjson(body []byte) reply {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for line := range bytes.Lines(body) {
			w.Write(line)
			w.(http.Flusher).Flush()
		}
	}
}

func status(code int, body string) reply {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

// chunks builds an NDJSON stream: content pieces, then a final chunk.
func chunks(doneReason string, pieces ...string) []byte {
	var b bytes.Buffer
	for _, p := range pieces {
		msg := api.Message{Role: "assistant", Content: p}
		if t, ok := strings.CutPrefix(p, "THINK:"); ok {
			msg = api.Message{Role: "assistant", Thinking: t}
		}
		json.NewEncoder(&b).Encode(api.ChatResponse{Model: "m", Message: msg})
	}
	json.NewEncoder(&b).Encode(api.ChatResponse{Model: "m", Done: true, DoneReason: doneReason,
		Message: api.Message{Role: "assistant"}})
	return b.Bytes()
}

const goodAnswer = `{"recommended_instances": 6, "confidence": 0.9, "reasoning": "CPU is high"}`

func answer(pieces ...string) reply {
	if len(pieces) == 0 {
		pieces = []string{goodAnswer[:20], goodAnswer[20:]}
	}
	return ndjson(chunks("stop", pieces...))
}

// harness builds an Advisor against url with recorded sleeps and a settable
// clock.
type harness struct {
	adv    *Advisor
	sleeps []time.Duration
	now    time.Time
	mu     sync.Mutex
	tokens []string
}

func newHarness(t *testing.T, url string, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	cfg := Config{
		URL:  url,
		Rand: rand.New(rand.NewPCG(1, 2)),
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleeps = append(h.sleeps, d)
			return ctx.Err()
		},
		Now: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.now
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	adv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.adv = adv
	return h
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func (h *harness) request(primary, fallback string) engine.AdviceRequest {
	return engine.AdviceRequest{
		Now: h.now, ScaleSet: "web", VMSize: "Standard_D2s_v5",
		State: engine.ScaleSetState{Capacity: 4}, Min: 2, Max: 10, TargetCPU: 60,
		Models: engine.ModelChoice{Primary: primary, Fallback: fallback},
		OnToken: func(model, text string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.tokens = append(h.tokens, model+"|"+text)
		},
	}
}

func (h *harness) streamed() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.tokens, "")
}

// attempts renders attempts compactly: "model#try:error" (error cut to
// its first 40 bytes).
func attempts(as []engine.Attempt) []string {
	var out []string
	for _, a := range as {
		e := a.Error
		if len(e) > 40 {
			e = e[:40]
		}
		out = append(out, a.Model+"#"+string(rune('0'+a.Try))+":"+e)
	}
	return out
}

func TestAdviseStreamsRecordedAnswer(t *testing.T) {
	fake := newFake(t, ndjson(sample(t, "chat_schema_stream.body")))
	h := newHarness(t, fake.srv.URL, func(c *Config) {
		c.Options = map[string]ModelOptions{"tiny": {NumPredict: 200, Seed: ptr(7)}}
	})
	adv, err := h.adv.Advise(t.Context(), h.request("tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	// The recorded answer: {"recommended_instances":0,"confidence":5.1,...}.
	if adv.Recommended != 0 || adv.Confidence != 0.051 || !adv.HasConfidence ||
		adv.Reasoning != "kZRN@xN^GtR m1N@tzNRR load.g" || adv.Model != "tiny" ||
		adv.Advisor != engine.AdvisorModel || adv.DoneReason != "stop" {
		t.Errorf("advice = %+v", adv)
	}
	if len(adv.Notes) != 1 || adv.Notes[0] != "confidence 5.1 read as 0.051" {
		t.Errorf("notes = %q", adv.Notes)
	}
	if len(adv.Attempts) != 1 || adv.Attempts[0].Error != "" || adv.Attempts[0].DoneReason != "stop" {
		t.Errorf("attempts = %+v", adv.Attempts)
	}
	// 92 chunks, the last one empty: every piece reached OnToken in order.
	if got := len(h.tokens); got != 91 {
		t.Errorf("OnToken called %d times, want 91", got)
	}
	want := `tiny|{tiny| tiny|"tiny|r`
	if !strings.HasPrefix(strings.Join(h.tokens, ""), want) {
		t.Errorf("tokens start %q, want %q", strings.Join(h.tokens[:4], ""), want)
	}

	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Model != "tiny" || r.Stream == nil || !*r.Stream || len(r.Messages) != 2 ||
		r.Messages[0].Role != "system" || !strings.Contains(r.Messages[1].Content, "Scale set web") {
		t.Errorf("request = %+v", r)
	}
	if !bytes.Equal(r.Format, answerSchema) {
		t.Errorf("format = %s", r.Format)
	}
	if r.KeepAlive == nil || r.KeepAlive.Duration != 30*time.Minute {
		t.Errorf("keep_alive = %v", r.KeepAlive)
	}
	if r.Options["num_predict"] != 200.0 || r.Options["seed"] != 7.0 ||
		r.Options["num_ctx"] != 4096.0 || r.Options["temperature"] != 0.2 {
		t.Errorf("options = %v, want defaults with the configured num_predict and seed", r.Options)
	}
}

func TestAdviseFallsBackWithoutRetryOn404(t *testing.T) {
	fake := newFake(t, status(404, string(sample(t, "chat_unknown_model.body"))), answer())
	h := newHarness(t, fake.srv.URL, nil)
	adv, err := h.adv.Advise(t.Context(), h.request("nosuch", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if adv.Model != "tiny" || adv.Recommended != 6 || adv.Confidence != 0.9 {
		t.Errorf("advice = %+v", adv)
	}
	if len(adv.Attempts) != 2 ||
		adv.Attempts[0].Error != "HTTP 404: model 'nosuch' not found; run `ollama pull nosuch`" ||
		adv.Attempts[1].Error != "" || adv.Attempts[1].Model != "tiny" {
		t.Errorf("attempts = %+v", adv.Attempts)
	}
	if len(h.sleeps) != 0 {
		t.Errorf("slept %v before the fallback; a 404 is not retried", h.sleeps)
	}
	if !strings.Contains(strings.Join(adv.Notes, " "), "fallback tiny answered") {
		t.Errorf("notes = %q", adv.Notes)
	}
	if got := h.streamed(); got != "tiny|"+goodAnswer[:20]+"tiny|"+goodAnswer[20:] {
		t.Errorf("streamed %q", got)
	}
}

func TestAdviseRetries5xxAnd429WithJitteredBackoff(t *testing.T) {
	fake := newFake(t,
		status(500, string(sample(t, "chat_bad_option_type.body"))),
		status(429, `{"error":"server busy, please try again. maximum pending requests exceeded"}`),
		answer())
	h := newHarness(t, fake.srv.URL, nil)
	adv, err := h.adv.Advise(t.Context(), h.request("llama3:8b", "mistral:7b"))
	if err != nil {
		t.Fatal(err)
	}
	got := attempts(adv.Attempts)
	want := []string{
		`llama3:8b#1:HTTP 500: option "num_predict" must be o`,
		"llama3:8b#2:HTTP 429: server busy, please try again.",
		"llama3:8b#3:",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attempts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(h.sleeps) != 2 || h.sleeps[0] > 500*time.Millisecond || h.sleeps[1] > time.Second ||
		h.sleeps[0] == h.sleeps[1] {
		t.Errorf("sleeps %v, want two jittered waits under 500ms and 1s", h.sleeps)
	}
	if adv.Model != "llama3:8b" {
		t.Errorf("model = %q", adv.Model)
	}
}

func TestAdviseGivesUpAfterRetriesThenFallsBack(t *testing.T) {
	fail := status(503, `{"error":"service unavailable"}`)
	fake := newFake(t, fail, fail, fail, answer())
	h := newHarness(t, fake.srv.URL, func(c *Config) { c.BackoffBase, c.BackoffMax = time.Second, 1500*time.Millisecond })
	adv, err := h.adv.Advise(t.Context(), h.request("llama3:8b", "mistral:7b"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(adv.Attempts); n != 4 || adv.Model != "mistral:7b" {
		t.Fatalf("attempts %v, model %q; want 3 tries of llama3:8b then mistral:7b",
			attempts(adv.Attempts), adv.Model)
	}
	for _, d := range h.sleeps {
		if d > 1500*time.Millisecond {
			t.Errorf("sleep %v above BackoffMax", d)
		}
	}
}

func TestAdviseTotalFailureReturnsAttempts(t *testing.T) {
	fake := newFake(t, status(404, `{"error":"model 'a' not found"}`),
		ndjson(sample(t, "chat_schema_truncated.body")))
	h := newHarness(t, fake.srv.URL, nil)
	adv, err := h.adv.Advise(t.Context(), h.request("a", "tiny"))
	if err == nil {
		t.Fatalf("want an error, got %+v", adv)
	}
	var ae *AdviseError
	if !errors.As(err, &ae) || len(ae.Errs) != 2 || !errors.Is(err, ErrBadAnswer) {
		t.Errorf("error %v: want an AdviseError with both models, wrapping ErrBadAnswer", err)
	}
	if !strings.Contains(err.Error(), "ollama pull a") || !strings.Contains(err.Error(), "done_reason length") {
		t.Errorf("error %q lacks the pull hint or the truncation reason", err)
	}
	if len(adv.Attempts) != 2 || adv.Attempts[1].DoneReason != "length" || adv.Advisor != engine.AdvisorModel {
		t.Errorf("advice = %+v", adv)
	}
	if len(h.sleeps) != 0 {
		t.Errorf("slept %v; a truncated answer is not retried", h.sleeps)
	}
}

func TestAdviseRetriesAStreamCutMidway(t *testing.T) {
	cut := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		body := chunks("stop", `{"recommended_instances": `, "3")
		lines := bytes.SplitAfter(body, []byte("\n"))
		w.Write(lines[0])
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}
	fake := newFake(t, cut, answer())
	h := newHarness(t, fake.srv.URL, nil)
	adv, err := h.adv.Advise(t.Context(), h.request("tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(adv.Attempts) != 2 || !strings.Contains(adv.Attempts[0].Error, "stream ended before the final chunk") ||
		len(h.sleeps) != 1 {
		t.Errorf("attempts %+v, sleeps %v; want a retry after the cut stream", adv.Attempts, h.sleeps)
	}
}

func TestAdviseRetriesAnErrorLineInsideTheStream(t *testing.T) {
	midway := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		json.NewEncoder(w).Encode(api.ChatResponse{Message: api.Message{Role: "assistant", Content: "{"}})
		w.Write([]byte(`{"error":"an error was encountered while running the model: unexpected EOF"}` + "\n"))
	}
	fake := newFake(t, midway, answer())
	h := newHarness(t, fake.srv.URL, nil)
	adv, err := h.adv.Advise(t.Context(), h.request("tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(adv.Attempts) != 2 || !strings.Contains(adv.Attempts[0].Error, "while running the model") {
		t.Errorf("attempts = %+v", adv.Attempts)
	}
}

func TestAdviseSlowFirstTokenGoesToFallback(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a model that never starts answering
	}
	fake := newFake(t, slow, answer())
	h := newHarness(t, fake.srv.URL, func(c *Config) { c.FirstTokenTimeout = 50 * time.Millisecond })
	adv, err := h.adv.Advise(t.Context(), h.request("llama3:70b", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if len(adv.Attempts) != 2 || !strings.HasPrefix(adv.Attempts[0].Error, "no first token within 50ms") ||
		adv.Model != "tiny" || len(h.sleeps) != 0 {
		t.Errorf("attempts %+v, model %q, sleeps %v", adv.Attempts, adv.Model, h.sleeps)
	}
}

func TestAdviseStreamsThinkingMarked(t *testing.T) {
	fake := newFake(t, answer("THINK:CPU is ", "THINK:high.", `{"recommended_instances": 5, `,
		`"confidence": 0.7, "reasoning": "r"}`))
	h := newHarness(t, fake.srv.URL, nil)
	adv, err := h.adv.Advise(t.Context(), h.request("qwen3:8b", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := "qwen3:8b|<think>qwen3:8b|CPU is qwen3:8b|high.qwen3:8b|</think>qwen3:8b|" +
		`{"recommended_instances": 5, qwen3:8b|"confidence": 0.7, "reasoning": "r"}`
	if got := h.streamed(); got != want {
		t.Errorf("streamed\n%s\nwant\n%s", got, want)
	}
	if adv.Recommended != 5 {
		t.Errorf("advice = %+v", adv)
	}
}

func TestAdviseUsesTheModelsOfEachRequest(t *testing.T) {
	fake := newFake(t, answer())
	h := newHarness(t, fake.srv.URL, nil)
	for _, m := range []string{"llama3:8b", "qwen2.5:7b"} {
		if _, err := h.adv.Advise(t.Context(), h.request(m, "")); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fake.requests()
	if len(reqs) != 2 || reqs[0].Model != "llama3:8b" || reqs[1].Model != "qwen2.5:7b" ||
		reqs[1].Options["num_ctx"] != 8192.0 {
		t.Errorf("requests went to %v", reqs)
	}
	// The same model as primary and fallback is asked once.
	if _, err := h.adv.Advise(t.Context(), h.request("", "")); err == nil ||
		!strings.Contains(err.Error(), "set --model") {
		t.Errorf("no models: err = %v", err)
	}
	if got := modelsOf(engine.ModelChoice{Primary: "llama3", Fallback: "llama3:latest"}); len(got) != 1 {
		t.Errorf("modelsOf = %q, want one model", got)
	}
}

// refusedURL returns a loopback address nothing listens on.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestAdviseRefusedConnectionFailsFastAndIsRemembered(t *testing.T) {
	var dials atomic.Int32
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	h := newHarness(t, refusedURL(t), func(c *Config) { c.HTTPClient = hc })

	adv, err := h.adv.Advise(t.Context(), h.request("llama3:8b", "mistral:7b"))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "ollama serve") ||
		!strings.Contains(err.Error(), "OLLAMA_HOST") {
		t.Fatalf("err = %v, want ErrUnreachable with what to do", err)
	}
	if len(adv.Attempts) != 1 || len(h.sleeps) != 0 || dials.Load() != 1 {
		t.Errorf("attempts %v, sleeps %v, dials %d: want one try, no waiting, no fallback",
			attempts(adv.Attempts), h.sleeps, dials.Load())
	}

	h.advance(10 * time.Second)
	adv, err = h.adv.Advise(t.Context(), h.request("llama3:8b", "mistral:7b"))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "not dialled again for 5s") ||
		dials.Load() != 1 || len(adv.Attempts) != 0 {
		t.Errorf("within the window: err %v, dials %d, attempts %v", err, dials.Load(), adv.Attempts)
	}

	h.advance(6 * time.Second)
	if _, err := h.adv.Advise(t.Context(), h.request("llama3:8b", "")); !errors.Is(err, ErrUnreachable) ||
		dials.Load() != 2 {
		t.Errorf("after the window: err %v, dials %d; want a fresh dial", err, dials.Load())
	}
}

func TestAdviseStopsWhenTheCallerCancels(t *testing.T) {
	fake := newFake(t, status(500, `{"error":"boom"}`))
	ctx, cancel := context.WithCancel(t.Context())
	h := newHarness(t, fake.srv.URL, func(c *Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel() // the engine shuts down during the backoff
			return context.Cause(ctx)
		}
	})
	adv, err := h.adv.Advise(ctx, h.request("llama3:8b", "mistral:7b"))
	if err == nil || !strings.Contains(err.Error(), "retry abandoned") || len(adv.Attempts) != 1 {
		t.Errorf("err %v, attempts %v; want one attempt and no fallback", err, attempts(adv.Attempts))
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("%d requests after cancel, want 1", n)
	}
}

func TestNewRejectsBadPromptAndURL(t *testing.T) {
	if _, err := New(Config{UserPrompt: "{{.Nope}}"}, nil); err == nil ||
		!strings.Contains(err.Error(), "valid variables") {
		t.Errorf("bad user prompt: err = %v", err)
	}
	if _, err := New(Config{URL: "127.0.0.1:11434"}, nil); err == nil {
		t.Error("a URL without scheme was accepted; ResolveURL makes the full form")
	}
	if _, err := New(Config{SystemPrompt: "{{.ScaleSet}} only"}, nil); err != nil {
		t.Errorf("custom system prompt: %v", err)
	}
}

func TestBackoffStaysUnderItsCeiling(t *testing.T) {
	h := newHarness(t, "http://127.0.0.1:1", nil)
	for n := 1; n <= 40; n++ {
		ceiling := min(DefaultBackoffMax, DefaultBackoffBase<<min(n-1, 20))
		for range 50 {
			if d := h.adv.backoff(n); d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, ceiling %v", n, d, ceiling)
			}
		}
	}
}

func TestAdviseOverallTimeoutStopsWithoutFallback(t *testing.T) {
	trickle := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for {
			enc.Encode(api.ChatResponse{Message: api.Message{Role: "assistant", Content: "a"}})
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	fake := newFake(t, trickle, answer())
	h := newHarness(t, fake.srv.URL, func(c *Config) { c.Timeout = 150 * time.Millisecond })
	adv, err := h.adv.Advise(t.Context(), h.request("llama3:8b", "mistral:7b"))
	if err == nil || !strings.Contains(err.Error(), "longer than the overall timeout 150ms") {
		t.Errorf("err = %v", err)
	}
	if len(adv.Attempts) != 1 || len(fake.requests()) != 1 || len(h.sleeps) != 0 {
		t.Errorf("attempts %v, %d requests, sleeps %v; want one attempt", attempts(adv.Attempts),
			len(fake.requests()), h.sleeps)
	}
}
