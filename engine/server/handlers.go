package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scalepilot/scalepilot/engine"
)

// Limits of /api/decisions?limit=N.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
)

// Readiness values of /readyz and /api/status.
const (
	ReadyOK          = "ok"          // the scale set and the model answer
	ReadyDegraded    = "degraded"    // the model does not answer; the rule advisor serves
	ReadyUnavailable = "unavailable" // the scale set (or the simulator) cannot be read
	ReadyStarting    = "starting"    // no decision yet
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if src, ok := s.source(); ok {
			s.m.status(src.Status()) // cooldowns and the like as of now
		}
		metrics.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("GET /api/decisions", s.decisions)
	return mux
}

// slogPrinter lets promhttp log through the server's logger.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Warn("metrics: " + fmt.Sprint(v...)) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

type errorDoc struct {
	Error string `json:"error"`
}

// healthDoc is the body of /healthz.
type healthDoc struct {
	Status     string    `json:"status"` // ok or stale
	LastTick   time.Time `json:"last_tick,omitzero"`
	AgeSeconds float64   `json:"age_seconds"`
	StaleAfter float64   `json:"stale_after_seconds"`
}

// healthz is 200 while decisions keep starting: the newest of the last
// TickNote seen and the engine's own last tick is younger than StaleAfter.
// Before the first decision the server's start counts as the last tick.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	now := s.o.Wall.Now()
	var last time.Time
	if t := s.lastTick.Load(); t != 0 {
		last = time.Unix(0, t)
	}
	src, _ := s.source()
	if st := src.Status(); st.LastTickWall.After(last) {
		last = st.LastTickWall
	}
	ref := last
	if ref.IsZero() {
		ref = time.Unix(0, s.started.Load()) // no decision yet: count from the start
	}
	age := now.Sub(ref)
	doc := healthDoc{Status: "ok", LastTick: last, AgeSeconds: age.Seconds(),
		StaleAfter: s.o.StaleAfter.Seconds()}
	code := http.StatusOK
	if age > s.o.StaleAfter {
		doc.Status, code = "stale", http.StatusServiceUnavailable
	}
	writeJSON(w, code, doc)
}

// readyDoc is the body of /readyz.
type readyDoc struct {
	Status     string `json:"status"`
	ScaleSetOK bool   `json:"scale_set_ok"`
	ModelOK    bool   `json:"model_ok"`
	Message    string `json:"message"`
}

func readiness(st engine.Status) readyDoc {
	d := readyDoc{ScaleSetOK: st.ScaleSetOK, ModelOK: st.ModelOK}
	switch {
	case st.Decisions == 0 && st.LastDecision == nil:
		d.Status, d.Message = ReadyStarting, "no decision yet"
	case !st.ScaleSetOK:
		d.Status, d.Message = ReadyUnavailable,
			"the scale set or its metrics could not be read at the last decision: decisions hold"
	case !st.ModelOK:
		d.Status, d.Message = ReadyDegraded,
			"the model did not answer the last decision: the rule advisor serves"
	default:
		d.Status, d.Message = ReadyOK, "the scale set and the model answer"
	}
	return d
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	src, _ := s.source()
	d := readiness(src.Status())
	code := http.StatusOK
	if d.Status == ReadyUnavailable || d.Status == ReadyStarting {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, d)
}

// StatusDoc is the body of /api/status: the engine's status plus what the
// server knows.
type StatusDoc struct {
	engine.Status
	Listen                 string  `json:"listen"`
	Ready                  string  `json:"ready"`
	CooldownOutLeftSeconds float64 `json:"cooldown_out_left_seconds"`
	CooldownInLeftSeconds  float64 `json:"cooldown_in_left_seconds"`
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	src, _ := s.source()
	st := src.Status()
	writeJSON(w, http.StatusOK, StatusDoc{
		Status:                 st,
		Listen:                 s.Addr(),
		Ready:                  readiness(st).Status,
		CooldownOutLeftSeconds: st.CooldownOutLeft.Seconds(),
		CooldownInLeftSeconds:  st.CooldownInLeft.Seconds(),
	})
}

func (s *Server) decisions(w http.ResponseWriter, r *http.Request) {
	limit := DefaultLimit
	if v := r.URL.Query().Get("limit"); v != "" || r.URL.Query().Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeJSON(w, http.StatusBadRequest, errorDoc{Error: fmt.Sprintf(
				"limit must be a whole number from 1 to %d, got %q", MaxLimit, v)})
			return
		}
		limit = n
	}
	src, _ := s.source()
	ds := src.Recent(limit)
	if ds == nil {
		ds = []engine.Decision{}
	}
	writeJSON(w, http.StatusOK, ds)
}
