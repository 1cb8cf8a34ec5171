package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scalepilot/scalepilot/engine"
)

// fakeSource stands in for the engine.
type fakeSource struct {
	mu     sync.Mutex
	st     engine.Status
	recent []engine.Decision // newest last
}

func (f *fakeSource) Status() engine.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeSource) Recent(n int) []engine.Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []engine.Decision
	for i := len(f.recent) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, f.recent[i])
	}
	return out
}

func (f *fakeSource) update(fn func(*engine.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st)
}

// fakeClock is a settable wall clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func newTestServer(t *testing.T) (*Server, *fakeSource, *fakeClock) {
	t.Helper()
	src := &fakeSource{st: engine.Status{ScaleSet: "web-vmss", Mode: engine.ModeAuto, Min: 2, Max: 10,
		Models: engine.ModelChoice{Primary: "llama3:8b", Fallback: "mistral:7b"}}}
	clk := &fakeClock{t: t0}
	s := New(Options{Addr: "127.0.0.1:0", Source: src, Interval: time.Minute, Wall: clk})
	return s, src, clk
}

// tickInput is what one simulated decision feeds the observer.
type tickInput struct {
	seq                 int
	current, desired    int
	action              engine.Action
	reason              engine.Reason
	cpu, cpuAge         float64
	attempts            []engine.Attempt
	answeredBy          string // model that answered; "" when none did
	confidence          float64
	modelErr            error
	outcome             string // action_result outcome; "" for none
	cooldownOut         time.Duration
	scaleSetOK, modelOK bool
}

func feed(s *Server, src *fakeSource, in tickInput) {
	obs := s.Observer()
	ts := t0.Add(time.Duration(in.seq) * 5 * time.Minute)
	obs.Notify(engine.TickNote{At: ts, Seq: in.seq})
	inputs := engine.Inputs{CPU: engine.MetricSummary{Available: true, Current: in.cpu, AgeSec: in.cpuAge}}
	obs.Notify(engine.MetricsNote{At: ts, State: engine.ScaleSetState{Name: "web-vmss", Capacity: in.current},
		Inputs: inputs})
	adv := engine.Advice{Attempts: in.attempts}
	if in.answeredBy != "" {
		adv.Advisor, adv.Model, adv.Confidence, adv.HasConfidence = engine.AdvisorModel, in.answeredBy, in.confidence, true
		adv.Recommended = in.desired
	}
	obs.Notify(engine.AdviceNote{Seq: in.seq, Model: adv, ModelErr: in.modelErr,
		Rules: engine.Advice{Advisor: engine.AdvisorRules, Recommended: in.desired}})
	d := engine.Decision{Type: engine.TypeDecision, ID: fmt.Sprintf("d-%d", in.seq), TS: ts,
		ScaleSet: "web-vmss", Mode: engine.ModeAuto, Current: in.current, Desired: in.desired,
		Action: in.action, Reason: in.reason, Inputs: inputs, Edits: []engine.Edit{}}
	obs.Notify(engine.DecisionNote{Decision: d})
	capacity := in.current
	if in.outcome != "" {
		obs.Notify(engine.EventNote{Event: engine.Event{Type: engine.TypeActionResult, DecisionID: d.ID,
			From: in.current, To: in.desired, Outcome: in.outcome}})
		if in.outcome == engine.OutcomeApplied {
			capacity = in.desired
		}
	}
	src.update(func(st *engine.Status) {
		st.Capacity, st.LastDecision, st.Decisions = capacity, &d, in.seq
		st.CooldownOutLeft, st.ScaleSetOK, st.ModelOK = in.cooldownOut, in.scaleSetOK, in.modelOK
		st.LastTick = ts
	})
	src.mu.Lock()
	src.recent = append(src.recent, d)
	src.mu.Unlock()
	obs.Notify(engine.StatusNote{Status: src.Status()})
}

func get(t *testing.T, h http.Handler, url string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec.Code, rec.Body.String()
}

