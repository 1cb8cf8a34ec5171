package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Step makes one decision now, synchronously: read state and metrics, ask the
// advisors, apply the guardrails, act according to the mode, journal. It is
// not to be called while Run runs.
func (e *Engine) Step(ctx context.Context) (Decision, error) {
	if err := e.restore(ctx); err != nil {
		return Decision{}, err
	}
	return e.decide(ctx), nil
}

// decide runs one decision. Errors reading the scale set or the metrics are
// decisions too (they hold, with their reason), never a stop.
func (e *Engine) decide(ctx context.Context) Decision {
	now := e.o.Clock.Now()
	p := e.o.Policy
	e.mu.Lock()
	e.seq++
	seq := e.seq
	mode, models := e.mode, e.models
	var next time.Time
	if e.pacer != nil {
		next = e.pacer.Next()
	}
	e.mu.Unlock()
	e.notify(TickNote{At: now, Seq: seq, Next: next})
	e.expire(ctx)

	state, stateErr := e.o.ScaleSet.State(ctx)
	if stateErr != nil {
		e.log.Warn("scale set read failed", "err", stateErr)
	}
	metrics, metricsErr := e.o.Metrics.Metrics(ctx, MetricsQuery{End: now, Lookback: p.Lookback, Grain: p.Grain})
	if metricsErr != nil {
		e.log.Warn("metrics read failed", "err", metricsErr)
	}
	inputs := Summarize(metrics, now)
	if metricsErr != nil {
		for _, name := range MetricNames {
			s := inputs.Get(name)
			*s = MetricSummary{Err: metricsErr.Error()}
		}
	}
	e.notify(MetricsNote{At: now, State: state, StateErr: stateErr, Metrics: metrics, Inputs: inputs, MetricsErr: metricsErr})
	cur := state.Capacity
	if stateErr == nil && cur > 0 && !state.Updating {
		e.reconcile(ctx, cur) // while the platform is updating, the capacity is not final yet
	}

	e.mu.Lock()
	if stateErr == nil && cur > 0 {
		n := state.Serving
		if n < 1 {
			n = cur
		}
		e.served = keepServed(e.served, now, n, p.Lookback+p.Grain)
	}
	served := e.served
	e.mu.Unlock()
	rules := RuleAdvice(metrics, inputs, cur, p, now, served)
	chosen := rules
	var modelAdv Advice
	var modelErr error
	usable := stateErr == nil && cur > 0 && inputs.CPU.Available
	if e.o.Advisor != nil && usable {
		modelAdv, modelErr = e.askModel(ctx, seq, now, state, metrics, inputs, models)
		if modelErr == nil {
			chosen = modelAdv
		}
	}
	e.notify(AdviceNote{Seq: seq, Model: modelAdv, ModelErr: modelErr, Rules: rules})

	e.mu.Lock()
	in := DecideInput{
		Now: now, Policy: p, Current: cur, StateOK: stateErr == nil,
		Expected: e.expected, InFlight: e.inFlight != nil || state.Updating,
		Inputs: inputs, Advice: chosen, LastAppliedAt: e.persisted.LastAppliedAt,
		RetryNotBefore: e.retryAfter,
	}
	e.mu.Unlock()
	out := Decide(in)

	d := Decision{
		Type: TypeDecision, ID: newID(), TS: now, ScaleSet: e.o.ScaleSetName, Mode: mode,
		Current: cur, Desired: out.Desired, Action: out.Action, Reason: out.Reason, Message: out.Message,
		Advisor: chosen.Advisor, Model: chosen.Model, Recommended: chosen.Recommended,
		RulesRecommended: rules.Recommended, Edits: out.Edits, Inputs: inputs,
		Reasoning: chosen.Reasoning, Notes: chosen.Notes, Attempts: modelAdv.Attempts,
	}
	if d.Edits == nil {
		d.Edits = []Edit{}
	}
	if chosen.Advisor == AdvisorModel {
		c := confidenceOf(chosen)
		d.Confidence = &c
	}
	if modelErr != nil {
		d.Notes = append(d.Notes, "model did not answer: "+modelErr.Error()+"; the rule advisor answered")
	}
	if stateErr != nil {
		d.Error = "read scale set: " + stateErr.Error()
	} else if metricsErr != nil {
		d.Error = "read metrics: " + metricsErr.Error()
	}

	var newBaseline bool
	var st PersistedState
	e.mu.Lock()
	if stateErr == nil && cur > 0 && e.inFlight == nil && !state.Updating {
		// An unexplained change is reported once, then becomes the baseline,
		// also for the next start.
		if e.expected != cur {
			e.expected = cur
			e.persisted.ExpectedCapacity = cur
			newBaseline, st = true, e.persisted
		}
	}
	e.status.ScaleSetOK = stateErr == nil && metricsErr == nil
	e.status.ModelOK = e.o.Advisor != nil && modelErr == nil && modelAdv.Advisor == AdvisorModel
	e.mu.Unlock()
	if newBaseline {
		e.saveState(ctx, st)
	}

	e.act1(ctx, &d, mode)
	return d
}

