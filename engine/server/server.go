// Package server serves scalepilot's HTTP endpoints for headless runs:
// Prometheus metrics, health and readiness probes, the engine's status and
// its recent decisions.
//
// Endpoints (GET):
//
//	/metrics              Prometheus text format, see below
//	/healthz              200 while the loop ticks; 503 when no decision started for Options.StaleAfter
//	/readyz               200 {"status":"ok"} or {"status":"degraded"} (only the model is
//	                      unreachable: the rule advisor serves); 503 when the scale set or the
//	                      simulator cannot be read, or before the first decision
//	/api/status           the engine's status, the listen address and the readiness
//	/api/decisions?limit=N  up to N (1 to 1000, default 20) newest decision records, newest
//	                      first, in the decision-record schema; a bad limit is a 400
//
// Metrics, all updated from the engine's notifications at every decision
// (the status gauges also at every scrape):
//
//	scalepilot_info{scale_set}                         1, names the scale set
//	scalepilot_capacity_current                        instances now
//	scalepilot_capacity_desired                        what the last decision asked for
//	scalepilot_capacity_min, scalepilot_capacity_max   the guardrails' bounds
//	scalepilot_decisions_total{action,reason}          decisions by action and reason code
//	scalepilot_actions_total{action,outcome}           capacity changes by outcome:
//	                                                   applied, failed, retry_later, interrupted, dry_run
//	scalepilot_events_total{type}                      event records by type
//	scalepilot_advisor_latency_seconds{model,outcome}  histogram of model calls (ok, error), up to 5m
//	scalepilot_advisor_confidence{model}               confidence of the model's last answer
//	scalepilot_advisor_fallbacks_total{to}             primary model failed: fallback_model or rules answered
//	scalepilot_metric_value{metric}                    newest bucket of cpu, memory, network_in, network_out
//	scalepilot_metric_age_seconds{metric}              its age at the decision (engine time)
//	scalepilot_metric_available{metric}                1 when the metric was usable
//	scalepilot_read_errors_total{source}               failed reads of the scale_set or metrics
//	scalepilot_cooldown_remaining_seconds{direction}   out and in, engine time
//	scalepilot_action_in_flight                        1 while a change is carried out
//	scalepilot_approvals_pending                       actions waiting for a person
//	scalepilot_scale_set_up, scalepilot_model_up       1 when the last decision could read / ask them
//	scalepilot_mode{mode}                              1 for the current mode
//	scalepilot_last_decision_timestamp_seconds         engine time of the last decision
//	scalepilot_last_tick_timestamp_seconds             wall-clock time of the last decision
//
// With a fresh registry the Go runtime and process collectors are exported too.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scalepilot/scalepilot/engine"
)

// Source is what the server reads from the engine. *engine.Engine
// satisfies it.
type Source interface {
	Status() engine.Status
	Recent(n int) []engine.Decision
}

var _ Source = (*engine.Engine)(nil)

// Options configures a Server.
type Options struct {
	// Addr is the address to listen on, exactly as given (such as
	// 127.0.0.1:9464); port 0 picks a free port, which Start returns.
	Addr string
	// Listener, when set, is already bound (to Addr) and Start serves on it
	// instead of binding: a caller can then fail on a bad address before
	// doing anything else. The server closes it when it stops.
	Listener net.Listener
	// Source is the engine. When the engine is built after the server (it
	// needs the server's Observer first), leave it nil and call SetSource;
	// until then the endpoints answer as before the first decision.
	Source Source
	// Logger receives the server's logs; nil discards.
	Logger *slog.Logger
	// Registry receives the scalepilot_* collectors; nil means a fresh
	// registry, which also gets the Go and process collectors. New panics if
	// the registry already holds scalepilot metrics.
	Registry prometheus.Registerer
	// Gatherer is what /metrics serves; nil means Registry when it is a
	// Gatherer (a *prometheus.Registry is), else prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Interval is the wall-clock time between decisions: the policy
	// interval live, the trace step divided by the speed in the demo.
	Interval time.Duration
	// StaleAfter is how long /healthz waits for a decision to start before
	// it reports 503; 0 means 2 × Interval + 5m (room for a slow model).
	StaleAfter time.Duration
	// Wall is the wall clock for /healthz; nil means time.Now.
	Wall engine.Clock
}