// scrape reads /metrics through the handler and parses the text format.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, s.Handler(), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d: %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the sample of name whose labels include want (key=value
// pairs); for a histogram, its count.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsChangeBetweenScrapes(t *testing.T) {
	s, src, _ := newTestServer(t)
	feed(s, src, tickInput{seq: 1, current: 3, desired: 5, action: engine.ActionScaleOut,
		reason: engine.ReasonRecommended, cpu: 91, cpuAge: 60,
		attempts:   []engine.Attempt{{Model: "llama3:8b", Try: 1, DurationMS: 4200}},
		answeredBy: "llama3:8b", confidence: 0.9, outcome: engine.OutcomeApplied,
		cooldownOut: 5 * time.Minute, scaleSetOK: true, modelOK: true})
	first := scrape(t, s)

	feed(s, src, tickInput{seq: 2, current: 5, desired: 5, action: engine.ActionHold,
		reason: engine.ReasonCooldown, cpu: 48, cpuAge: 120,
		attempts: []engine.Attempt{{Model: "llama3:8b", Try: 1, DurationMS: 30000, Error: "timeout"},
			{Model: "mistral:7b", Try: 1, DurationMS: 2500}},
		answeredBy: "mistral:7b", confidence: 0.4, scaleSetOK: true, modelOK: true})
	feed(s, src, tickInput{seq: 3, current: 5, desired: 4, action: engine.ActionScaleIn,
		reason: engine.ReasonStepLimit, cpu: 20, cpuAge: 60,
		attempts: []engine.Attempt{{Model: "llama3:8b", Try: 1, DurationMS: 10, Error: "refused"}},
		modelErr: errors.New("no model answered"), outcome: engine.OutcomeFailed,
		scaleSetOK: true, modelOK: false})
	second := scrape(t, s)

	for _, tc := range []struct {
		name          string
		labels        []string
		before, after float64
	}{
		{"scalepilot_capacity_current", nil, 5, 5},
		{"scalepilot_capacity_desired", nil, 5, 4},
		{"scalepilot_capacity_min", nil, 2, 2},
		{"scalepilot_capacity_max", nil, 10, 10},
		{"scalepilot_decisions_total", []string{"action", "scale_out", "reason", "recommended"}, 1, 1},
		{"scalepilot_decisions_total", []string{"action", "hold", "reason", "cooldown"}, 0, 1},
		{"scalepilot_decisions_total", []string{"action", "scale_in", "reason", "step_limit"}, 0, 1},
		{"scalepilot_actions_total", []string{"action", "scale_out", "outcome", "applied"}, 1, 1},
		{"scalepilot_actions_total", []string{"action", "scale_in", "outcome", "failed"}, 0, 1},
		{"scalepilot_events_total", []string{"type", "action_result"}, 1, 2},
		{"scalepilot_advisor_latency_seconds", []string{"model", "llama3:8b", "outcome", "ok"}, 1, 1},
		{"scalepilot_advisor_latency_seconds", []string{"model", "llama3:8b", "outcome", "error"}, 0, 2},
		{"scalepilot_advisor_latency_seconds", []string{"model", "mistral:7b", "outcome", "ok"}, 0, 1},
		{"scalepilot_advisor_confidence", []string{"model", "llama3:8b"}, 0.9, 0.9},
		{"scalepilot_advisor_confidence", []string{"model", "mistral:7b"}, 0, 0.4},
		{"scalepilot_advisor_fallbacks_total", []string{"to", "fallback_model"}, 0, 1},
		{"scalepilot_advisor_fallbacks_total", []string{"to", "rules"}, 0, 1},
		{"scalepilot_metric_value", []string{"metric", "cpu"}, 91, 20},
		{"scalepilot_metric_age_seconds", []string{"metric", "cpu"}, 60, 60},
		{"scalepilot_metric_available", []string{"metric", "cpu"}, 1, 1},
		{"scalepilot_metric_available", []string{"metric", "memory"}, 0, 0},
		{"scalepilot_cooldown_remaining_seconds", []string{"direction", "out"}, 300, 0},
		{"scalepilot_model_up", nil, 1, 0},
		{"scalepilot_scale_set_up", nil, 1, 1},
		{"scalepilot_mode", []string{"mode", "auto"}, 1, 1},
		{"scalepilot_mode", []string{"mode", "dry-run"}, 0, 0},
		{"scalepilot_info", []string{"scale_set", "web-vmss"}, 1, 1},
		{"scalepilot_last_decision_timestamp_seconds", nil,
			float64(t0.Add(5 * time.Minute).Unix()), float64(t0.Add(15 * time.Minute).Unix())},
	} {
		label := tc.name + fmt.Sprint(tc.labels)
		b, okB := value(first, tc.name, tc.labels...)
		a, okA := value(second, tc.name, tc.labels...)
		if !okA || (tc.before != 0 && !okB) {
			t.Errorf("%s missing (in first scrape %v, in second %v)", label, okB, okA)
			continue
		}
		if b != tc.before || a != tc.after {
			t.Errorf("%s: first scrape %v, second %v; want %v then %v", label, b, a, tc.before, tc.after)
		}
	}
	if _, ok := second["go_goroutines"]; !ok {
		t.Error("a fresh registry should export the Go collector")
	}
}