func (e *Engine) askModel(ctx context.Context, seq int, now time.Time, state ScaleSetState,
	m Metrics, in Inputs, models ModelChoice) (Advice, error) {
	p := e.o.Policy
	e.mu.Lock()
	outLeft, inLeft := e.cooldownsLocked(now)
	last := e.persisted.LastAction
	e.mu.Unlock()
	req := AdviceRequest{
		Now: now, ScaleSet: e.o.ScaleSetName, VMSize: e.o.VMSize, State: state, Metrics: m, Inputs: in,
		Min: p.Min, Max: p.Max, TargetCPU: p.TargetCPU, ScaleOutCPU: p.ScaleOutCPU, ScaleOutMemory: p.ScaleOutMemory,
		CooldownOutLeft: outLeft, CooldownInLeft: inLeft, LastAction: last, Models: models,
		OnToken: func(model, text string) { e.notify(TokenNote{Seq: seq, Model: model, Text: text}) },
	}
	actx := ctx
	if e.o.AdviceTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, e.o.AdviceTimeout)
		defer cancel()
	}
	adv, err := e.o.Advisor.Advise(actx, req)
	if err == nil && adv.Advisor == "" {
		adv.Advisor = AdvisorModel
	}
	return adv, err
}

func (e *Engine) cooldownsLocked(now time.Time) (out, in time.Duration) {
	last := e.persisted.LastAppliedAt
	if last.IsZero() {
		return 0, 0
	}
	return max(0, last.Add(e.o.Policy.CooldownOut).Sub(now)), max(0, last.Add(e.o.Policy.CooldownIn).Sub(now))
}

// act1 acts on a finished decision according to the mode, then records it.
func (e *Engine) act1(ctx context.Context, d *Decision, mode Mode) {
	var follow []Event
	if mode == ModeApprove && d.Action == ActionHold && d.Reason == ReasonNoChange {
		follow = append(follow, e.withdrawApprovals(d)...)
	}
	if mode == ModeDryRun || e.o.ReadOnly {
		// switched to dry-run while cards waited: none of them may apply
		e.dropPending(ctx, because(ExpiredWithdrawn+"the mode is dry-run"), nil)
	}
	if d.Action != ActionHold {
		switch {
		case mode == ModeDryRun || e.o.ReadOnly:
			d.Notes = append(d.Notes, "dry-run: not applied")
		case mode == ModeApprove:
			follow = append(follow, e.queueApproval(d)...)
		default:
			if e.o.SyncApply {
				err := e.applySync(ctx, d)
				follow = append(follow, e.resultEvent(*d, "engine", err, 0))
			} else {
				e.startApply(ctx, *d, "engine")
			}
		}
	}
	e.record(ctx, *d)
	for _, ev := range follow {
		e.journal(ctx, ev)
		e.notify(EventNote{Event: ev})
	}
	e.publish()
}

// record journals a decision and keeps it for Recent and the summary.
func (e *Engine) record(ctx context.Context, d Decision) {
	e.journal(ctx, d)
	e.mu.Lock()
	e.recent = append(e.recent, d)
	if len(e.recent) > maxRecent {
		e.recent = e.recent[len(e.recent)-maxRecent:]
	}
	s := &e.summary
	s.Decisions++
	switch d.Action {
	case ActionScaleOut:
		s.ScaleOuts++
	case ActionScaleIn:
		s.ScaleIns++
	default:
		s.Holds++
	}
	s.ByReason[d.Reason]++
	s.ByAdvisor[d.Advisor]++
	final := d.Current
	if d.Applied {
		final = d.Desired
	}
	noteCapacity(s, d.Current)
	noteCapacity(s, final)
	e.status.LastDecision = &d
	e.status.Capacity = final
	e.status.Decisions = s.Decisions
	e.status.LastTick = d.TS
	e.status.LastTickWall = e.o.Wall.Now()
	e.mu.Unlock()
	e.notify(DecisionNote{Decision: d})
}

