package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalepilot/scalepilot/engine"
)

// LatencyBuckets are the advisor latency histogram's bucket bounds in
// seconds: a model on a CPU may take minutes, so they reach 5 minutes.
var LatencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 240, 300}

// Label values of scalepilot_advisor_fallbacks_total.
const (
	FallbackModel = "fallback_model" // the primary model failed, the fallback model answered
	FallbackRules = "rules"          // no model answered, the rule advisor did
)

// Label values of scalepilot_advisor_latency_seconds's outcome.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// metrics holds every collector the server exports. All are safe for
// concurrent use and never block for long, so observers may update them.
type metrics struct {
	capCurrent, capDesired, capMin, capMax prometheus.Gauge
	info                                   *prometheus.GaugeVec
	cooldown                               *prometheus.GaugeVec
	inFlight, pending                      prometheus.Gauge
	scaleSetUp, modelUp                    prometheus.Gauge
	mode                                   *prometheus.GaugeVec
	lastDecision, lastTick                 prometheus.Gauge
	decisions                              *prometheus.CounterVec
	actions                                *prometheus.CounterVec
	events                                 *prometheus.CounterVec
	readErrors                             *prometheus.CounterVec
	fallbacks                              *prometheus.CounterVec
	latency                                *prometheus.HistogramVec
	confidence                             *prometheus.GaugeVec
	metricValue, metricAge, metricOK       *prometheus.GaugeVec
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: "scalepilot_" + name, Help: help})
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "scalepilot_" + name, Help: help}, labels)
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scalepilot_" + name, Help: help}, labels)
}

// newMetrics builds the collectors and registers them with reg.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		info: gaugeVec("info", "Always 1; its label names the scale set this process manages.",
			"scale_set"),
		capCurrent: gauge("capacity_current", "Instances the scale set has now."),
		capDesired: gauge("capacity_desired", "Capacity the last decision asked for."),
		capMin:     gauge("capacity_min", "Smallest capacity the guardrails allow."),
		capMax:     gauge("capacity_max", "Largest capacity the guardrails allow."),
		cooldown: gaugeVec("cooldown_remaining_seconds",
			"Engine-time seconds until the direction's cooldown ends (0: none).", "direction"),
		inFlight: gauge("action_in_flight", "1 while a capacity change is being carried out."),
		pending:  gauge("approvals_pending", "Actions waiting for a person's approval."),
		scaleSetUp: gauge("scale_set_up",
			"1 when the last decision read the scale set and its metrics."),
		modelUp: gauge("model_up", "1 when the model answered the last decision."),
		mode:    gaugeVec("mode", "1 for the engine's current mode, 0 for the others.", "mode"),
		lastDecision: gauge("last_decision_timestamp_seconds",
			"Engine time of the last decision, Unix seconds."),
		lastTick: gauge("last_tick_timestamp_seconds",
			"Wall-clock time the last decision started, Unix seconds."),
		decisions: counterVec("decisions_total", "Decisions by action and reason code.",
			"action", "reason"),
		actions: counterVec("actions_total",
			"Capacity changes by direction and outcome (applied, failed, retry_later, interrupted, dry_run).",
			"action", "outcome"),
		events: counterVec("events_total",
			"Event records by type (approval_requested, approved, rejected, expired, action_result).", "type"),
		readErrors: counterVec("read_errors_total",
			"Failed reads by source (scale_set, metrics).", "source"),
		fallbacks: counterVec("advisor_fallbacks_total",
			"Decisions where the primary model did not answer, by who answered instead.", "to"),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scalepilot_advisor_latency_seconds",
			Help:    "Duration of each call to a model, by model and outcome (ok, error).",
			Buckets: LatencyBuckets,
		}, []string{"model", "outcome"}),
		confidence: gaugeVec("advisor_confidence",
			"Confidence of the model's last answer, 0 to 1 (a missing confidence counts as 0).", "model"),
		metricValue: gaugeVec("metric_value",
			"Newest complete bucket of each metric as of the last decision "+
				"(cpu and memory in percent, network in bytes per second or the trace's own scale).",
			"metric"),
		metricAge: gaugeVec("metric_age_seconds",
			"Age of each metric's newest complete bucket at the last decision, engine-time seconds.",
			"metric"),
		metricOK: gaugeVec("metric_available",
			"1 when the metric had a usable value at the last decision.", "metric"),
	}
	reg.MustRegister(m.info, m.capCurrent, m.capDesired, m.capMin, m.capMax, m.cooldown, m.inFlight,
		m.pending, m.scaleSetUp, m.modelUp, m.mode, m.lastDecision, m.lastTick, m.decisions,
		m.actions, m.events, m.readErrors, m.fallbacks, m.latency, m.confidence,
		m.metricValue, m.metricAge, m.metricOK)
	m.initLabels()
	return m
}