func TestLatencyBucketsReachFiveMinutes(t *testing.T) {
	s, src, _ := newTestServer(t)
	feed(s, src, tickInput{seq: 1, current: 3, desired: 3, action: engine.ActionHold,
		reason: engine.ReasonNoChange, answeredBy: "llama3:8b", confidence: 0.8,
		attempts: []engine.Attempt{{Model: "llama3:8b", Try: 1, DurationMS: 250_000}}})
	fams := scrape(t, s)
	h := fams["scalepilot_advisor_latency_seconds"].GetMetric()[0].GetHistogram()
	var top float64
	for _, b := range h.GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			top = max(top, b.GetUpperBound())
		}
		if b.GetUpperBound() == 300 && b.GetCumulativeCount() != 1 {
			t.Errorf("a 250 s answer is not in the 300 s bucket: %d", b.GetCumulativeCount())
		}
		if b.GetUpperBound() == 240 && b.GetCumulativeCount() != 0 {
			t.Errorf("a 250 s answer counted in the 240 s bucket")
		}
	}
	if top != 300 {
		t.Errorf("highest bucket %v s, want 300", top)
	}
}

// A metric that goes missing disappears instead of showing an old value.
func TestMissingMetricDropsItsValue(t *testing.T) {
	s, src, _ := newTestServer(t)
	feed(s, src, tickInput{seq: 1, current: 3, desired: 3, action: engine.ActionHold,
		reason: engine.ReasonNoChange, cpu: 50, cpuAge: 60})
	s.Observer().Notify(engine.MetricsNote{MetricsErr: errors.New("monitor down"),
		Inputs: engine.Inputs{CPU: engine.MetricSummary{Err: "monitor down"}}})
	fams := scrape(t, s)
	if v, ok := value(fams, "scalepilot_metric_value", "metric", "cpu"); ok {
		t.Errorf("cpu value %v still exported after a failed read", v)
	}
	if v, _ := value(fams, "scalepilot_metric_available", "metric", "cpu"); v != 0 {
		t.Errorf("cpu available = %v after a failed read", v)
	}
	if v, _ := value(fams, "scalepilot_read_errors_total", "source", "metrics"); v != 1 {
		t.Errorf("metrics read errors = %v, want 1", v)
	}
}

// Every scrape reads the engine's status, so cooldowns count down between
// decisions.
func TestScrapeRefreshesStatusGauges(t *testing.T) {
	s, src, _ := newTestServer(t)
	src.update(func(st *engine.Status) { st.CooldownInLeft = 10 * time.Minute; st.Pending = 2 })
	fams := scrape(t, s)
	if v, _ := value(fams, "scalepilot_cooldown_remaining_seconds", "direction", "in"); v != 600 {
		t.Errorf("cooldown in = %v, want 600", v)
	}
	src.update(func(st *engine.Status) { st.CooldownInLeft = 4 * time.Minute; st.Pending = 0 })
	fams = scrape(t, s)
	if v, _ := value(fams, "scalepilot_cooldown_remaining_seconds", "direction", "in"); v != 240 {
		t.Errorf("cooldown in = %v, want 240", v)
	}
	if v, _ := value(fams, "scalepilot_approvals_pending"); v != 0 {
		t.Errorf("pending = %v, want 0", v)
	}
}

func TestGivenRegistryReceivesTheMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(Options{Source: &fakeSource{}, Registry: reg})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	if !names["scalepilot_decisions_total"] || names["go_goroutines"] {
		t.Errorf("given registry holds %v; want scalepilot metrics and no Go collector", names)
	}
}

func TestHealthzFollowsTheLoop(t *testing.T) {
	s, src, clk := newTestServer(t) // Interval 1m: stale after 7m
	h := s.Handler()
	check := func(step string, want int) {
		t.Helper()
		if code, body := get(t, h, "/healthz"); code != want {
			t.Errorf("%s: /healthz = %d, want %d: %s", step, code, want, body)
		}
	}
	check("just started", http.StatusOK)
	clk.advance(8 * time.Minute)
	check("no decision for 8m after start", http.StatusServiceUnavailable)
	s.Observer().Notify(engine.TickNote{Seq: 1})
	check("a decision started", http.StatusOK)
	clk.advance(6 * time.Minute)
	check("6m after the last tick", http.StatusOK)
	clk.advance(2 * time.Minute)
	check("8m after the last tick", http.StatusServiceUnavailable)
	src.update(func(st *engine.Status) { st.LastTickWall = clk.Now().Add(-time.Minute) })
	check("the engine reports a recent tick", http.StatusOK)
}

func TestReadyz(t *testing.T) {
	for _, tc := range []struct {
		name                string
		decisions           int
		scaleSetOK, modelOK bool
		code                int
		status              string
	}{
		{"before the first decision", 0, false, false, 503, ReadyStarting},
		{"scale set unreachable", 3, false, true, 503, ReadyUnavailable},
		{"scale set and model unreachable", 3, false, false, 503, ReadyUnavailable},
		{"model unreachable", 3, true, false, 200, ReadyDegraded},
		{"all answer", 3, true, true, 200, ReadyOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, src, _ := newTestServer(t)
			src.update(func(st *engine.Status) {
				st.Decisions, st.ScaleSetOK, st.ModelOK = tc.decisions, tc.scaleSetOK, tc.modelOK
			})
			code, body := get(t, s.Handler(), "/readyz")
			var doc readyDoc
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatalf("/readyz body %q: %v", body, err)
			}
			if code != tc.code || doc.Status != tc.status || doc.Message == "" {
				t.Errorf("/readyz = %d %+v, want %d %q with a message", code, doc, tc.code, tc.status)
			}
		})
	}
}

func TestDecisionsEndpoint(t *testing.T) {
	s, src, _ := newTestServer(t)
	h := s.Handler()
	if code, body := get(t, h, "/api/decisions"); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("no decisions yet: %d %s, want 200 []", code, body)
	}
	for i := 1; i <= 25; i++ {
		feed(s, src, tickInput{seq: i, current: 3, desired: 3, action: engine.ActionHold,
			reason: engine.ReasonNoChange})
	}
	for _, tc := range []struct {
		query  string
		n      int
		newest string
	}{{"", DefaultLimit, "d-25"}, {"?limit=2", 2, "d-25"}, {"?limit=1000", 25, "d-25"}} {
		code, body := get(t, h, "/api/decisions"+tc.query)
		var recs []map[string]any
		if err := json.Unmarshal([]byte(body), &recs); err != nil || code != 200 {
			t.Fatalf("%s: %d %v: %s", tc.query, code, err, body)
		}
		if len(recs) != tc.n || recs[0]["id"] != tc.newest {
			t.Errorf("%s: %d records, first %v; want %d, first %s", tc.query, len(recs), recs[0]["id"], tc.n, tc.newest)
		}
		for _, key := range []string{"type", "id", "ts", "scale_set", "mode", "current", "desired",
			"action", "reason", "message", "advisor", "confidence", "recommended",
			"rules_recommended", "edits", "inputs", "applied"} {
			if _, ok := recs[0][key]; !ok {
				t.Errorf("%s: record lacks %q: %v", tc.query, key, recs[0])
			}
		}
	}
	for _, bad := range []string{"0", "-3", "abc", "1001", "", "2.5"} {
		code, body := get(t, h, "/api/decisions?limit="+bad)
		if code != http.StatusBadRequest || !strings.Contains(body, "limit must be a whole number from 1 to 1000") {
			t.Errorf("limit=%q: %d %s, want 400 with a message", bad, code, body)
		}
	}
}