// noteCapacity folds a known capacity (not a failed read's 0) into the
// summary: the first one is the start, the latest the final.
func noteCapacity(s *Summary, c int) {
	if c < 1 {
		return
	}
	if s.StartCapacity == 0 {
		s.StartCapacity = c
	}
	if s.MinCapacity == 0 || c < s.MinCapacity {
		s.MinCapacity = c
	}
	s.MaxCapacity = max(s.MaxCapacity, c)
	s.FinalCapacity = c
}

// applySync applies a decision inside the decision (SyncApply).
func (e *Engine) applySync(ctx context.Context, d *Decision) error {
	e.markInFlight(ctx, *d)
	actx, cancel := context.WithTimeout(ctx, e.o.ApplyTimeout)
	defer cancel()
	err := e.act.SetCapacity(actx, d.Desired)
	e.settle(ctx, *d, err)
	d.Applied = err == nil
	if err != nil {
		d.Error = err.Error()
	}
	return err
}

// startApply carries out a decision in the background; the result comes back
// to Run through applyDone.
func (e *Engine) startApply(ctx context.Context, d Decision, by string) {
	e.markInFlight(ctx, d)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.ApplyTimeout)
	start := time.Now()
	go func() {
		defer cancel()
		err := e.act.SetCapacity(actx, d.Desired)
		e.applyDone <- applyResult{dec: d, by: by, err: err, took: time.Since(start), start: start}
	}()
}

// markInFlight records an action as started, in memory and in the state
// file, before the actuator is called: a crash from here on leaves a record
// that the next start checks against the real capacity.
func (e *Engine) markInFlight(ctx context.Context, d Decision) {
	inf := &InFlight{DecisionID: d.ID, From: d.Current, To: d.Desired, StartedAt: e.o.Clock.Now()}
	e.mu.Lock()
	e.inFlight = inf
	e.persisted.InFlight = inf
	st := e.persisted
	e.status.InFlight = inf
	e.mu.Unlock()
	e.saveState(ctx, st)
}

// settle updates the engine after an action's result is known.
func (e *Engine) settle(ctx context.Context, d Decision, err error) {
	now := e.o.Clock.Now()
	e.mu.Lock()
	e.inFlight = nil
	e.status.InFlight = nil
	interrupted := e.persisted.InFlight
	e.persisted.InFlight = nil
	var rl *RetryLaterError
	switch {
	case err == nil:
		// An approved or background action ends after its decision was
		// recorded: the summary and the status learn the new capacity here.
		noteCapacity(&e.summary, d.Current)
		noteCapacity(&e.summary, d.Desired)
		e.status.Capacity = d.Desired
		e.persisted.LastAppliedAt = now
		e.persisted.LastAction = &LastAction{At: now, From: d.Current, To: d.Desired, Outcome: OutcomeApplied}
		e.expected = d.Desired
		e.persisted.ExpectedCapacity = d.Desired
		e.summary.Applied++
		e.retryAfter = time.Time{}
	case errors.As(err, &rl):
		if rl.After > 0 {
			e.retryAfter = now.Add(rl.After)
		}
		e.persisted.LastAction = &LastAction{At: now, From: d.Current, To: d.Desired, Outcome: OutcomeRetryLater}
	case errors.Is(err, ErrDryRun):
	case errors.Is(err, context.Canceled):
		// Stopped while the platform may still carry it out: not a failure,
		// and the state file keeps it for the next start to check.
		e.persisted.InFlight = interrupted
	default:
		e.summary.Failed++
		e.persisted.LastAction = &LastAction{At: now, From: d.Current, To: d.Desired, Outcome: OutcomeFailed}
	}
	st := e.persisted
	e.mu.Unlock()
	e.saveState(ctx, st)
}