// initLabels creates the series whose label values are known in advance, at
// zero, so that rate() and absent() work from the first scrape.
func (m *metrics) initLabels() {
	for _, a := range []engine.Action{engine.ActionScaleOut, engine.ActionScaleIn, engine.ActionHold} {
		for _, r := range engine.Reasons {
			m.decisions.WithLabelValues(string(a), string(r))
		}
	}
	for _, a := range []engine.Action{engine.ActionScaleOut, engine.ActionScaleIn} {
		for _, o := range []string{engine.OutcomeApplied, engine.OutcomeFailed,
			engine.OutcomeRetryLater, engine.OutcomeInterrupted} {
			m.actions.WithLabelValues(string(a), o)
		}
	}
	for _, t := range []string{engine.TypeApproval, engine.TypeApproved, engine.TypeRejected,
		engine.TypeExpired, engine.TypeActionResult} {
		m.events.WithLabelValues(t)
	}
	for _, s := range []string{"scale_set", "metrics"} {
		m.readErrors.WithLabelValues(s)
	}
	for _, to := range []string{FallbackModel, FallbackRules} {
		m.fallbacks.WithLabelValues(to)
	}
	for _, d := range []string{"out", "in"} {
		m.cooldown.WithLabelValues(d)
	}
	for _, md := range []engine.Mode{engine.ModeAuto, engine.ModeApprove, engine.ModeDryRun} {
		m.mode.WithLabelValues(string(md))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// status sets the gauges a status snapshot carries.
func (m *metrics) status(st engine.Status) {
	if st.ScaleSet != "" {
		m.info.WithLabelValues(st.ScaleSet).Set(1)
	}
	if st.Capacity > 0 {
		m.capCurrent.Set(float64(st.Capacity))
	}
	m.capMin.Set(float64(st.Min))
	m.capMax.Set(float64(st.Max))
	m.cooldown.WithLabelValues("out").Set(st.CooldownOutLeft.Seconds())
	m.cooldown.WithLabelValues("in").Set(st.CooldownInLeft.Seconds())
	m.inFlight.Set(b2f(st.InFlight != nil))
	m.pending.Set(float64(st.Pending))
	if st.Decisions > 0 {
		m.scaleSetUp.Set(b2f(st.ScaleSetOK))
		m.modelUp.Set(b2f(st.ModelOK))
	}
	if st.Mode.Valid() {
		for _, md := range []engine.Mode{engine.ModeAuto, engine.ModeApprove, engine.ModeDryRun} {
			m.mode.WithLabelValues(string(md)).Set(b2f(md == st.Mode))
		}
	}
	if !st.LastTickWall.IsZero() {
		m.lastTick.Set(unixSeconds(st.LastTickWall))
	}
}

// metricsRead sets the metric gauges from the summaries a decision used.
func (m *metrics) metricsRead(n engine.MetricsNote) {
	if n.StateErr != nil {
		m.readErrors.WithLabelValues("scale_set").Inc()
	} else if n.State.Capacity > 0 {
		m.capCurrent.Set(float64(n.State.Capacity))
	}
	if n.MetricsErr != nil {
		m.readErrors.WithLabelValues("metrics").Inc()
	}
	for _, name := range engine.MetricNames {
		s := n.Inputs.Get(name)
		label := string(name)
		m.metricOK.WithLabelValues(label).Set(b2f(s.Available))
		if !s.Available {
			// no value is better than an old one that looks current.
			m.metricValue.DeleteLabelValues(label)
			m.metricAge.DeleteLabelValues(label)
			continue
		}
		m.metricValue.WithLabelValues(label).Set(s.Current)
		m.metricAge.WithLabelValues(label).Set(s.AgeSec)
	}
}

// advice records the model's calls, its confidence and any fallback.
func (m *metrics) advice(n engine.AdviceNote) {
	adv := n.Model
	for _, a := range adv.Attempts {
		outcome := OutcomeOK
		if a.Error != "" {
			outcome = OutcomeError
		}
		m.latency.WithLabelValues(modelLabel(a.Model), outcome).Observe(msToSeconds(a.DurationMS))
	}
	if len(adv.Attempts) == 0 && adv.Model != "" && adv.DurationMS > 0 {
		outcome := OutcomeOK
		if n.ModelErr != nil {
			outcome = OutcomeError
		}
		m.latency.WithLabelValues(adv.Model, outcome).Observe(msToSeconds(adv.DurationMS))
	}
	if n.ModelErr != nil {
		m.fallbacks.WithLabelValues(FallbackRules).Inc()
		return
	}
	if adv.Advisor != engine.AdvisorModel || adv.Model == "" {
		return // no model asked
	}
	c := adv.Confidence
	if !adv.HasConfidence {
		c = 0
	}
	m.confidence.WithLabelValues(adv.Model).Set(c)
	for _, a := range adv.Attempts {
		if a.Error != "" && a.Model != adv.Model {
			m.fallbacks.WithLabelValues(FallbackModel).Inc()
			return
		}
	}
}

// decision counts a finished decision.
func (m *metrics) decision(d engine.Decision) {
	m.decisions.WithLabelValues(string(d.Action), string(d.Reason)).Inc()
	m.capDesired.Set(float64(d.Desired))
	m.lastDecision.Set(unixSeconds(d.TS))
}

// event counts an event and, for an action's result, the action.
func (m *metrics) event(ev engine.Event) {
	m.events.WithLabelValues(ev.Type).Inc()
	if ev.Type == engine.TypeActionResult && ev.Outcome != "" {
		m.actions.WithLabelValues(string(engine.ActionFor(ev.From, ev.To)), ev.Outcome).Inc()
	}
}

func modelLabel(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func msToSeconds(ms int64) float64 { return float64(ms) / 1000 }

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