func TestOnlyGET(t *testing.T) {
	s, _, _ := newTestServer(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/status", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/status = %d, want 405", rec.Code)
	}
}

func TestStartServesStatusUntilTheContextEnds(t *testing.T) {
	s, src, _ := newTestServer(t)
	feed(s, src, tickInput{seq: 1, current: 4, desired: 4, action: engine.ActionHold,
		reason: engine.ReasonNoChange, scaleSetOK: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := s.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if strings.HasSuffix(addr, ":0") || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Start returned %q, want 127.0.0.1 with the real port", addr)
	}
	if _, err := s.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}

	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/api/status: %v: %s", err, body)
	}
	if doc["listen"] != addr || doc["scale_set"] != "web-vmss" || doc["mode"] != "auto" ||
		doc["capacity"] != 4.0 || doc["ready"] != ReadyDegraded {
		t.Errorf("/api/status = %s", body)
	}
	if ld, _ := doc["last_decision"].(map[string]any); ld["id"] != "d-1" {
		t.Errorf("last_decision = %v, want d-1", doc["last_decision"])
	}
	if m, _ := doc["models"].(map[string]any); m["primary"] != "llama3:8b" {
		t.Errorf("models = %v", doc["models"])
	}

	cancel()
	if err := s.Wait(); err != nil {
		t.Errorf("Wait: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after the context ended")
	}
}

func TestStartOnABusyAddressFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	src := &fakeSource{}
	s := New(Options{Addr: ln.Addr().String(), Source: src})
	_, err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("Start on a busy port = %v, want an error naming the address and --listen", err)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after a failed Start = %v", err)
	}
}

// A listener bound before New is served as it is, and closed at the end.
func TestStartServesAGivenListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Addr: "127.0.0.1:0", Listener: ln, Source: &fakeSource{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := s.Start(ctx)
	if err != nil || addr != ln.Addr().String() {
		t.Fatalf("Start = %q, %v; want the given listener's %s", addr, err, ln.Addr())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := s.Wait(); err != nil {
		t.Errorf("Wait: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the given listener is still open after the context ended")
	}
}

// Notifications arrive from the engine's goroutine while scrapes run.
func TestNotifyWhileScraping(t *testing.T) {
	s, src, _ := newTestServer(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= 200; i++ {
			feed(s, src, tickInput{seq: i, current: 3, desired: 4, action: engine.ActionScaleOut,
				reason: engine.ReasonRecommended, cpu: float64(i % 100), outcome: engine.OutcomeApplied})
		}
	})
	for range 20 {
		scrape(t, s)
	}
	wg.Wait()
	fams := scrape(t, s)
	if v, _ := value(fams, "scalepilot_decisions_total", "action", "scale_out", "reason", "recommended"); v != 200 {
		t.Errorf("decisions = %v, want 200", v)
	}
}

// The engine needs the server's observer before it exists, so main sets the
// source after New; until then the endpoints answer as before a decision.
func TestSetSourceAfterNew(t *testing.T) {
	s := New(Options{})
	h := s.Handler()
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz without a source = %d, want 503", code)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz just after New = %d, want 200", code)
	}
	if code, body := get(t, h, "/api/decisions"); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("/api/decisions without a source = %d %s", code, body)
	}
	if code, _ := get(t, h, "/metrics"); code != http.StatusOK {
		t.Errorf("/metrics without a source = %d", code)
	}

	src := &fakeSource{st: engine.Status{ScaleSet: "web-vmss", Decisions: 1, ScaleSetOK: true, ModelOK: true, Max: 7}}
	s.SetSource(src)
	if code, body := get(t, h, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/readyz with a source = %d %s, want 200 ok", code, body)
	}
	if v, _ := value(scrape(t, s), "scalepilot_capacity_max"); v != 7 {
		t.Errorf("capacity max = %v after SetSource, want 7", v)
	}
}