// Server serves the HTTP endpoints and turns the engine's notifications
// into metrics.
type Server struct {
	o        Options
	log      *slog.Logger
	m        *metrics
	gatherer prometheus.Gatherer
	handler  http.Handler

	started  atomic.Int64 // wall-clock Unix nanoseconds: New, then Start
	lastTick atomic.Int64 // wall-clock Unix nanoseconds of the last TickNote
	addr     atomic.Value // string, once Start has bound
	src      atomic.Pointer[sourceBox]

	mu       sync.Mutex
	running  bool
	done     chan struct{}
	serveErr error
}

// New builds a Server and registers its metrics.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Wall == nil {
		o.Wall = engine.ClockFunc(time.Now)
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 2*o.Interval + 5*time.Minute
	}
	reg := o.Registry
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	g := o.Gatherer
	if g == nil {
		if rg, ok := reg.(prometheus.Gatherer); ok {
			g = rg
		} else {
			g = prometheus.DefaultGatherer
		}
	}
	s := &Server{o: o, log: o.Logger, m: newMetrics(reg), gatherer: g}
	s.started.Store(o.Wall.Now().UnixNano())
	s.addr.Store("")
	if o.Source != nil {
		s.SetSource(o.Source)
	}
	s.handler = s.routes()
	return s
}

type sourceBox struct{ Source }

// SetSource sets the engine the endpoints read. It is safe to call while
// the server serves.
func (s *Server) SetSource(src Source) { s.src.Store(&sourceBox{src}) }

// source returns the engine, or a stand-in with a zero status before
// SetSource.
func (s *Server) source() (Source, bool) {
	if b := s.src.Load(); b != nil && b.Source != nil {
		return b.Source, true
	}
	return noSource{}, false
}

type noSource struct{}

func (noSource) Status() engine.Status        { return engine.Status{} }
func (noSource) Recent(int) []engine.Decision { return nil }

// Observer returns the observer to pass to the engine (engine.Options.Observer,
// or fanned out with other observers). It never blocks.
func (s *Server) Observer() engine.Observer { return engine.ObserverFunc(s.notify) }

func (s *Server) notify(n engine.Notification) {
	switch n := n.(type) {
	case engine.TickNote:
		s.lastTick.Store(s.o.Wall.Now().UnixNano())
	case engine.MetricsNote:
		s.m.metricsRead(n)
	case engine.AdviceNote:
		s.m.advice(n)
	case engine.DecisionNote:
		s.m.decision(n.Decision)
	case engine.EventNote:
		s.m.event(n.Event)
	case engine.StatusNote:
		s.m.status(n.Status)
	}
}

// Handler returns the server's routes, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the bound address once Start has succeeded, else "".
func (s *Server) Addr() string { return s.addr.Load().(string) }

// Start binds Options.Addr and serves in the background until ctx ends,
// then shuts down gracefully (open requests get up to 5 seconds). It returns
// the bound address, which with port 0 is the real port, and logs it.
func (s *Server) Start(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return "", fmt.Errorf("start http server on %s: already started", s.o.Addr)
	}
	ln := s.o.Listener
	if ln == nil {
		if s.o.Addr == "" {
			return "", errors.New("start http server: no listen address given (--listen)")
		}
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", s.o.Addr); err != nil {
			return "", fmt.Errorf("listen on %s: %w (choose another --listen address, or stop what uses it)",
				s.o.Addr, err)
		}
	}
	addr := ln.Addr().String()
	s.addr.Store(addr)
	s.started.Store(s.o.Wall.Now().UnixNano())
	s.running = true
	s.done = make(chan struct{})
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("http server listening", "addr", addr)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() {
		var err error
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err = srv.Shutdown(sctx)
			cancel()
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
		case err = <-served:
		}
		if err != nil {
			err = fmt.Errorf("http server on %s: %w", addr, err)
			s.log.Error("http server stopped", "addr", addr, "err", err)
		} else {
			s.log.Info("http server stopped", "addr", addr)
		}
		s.mu.Lock()
		s.serveErr = err
		s.mu.Unlock()
		close(s.done)
	}()
	return addr, nil
}

// Wait blocks until the server started by Start has shut down and returns
// what went wrong, if anything. It returns at once when Start was not called.
func (s *Server) Wait() error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveErr
}