func (e *Engine) resultEvent(d Decision, by string, err error, took time.Duration) Event {
	ev := Event{Type: TypeActionResult, DecisionID: d.ID, TS: e.o.Clock.Now(), ScaleSet: e.o.ScaleSetName,
		From: d.Current, To: d.Desired, By: by, Outcome: OutcomeApplied, DurationMS: took.Milliseconds()}
	var rl *RetryLaterError
	switch {
	case err == nil:
	case errors.As(err, &rl):
		ev.Outcome, ev.Error, ev.RetryAfter = OutcomeRetryLater, err.Error(), rl.After.Seconds()
	case errors.Is(err, ErrDryRun):
		ev.Outcome, ev.Error = OutcomeDryRun, err.Error()
	case errors.Is(err, context.Canceled):
		ev.Outcome, ev.Error = OutcomeInterrupted, err.Error()
	default:
		ev.Outcome, ev.Error = OutcomeFailed, err.Error()
	}
	return ev
}

// queueApproval turns a decision into a card that waits for a person. At
// most one card waits: a newer decision with another target supersedes it;
// the same action again only gets a note naming the card that waits; an
// action the operator rejected is not asked again before the longer
// cooldown has passed since (the decision notes it).
func (e *Engine) queueApproval(d *Decision) []Event {
	wall := e.o.Wall.Now()
	var evs []Event
	e.mu.Lock()
	if r := e.rejected; r != nil && r.from == d.Current && r.to == d.Desired {
		// the longer of the two cooldowns: a person said no, and a scale-out
		// the load really needs asks for more than the rejected one did
		cool := max(e.o.Policy.CooldownOut, e.o.Policy.CooldownIn)
		if again := r.at.Add(cool); e.o.Clock.Now().Before(again) {
			e.mu.Unlock()
			d.Notes = append(d.Notes, fmt.Sprintf(NoteRejected+"%d → %d at %s; not asked again before %s",
				r.from, r.to, r.at.Format("15:04:05"), again.Format("15:04:05")))
			return nil
		}
	}
	for _, p := range e.pending {
		if p.Decision.Desired == d.Desired && p.Decision.Current == d.Current {
			e.mu.Unlock()
			d.Notes = append(d.Notes, NoteCardWaits+p.Decision.ID)
			return nil
		}
		evs = append(evs, e.closedEvent(p, d.TS, ExpiredSuperseded+d.ID))
	}
	exp := wall.Add(e.o.ApprovalTTL)
	e.pending = []Pending{{Decision: *d, Expires: exp}}
	e.mu.Unlock()
	evs = append(evs, Event{Type: TypeApproval, DecisionID: d.ID, TS: d.TS, ScaleSet: e.o.ScaleSetName,
		From: d.Current, To: d.Desired, Expires: exp})
	return evs
}

// withdrawApprovals drops the waiting cards once a newer decision finds the
// current capacity right (reason no_change): what they asked for is no
// longer recommended, and a person should not approve it from a stale card.
// A hold for any other reason (cooldown, stale metrics) leaves them.
func (e *Engine) withdrawApprovals(d *Decision) []Event {
	var evs []Event
	for _, p := range e.takePending(nil) {
		evs = append(evs, e.closedEvent(p, d.TS, ExpiredWithdrawn+fmt.Sprintf("decision %s recommends keeping %d", d.ID, d.Current)))
	}
	if len(evs) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("withdrew the waiting card %s", evs[0].DecisionID))
	}
	return evs
}

// publish sends the status and the pending list to observers.
func (e *Engine) publish() {
	st := e.Status()
	e.mu.Lock()
	pend := append([]Pending(nil), e.pending...)
	e.mu.Unlock()
	e.notify(StatusNote{Status: st})
	e.notify(PendingNote{Pending: pend})
}

// Status returns a snapshot of the engine.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.status
	s.Mode, s.Models, s.Pending = e.mode, e.models, len(e.pending)
	s.CooldownOutLeft, s.CooldownInLeft = e.cooldownsLocked(e.o.Clock.Now())
	if e.pacer != nil {
		s.NextDecision = e.pacer.Next()
	}
	return s
}

// Recent returns up to n of the newest decisions, newest first.
func (e *Engine) Recent(n int) []Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	n = min(n, len(e.recent))
	out := make([]Decision, 0, max(n, 0))
	for i := len(e.recent) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, e.recent[i])
	}
	return out
}

// Summary returns the run's totals so far.
func (e *Engine) Summary() Summary {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.summary
	s.TS = e.o.Clock.Now()
	s.Mode = e.mode
	s.ByReason = cloneMap(s.ByReason)
	s.ByAdvisor = cloneMap(s.ByAdvisor)
	return s
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
