package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// wall0 is the wall clock at the start of every test: unrelated to engine
// time on purpose (the demo runs on trace time).
var wall0 = time.Date(2031, 3, 9, 8, 30, 0, 0, time.UTC)

type fixture struct {
	clock, wall *manualClock
	ss          *fakeScaleSet
	mx          *fakeMetrics
	adv         *fakeAdvisor
	j           *memJournal
	st          *memState
	notes       *noteRecorder
	e           *Engine
	o           Options
}

// newFixture builds an engine in auto mode, applying synchronously, on a
// scale set of 4 instances carrying 2 instances of demand (50% CPU: the rule
// advisor holds). mod may change the options before New.
func newFixture(t *testing.T, mod func(f *fixture)) *fixture {
	t.Helper()
	f := &fixture{
		clock: newClock(t0), wall: newClock(wall0),
		ss: &fakeScaleSet{name: "vmss-test", capacity: 4},
		j:  &memJournal{}, st: &memState{}, notes: newNoteRecorder(t),
	}
	f.mx = &fakeMetrics{ss: f.ss, demand: 2, mem: 40}
	f.o = Options{
		ScaleSetName: "vmss-test", Mode: ModeAuto, Policy: DefaultPolicy(),
		Models: ModelChoice{Primary: "llama3:8b", Fallback: "mistral:7b"},
		Clock:  f.clock, Wall: f.wall, ScaleSet: f.ss, Metrics: f.mx,
		Journal: f.j, State: f.st, Observer: f.notes, SyncApply: true,
	}
	if mod != nil {
		mod(f)
	}
	if f.adv != nil && f.o.Advisor == nil {
		f.o.Advisor = f.adv
	}
	e, err := New(f.o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.e = e
	return f
}

// restart builds a second engine on the same state store, as after a crash.
func (f *fixture) restart(t *testing.T, mod func(o *Options)) *Engine {
	t.Helper()
	o := f.o
	if mod != nil {
		mod(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	return e
}

func (f *fixture) step(t *testing.T) Decision {
	t.Helper()
	return step(t, f.e)
}

func step(t *testing.T, e *Engine) Decision {
	t.Helper()
	d, err := e.Step(context.Background())
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	return d
}

// run starts Run in the background; stop cancels it and returns Run's error.
func (f *fixture) run(t *testing.T, p Pacer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.e.Run(ctx, p) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Error("Run did not stop within 5s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func (f *fixture) tickDecision(t *testing.T, p *testPacer) Decision {
	t.Helper()
	p.tick <- struct{}{}
	return f.notes.waitDecision(t)
}

func checkCalls(t *testing.T, ss *fakeScaleSet, want ...int) {
	t.Helper()
	if got := ss.Calls(); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("SetCapacity calls %v, want %v", got, want)
	}
}

func onlyEvent(t *testing.T, j *memJournal, typ string) Event {
	t.Helper()
	evs := j.Events(typ)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1: %+v", len(evs), typ, evs)
	}
	return evs[0]
}

func TestNewChecksOptions(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"min below 1", func(o *Options) { o.Policy.Min = 0 }, "min_instances"},
		{"max below min", func(o *Options) { o.Policy.Max = 1 }, "max_instances"},
		{"bad mode", func(o *Options) { o.Mode = "yolo" }, "mode"},
		{"no scale set", func(o *Options) { o.ScaleSet = nil }, "ScaleSet"},
		{"no clock", func(o *Options) { o.Clock = nil }, "Clock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := f.o
			tc.mod(&o)
			if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestAutoApplies(t *testing.T) {
	f := newFixture(t, nil)
	f.mx.SetDemand(3.6) // 90% on 4: the rules want 6
	d := f.step(t)
	if d.Action != ActionScaleOut || d.Desired != 6 || !d.Applied || d.Reason != ReasonRecommended {
		t.Fatalf("decision %s %d applied=%v reason %s, want an applied scale-out to 6", d.Action, d.Desired, d.Applied, d.Reason)
	}
	if d.Advisor != AdvisorRules || d.RulesRecommended != 6 || d.Confidence != nil {
		t.Errorf("advisor %q rules %d confidence %v", d.Advisor, d.RulesRecommended, d.Confidence)
	}
	checkCalls(t, f.ss, 6)
	if ev := onlyEvent(t, f.j, TypeActionResult); ev.Outcome != OutcomeApplied || ev.DecisionID != d.ID {
		t.Errorf("result event %+v", ev)
	}
	if ds := f.j.Decisions(); len(ds) != 1 || ds[0].ID != d.ID || !ds[0].Applied {
		t.Errorf("journal decisions %+v", ds)
	}
	if s := f.e.Summary(); s.Applied != 1 || s.FinalCapacity != 6 || s.ScaleOuts != 1 {
		t.Errorf("summary %+v", s)
	}
	if st := f.e.Status(); st.Capacity != 6 || st.CooldownOutLeft != 5*time.Minute || st.CooldownInLeft != 15*time.Minute {
		t.Errorf("status capacity %d cooldowns %s/%s", st.Capacity, st.CooldownOutLeft, st.CooldownInLeft)
	}
}

func approveFixture(t *testing.T, sync bool) (*fixture, *testPacer, func() error) {
	f := newFixture(t, func(f *fixture) { f.o.Mode, f.o.SyncApply = ModeApprove, sync })
	f.mx.SetDemand(3.6)
	p := &testPacer{tick: make(chan struct{}), clock: f.clock, step: 5 * time.Minute}
	return f, p, f.run(t, p)
}

// card ticks one decision and returns it with its approval request.
func card(t *testing.T, f *fixture, p *testPacer) (Decision, Event) {
	t.Helper()
	d := f.tickDecision(t, p)
	ev := f.notes.waitEvent(t, TypeApproval)
	if d.Action != ActionScaleOut || d.Applied || ev.DecisionID != d.ID {
		t.Fatalf("decision %+v, request %+v: want a scale-out waiting for approval", d, ev)
	}
	return d, ev
}

func TestApproveQueuesACard(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(map[bool]string{true: "sync", false: "async"}[sync], func(t *testing.T) {
			f, p, stop := approveFixture(t, sync)
			d, req := card(t, f, p)
			if !req.Expires.Equal(wall0.Add(5*time.Minute)) || req.To != 6 || req.From != 4 {
				t.Errorf("request %+v: want 4 -> 6 expiring at wall+5m", req)
			}
			if st := f.e.Status(); st.Pending != 1 {
				t.Errorf("status pending %d, want 1", st.Pending)
			}
			checkCalls(t, f.ss)

			if err := f.e.Approve(d.ID); err != nil {
				t.Fatalf("Approve: %v", err)
			}
			if ev := f.notes.waitEvent(t, TypeActionResult); ev.Outcome != OutcomeApplied || ev.By != "operator" {
				t.Errorf("result %+v", ev)
			}
			checkCalls(t, f.ss, 6)
			onlyEvent(t, f.j, TypeApproved)
			if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
				t.Errorf("second Approve = %v, want ErrUnknownID", err)
			}
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
			checkCalls(t, f.ss, 6)
			if s := f.e.Summary(); s.Applied != 1 || s.FinalCapacity != 6 || s.MaxCapacity != 6 {
				t.Errorf("summary applied %d final %d max %d, want 1 6 6", s.Applied, s.FinalCapacity, s.MaxCapacity)
			}
			if st := f.e.Status(); st.Capacity != 6 || st.Pending != 0 {
				t.Errorf("status capacity %d pending %d, want 6 0", st.Capacity, st.Pending)
			}
		})
	}
}

func TestRejectDoesNotApply(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	if err := f.e.Reject(d.ID); err != nil {
		t.Fatalf("Reject: %v", err)
	}
	if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Approve after Reject = %v, want ErrUnknownID", err)
	}
	_ = stop()
	checkCalls(t, f.ss)
	onlyEvent(t, f.j, TypeRejected)
	if f.ss.Capacity() != 4 {
		t.Errorf("capacity %d after a rejection", f.ss.Capacity())
	}
}

// A rejected action is not asked again before the longer cooldown (15
// minutes) has passed since the rejection.
func TestRejectedActionIsNotAskedAgainAtOnce(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p) // 4 -> 6
	rejectedAt := f.clock.Now()
	if err := f.e.Reject(d.ID); err != nil {
		t.Fatal(err)
	}
	for f.clock.Now().Before(rejectedAt.Add(10 * time.Minute)) {
		d2 := f.tickDecision(t, p)
		if !strings.Contains(strings.Join(d2.Notes, ";"), "the operator rejected 4 → 6") {
			t.Errorf("decision at %s: notes %q, want the rejection named", d2.TS.Format("15:04"), d2.Notes)
		}
	}
	if st := f.e.Status(); st.Pending != 0 {
		t.Errorf("pending %d within the cooldown, want 0", st.Pending)
	}
	d3, _ := card(t, f, p) // 15 minutes on: asked again
	if d3.Current != 4 || d3.Desired != 6 {
		t.Errorf("asked again for %d -> %d", d3.Current, d3.Desired)
	}
	_ = stop()
	checkCalls(t, f.ss)
	if n := len(f.j.Events(TypeApproval)); n != 2 {
		t.Errorf("%d approval requests, want 2", n)
	}
}

func TestUnansweredCardExpiresOnTheWallClock(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)

	// Engine time racing ahead (a fast demo) does not expire the card.
	f.clock.Advance(time.Hour)
	if err := f.e.Approve("nope"); !errors.Is(err, ErrUnknownID) {
		t.Fatalf("Approve(unknown) = %v", err)
	}
	if evs := f.j.Events(TypeExpired); len(evs) != 0 {
		t.Fatalf("expired on engine time: %+v", evs)
	}

	f.wall.Advance(5*time.Minute + time.Second)
	if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Approve after expiry = %v, want ErrUnknownID", err)
	}
	_ = stop()
	checkCalls(t, f.ss)
	if ev := onlyEvent(t, f.j, TypeExpired); ev.DecisionID != d.ID {
		t.Errorf("expired event %+v, want decision %s", ev, d.ID)
	}
}

func TestExpiredCardIsDroppedAtTheNextDecision(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	f.wall.Advance(6 * time.Minute)
	d2, _ := card(t, f, p) // the same action again, on a fresh card
	_ = stop()
	if d2.ID == d.ID {
		t.Fatal("no new decision")
	}
	evs := f.j.Events(TypeExpired)
	if len(evs) != 2 || evs[0].DecisionID != d.ID || !strings.Contains(evs[0].Error, "nobody answered") {
		t.Fatalf("expired events %+v, want the first card expired unanswered", evs)
	}
	if evs[1].DecisionID != d2.ID || !strings.Contains(evs[1].Error, "stopped") {
		t.Errorf("expired event %+v, want the second card closed at stop", evs[1])
	}
	checkCalls(t, f.ss)
}

// The first decision in dry-run withdraws the cards that still wait.
func TestDryRunDecisionWithdrawsWaitingCards(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	if err := f.e.SetMode(ModeDryRun); err != nil {
		t.Fatal(err)
	}
	f.tickDecision(t, p)
	if st := f.e.Status(); st.Pending != 0 {
		t.Errorf("pending %d after a dry-run decision, want 0", st.Pending)
	}
	_ = stop()
	if ev := onlyEvent(t, f.j, TypeExpired); ev.DecisionID != d.ID || ev.Error != "withdrawn: the mode is dry-run" {
		t.Errorf("expired event %+v", ev)
	}
	checkCalls(t, f.ss)
}

// A card lives in memory: stopping closes it in the journal, unapplied.
func TestStopClosesWaitingCards(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ev := onlyEvent(t, f.j, TypeExpired)
	if ev.DecisionID != d.ID || ev.Error != "scalepilot stopped; not applied" {
		t.Errorf("expired event %+v", ev)
	}
	checkCalls(t, f.ss)
}

// A manual scale that lands withdraws the card made for the old capacity.
func TestManualScaleWithdrawsTheStaleCard(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(map[bool]string{true: "sync", false: "async"}[sync], func(t *testing.T) {
			f, p, stop := approveFixture(t, sync)
			d, _ := card(t, f, p)
			if err := f.e.ScaleTo(9); err != nil {
				t.Fatal(err)
			}
			ev := f.notes.waitEvent(t, TypeExpired)
			if ev.DecisionID != d.ID || !strings.HasPrefix(ev.Error, "capacity is 9 now, not the 4") {
				t.Errorf("expired event %+v", ev)
			}
			if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
				t.Errorf("Approve(stale) = %v, want ErrUnknownID", err)
			}
			_ = stop()
			checkCalls(t, f.ss, 9)
		})
	}
}

func TestSameActionDoesNotQueueTwice(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	d2 := f.tickDecision(t, p)
	_ = stop()
	if n := len(f.j.Events(TypeApproval)); n != 1 {
		t.Errorf("%d approval requests for the same action, want 1", n)
	}
	if !strings.Contains(strings.Join(d2.Notes, ";"), d.ID) {
		t.Errorf("second decision's notes %q do not name the waiting card %s", d2.Notes, d.ID)
	}
}

func TestNewerCardSupersedes(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	f.mx.SetDemand(6) // 100%: the rules now want 8
	d2, _ := card(t, f, p)
	if d2.Desired != 8 {
		t.Fatalf("second card wants %d, want 8", d2.Desired)
	}
	if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Approve(superseded) = %v, want ErrUnknownID", err)
	}
	if err := f.e.Approve(d2.ID); err != nil {
		t.Errorf("Approve(newest) = %v", err)
	}
	_ = stop()
	checkCalls(t, f.ss, 8)
	if ev := onlyEvent(t, f.j, TypeExpired); ev.DecisionID != d.ID || !strings.Contains(ev.Error, "superseded") {
		t.Errorf("expired event %+v", ev)
	}
}

// A card whose action the advisor no longer recommends is withdrawn; a hold
// for another reason leaves it waiting.
func TestNoChangeWithdrawsTheWaitingCard(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	f.mx.SetDemand(2) // 50%: the rules want the current 4 again
	d2 := f.tickDecision(t, p)
	if d2.Reason != ReasonNoChange {
		t.Fatalf("second decision %s, want no_change", d2.Reason)
	}
	if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Approve(withdrawn) = %v, want ErrUnknownID", err)
	}
	_ = stop()
	checkCalls(t, f.ss)
	ev := onlyEvent(t, f.j, TypeExpired)
	if ev.DecisionID != d.ID || !strings.Contains(ev.Error, "withdrawn") || !strings.Contains(ev.Error, d2.ID) {
		t.Errorf("expired event %+v", ev)
	}
	if !strings.Contains(strings.Join(d2.Notes, ";"), d.ID) {
		t.Errorf("notes %q do not name the withdrawn card", d2.Notes)
	}
	if st := f.e.Status(); st.Pending != 0 {
		t.Errorf("pending %d, want 0", st.Pending)
	}
}

func TestApprovingAStaleCardIsRefused(t *testing.T) {
	f, p, stop := approveFixture(t, true)
	d, _ := card(t, f, p)
	f.ss.SetCap(9) // someone scaled by hand while the card waited
	if err := f.e.Approve(d.ID); !errors.Is(err, ErrCapacityChanged) {
		t.Errorf("Approve of a card made for 4 instances on 9 = %v, want ErrCapacityChanged", err)
	}
	if err := f.e.Approve(d.ID); !errors.Is(err, ErrUnknownID) {
		t.Errorf("the stale card was kept: second Approve = %v", err)
	}
	_ = stop()
	checkCalls(t, f.ss)
	if ev := onlyEvent(t, f.j, TypeExpired); ev.DecisionID != d.ID {
		t.Errorf("expired event %+v", ev)
	}
	if f.ss.Capacity() != 9 {
		t.Errorf("capacity %d, want 9 untouched", f.ss.Capacity())
	}
}

func TestDryRunDecidesButNeverApplies(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.Mode = ModeDryRun })
	f.mx.SetDemand(3.6)
	for i := range 3 {
		d := f.step(t)
		if d.Action != ActionScaleOut || d.Applied || d.Mode != ModeDryRun {
			t.Errorf("decision %d: %s applied=%v mode %s", i, d.Action, d.Applied, d.Mode)
		}
		f.clock.Advance(5 * time.Minute)
	}
	checkCalls(t, f.ss)
	if n := len(f.j.Decisions()); n != 3 {
		t.Errorf("%d decisions journaled, want 3", n)
	}
	if s := f.e.Summary(); s.Applied != 0 || s.ScaleOuts != 3 || s.FinalCapacity != 4 {
		t.Errorf("summary %+v", s)
	}
}

func TestActuatorEnforcesDryRun(t *testing.T) {
	ctx := context.Background()
	t.Run("mode", func(t *testing.T) {
		f := newFixture(t, func(f *fixture) { f.o.Mode = ModeDryRun })
		if err := f.e.act.SetCapacity(ctx, 6); !errors.Is(err, ErrDryRun) {
			t.Errorf("actuator in dry-run = %v, want ErrDryRun", err)
		}
		d := Decision{ID: "x", Current: 4, Desired: 6, Action: ActionScaleOut}
		if err := f.e.applySync(ctx, &d); !errors.Is(err, ErrDryRun) || d.Applied {
			t.Errorf("applySync in dry-run = %v applied=%v", err, d.Applied)
		}
		checkCalls(t, f.ss)
	})
	t.Run("read-only whatever the mode", func(t *testing.T) {
		f := newFixture(t, func(f *fixture) { f.o.Mode, f.o.ReadOnly = ModeAuto, true })
		f.mx.SetDemand(3.6)
		if err := f.e.act.SetCapacity(ctx, 6); !errors.Is(err, ErrDryRun) {
			t.Errorf("read-only actuator = %v, want ErrDryRun", err)
		}
		if d := f.step(t); d.Applied || d.Action != ActionScaleOut {
			t.Errorf("read-only decision %s applied=%v", d.Action, d.Applied)
		}
		if err := f.e.SetMode(ModeAuto); err == nil {
			t.Error("SetMode(auto) accepted on a read-only engine")
		}
		checkCalls(t, f.ss)
	})
}

func TestDryRunSwitchWhileCardWaits(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(map[bool]string{true: "sync", false: "async"}[sync], func(t *testing.T) {
			f, p, stop := approveFixture(t, sync)
			d, _ := card(t, f, p)
			if err := f.e.SetMode(ModeDryRun); err != nil {
				t.Fatal(err)
			}
			if err := f.e.Approve(d.ID); !errors.Is(err, ErrDryRun) {
				t.Errorf("Approve in dry-run = %v, want ErrDryRun (nothing applied)", err)
			}
			if ev := onlyEvent(t, f.j, TypeExpired); ev.DecisionID != d.ID || !strings.Contains(ev.Error, "dry-run") {
				t.Errorf("expired event %+v, want the card withdrawn for dry-run", ev)
			}
			_ = stop()
			checkCalls(t, f.ss)
			if f.ss.Capacity() != 4 {
				t.Errorf("capacity %d after approving in dry-run", f.ss.Capacity())
			}
			if s := f.e.Summary(); s.Applied != 0 {
				t.Errorf("summary counts %d applied", s.Applied)
			}
		})
	}
}

func TestModelAnswerIsGatedAndRecordedBesideTheRules(t *testing.T) {
	cases := []struct {
		name    string
		advice  Advice
		err     error
		desired int
		advisor string
		reason  Reason
	}{
		{"confident model is followed", Advice{Recommended: 7, Confidence: 0.9, HasConfidence: true, Model: "llama3:8b"},
			nil, 7, AdvisorModel, ReasonRecommended},
		{"unsure model holds", Advice{Recommended: 7, Confidence: 0.3, HasConfidence: true, Model: "llama3:8b"},
			nil, 4, AdvisorModel, ReasonLowConfidence},
		{"model without confidence holds", Advice{Recommended: 7, Model: "llama3:8b"},
			nil, 4, AdvisorModel, ReasonLowConfidence},
		{"failed model: the rules answer", Advice{Attempts: []Attempt{
			{Model: "llama3:8b", Try: 1, Error: "connection refused"},
			{Model: "mistral:7b", Try: 1, Error: "connection refused"}}},
			errors.New("no model answered"), 6, AdvisorRules, ReasonRecommended},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(f *fixture) { f.adv = &fakeAdvisor{advice: tc.advice, err: tc.err} })
			f.mx.SetDemand(3.6) // the rules want 6
			d := f.step(t)
			if d.Desired != tc.desired || d.Advisor != tc.advisor || d.Reason != tc.reason {
				t.Errorf("desired %d advisor %s reason %s, want %d %s %s",
					d.Desired, d.Advisor, d.Reason, tc.desired, tc.advisor, tc.reason)
			}
			if d.RulesRecommended != 6 {
				t.Errorf("rules_recommended %d, want 6 on every decision", d.RulesRecommended)
			}
			if tc.err != nil {
				if !reflect.DeepEqual(d.Attempts, tc.advice.Attempts) {
					t.Errorf("attempts %+v, want %+v", d.Attempts, tc.advice.Attempts)
				}
				if !strings.Contains(strings.Join(d.Notes, ";"), "no model answered") || d.Confidence != nil {
					t.Errorf("notes %q confidence %v", d.Notes, d.Confidence)
				}
			} else if d.Confidence == nil || *d.Confidence != map[bool]float64{true: tc.advice.Confidence}[tc.advice.HasConfidence] {
				t.Errorf("confidence %v", d.Confidence)
			}
			req := f.adv.last
			if req.Min != 2 || req.Max != 10 || req.TargetCPU != 60 || req.State.Capacity != 4 ||
				req.Models.Fallback != "mistral:7b" || !req.Inputs.CPU.Available ||
				req.ScaleOutCPU != 75 || req.ScaleOutMemory != 80 {
				t.Errorf("advice request %+v", req)
			}
		})
	}
}

func TestRetryLaterHoldsUntilAfter(t *testing.T) {
	f := newFixture(t, nil)
	f.mx.SetDemand(3.6)
	refused := false
	f.ss.setErr = func(n int) error {
		if !refused {
			refused = true
			return &RetryLaterError{After: 10 * time.Minute, Code: "OperationNotAllowed", Err: errors.New("busy")}
		}
		return nil
	}
	d := f.step(t)
	if d.Applied || f.ss.Capacity() != 4 {
		t.Fatalf("refused action counted as applied: %+v", d)
	}
	if ev := onlyEvent(t, f.j, TypeActionResult); ev.Outcome != OutcomeRetryLater || ev.RetryAfter != 600 {
		t.Errorf("result %+v, want retry_later after 600s", ev)
	}
	f.clock.Advance(5 * time.Minute)
	if d := f.step(t); d.Action != ActionHold || d.Reason != ReasonCooldown {
		t.Errorf("before After: %s %s, want a cooldown hold", d.Action, d.Reason)
	}
	checkCalls(t, f.ss, 6)
	f.clock.Advance(6 * time.Minute)
	if d := f.step(t); !d.Applied || d.Desired != 6 {
		t.Errorf("after After: %s %d applied=%v, want applied 6", d.Action, d.Desired, d.Applied)
	}
	checkCalls(t, f.ss, 6, 6)
	if s := f.e.Summary(); s.Applied != 1 || s.Failed != 0 {
		t.Errorf("summary applied %d failed %d", s.Applied, s.Failed)
	}
}

func TestFailingSetCapacity(t *testing.T) {
	f := newFixture(t, nil)
	f.mx.SetDemand(3.6)
	f.ss.setErr = func(int) error { return errors.New("quota exceeded") }
	d := f.step(t)
	if d.Applied || !strings.Contains(d.Error, "quota exceeded") {
		t.Errorf("decision applied=%v error %q", d.Applied, d.Error)
	}
	if ev := onlyEvent(t, f.j, TypeActionResult); ev.Outcome != OutcomeFailed {
		t.Errorf("result %+v, want failed", ev)
	}
	if s := f.e.Summary(); s.Failed != 1 || s.Applied != 0 || s.FinalCapacity != 4 {
		t.Errorf("summary %+v", s)
	}
	if st := f.e.Status(); st.CooldownOutLeft != 0 {
		t.Errorf("a failed action started a cooldown: %s", st.CooldownOutLeft)
	}
}

func TestCooldownSurvivesRestart(t *testing.T) {
	f := newFixture(t, nil)
	f.mx.SetDemand(6) // 100% on 4: the rules want 8
	if d := f.step(t); !d.Applied || d.Desired != 8 {
		t.Fatalf("first decision %+v", d)
	}
	if st := f.st.Get(); !st.LastAppliedAt.Equal(t0) || st.ExpectedCapacity != 8 || st.InFlight != nil {
		t.Fatalf("persisted %+v", st)
	}
	f.clock.Advance(2 * time.Minute) // 75% on 8: the rules want 10

	d := step(t, f.restart(t, nil))
	if d.Action != ActionHold || d.Reason != ReasonCooldown {
		t.Errorf("after restart: %s %s, want a cooldown hold", d.Action, d.Reason)
	}
	checkCalls(t, f.ss, 8)

	// Without the state store the same decision would act: the test can fail.
	d = step(t, f.restart(t, func(o *Options) { o.State = nil }))
	if !d.Applied {
		t.Errorf("control without state: %s %s", d.Action, d.Reason)
	}
}

func TestDriftReportedOnceAcrossRestart(t *testing.T) {
	f := newFixture(t, nil)
	f.mx.SetDemand(6)
	f.step(t) // 4 -> 8, persisted
	f.ss.SetCap(5)
	f.clock.Advance(time.Hour)
	if d := f.step(t); d.Reason != ReasonCapacityDrift {
		t.Fatalf("first read of 5: %s, want capacity_drift", d.Reason)
	}
	if got := f.st.Get().ExpectedCapacity; got != 5 {
		t.Errorf("persisted expected capacity %d, want the new baseline 5", got)
	}
	if d := step(t, f.restart(t, nil)); d.Reason == ReasonCapacityDrift {
		t.Errorf("the same change reported again after a restart: %s", d.Message)
	}
}

// crash starts an asynchronous scale-out 4 -> 8 that never finishes and
// returns the fixture whose state store holds it as in flight.
func crash(t *testing.T) (*fixture, Decision) {
	f := newFixture(t, func(f *fixture) { f.o.SyncApply = false })
	f.mx.SetDemand(6)
	f.ss.block = make(chan struct{})
	t.Cleanup(func() { close(f.ss.block) })
	d := f.step(t)
	inf := f.st.Get().InFlight
	if inf == nil || inf.DecisionID != d.ID || inf.From != 4 || inf.To != 8 {
		t.Fatalf("in-flight action not persisted before it started: %+v", f.st.Get())
	}
	return f, d
}

func TestInFlightActionReconciledAfterCrash(t *testing.T) {
	cases := []struct {
		name     string
		capacity int
		updating bool
		outcome  string
		reason   Reason
	}{
		{"the platform finished it", 8, false, OutcomeApplied, ReasonCooldown},
		{"the platform never did it", 4, false, OutcomeInterrupted, ReasonRecommended},
		{"the platform is still at it", 4, true, "", ReasonInFlight},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, d := crash(t)
			f.clock.Advance(time.Minute)
			ss := &fakeScaleSet{name: "vmss-test", capacity: tc.capacity, updating: tc.updating}
			mx := &fakeMetrics{ss: ss, demand: 6, mem: 40} // 75% on 8, 100% on 4: the rules want more
			j := &memJournal{}
			e := f.restart(t, func(o *Options) {
				o.ScaleSet, o.Metrics, o.Journal, o.Observer = ss, mx, j, nil
				if tc.capacity == 4 {
					o.Mode = ModeDryRun // a new decision may want to scale: keep it from acting
				}
			})
			got := step(t, e)
			checkCalls(t, ss)
			if got.Reason != tc.reason || got.Applied {
				t.Errorf("decision after restart: %s %s, want %s", got.Action, got.Reason, tc.reason)
			}
			evs := j.Events(TypeActionResult)
			if tc.outcome == "" {
				if len(evs) != 0 || f.st.Get().InFlight == nil {
					t.Errorf("settled while the platform was still updating: %+v", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].DecisionID != d.ID || evs[0].Outcome != tc.outcome {
				t.Fatalf("results %+v, want one %s for %s", evs, tc.outcome, d.ID)
			}
			if f.st.Get().InFlight != nil {
				t.Error("in-flight action still persisted after reconciling")
			}
			if got := step(t, e); got.Reason == ReasonCapacityDrift {
				t.Errorf("reconciled capacity reported as drift: %s", got.Message)
			}
			if n := len(j.Events(TypeActionResult)); n != 1 {
				t.Errorf("reconciled %d times", n)
			}
		})
	}
}

// TestSyncApplyInterrupted stops a synchronous action half way: it is
// persisted as in flight while it runs, recorded as interrupted (not failed)
// and checked, not repeated, at the next start.
func TestSyncApplyInterrupted(t *testing.T) {
	f := newFixture(t, nil)
	f.mx.SetDemand(6)
	f.ss.block, f.ss.entered = make(chan struct{}), make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Decision, 1)
	go func() {
		d, _ := f.e.Step(ctx)
		done <- d
	}()
	<-f.ss.entered
	inf := f.st.Get().InFlight
	if inf == nil || inf.To != 8 {
		t.Errorf("synchronous action not persisted while in flight: %+v", f.st.Get())
	}
	if st := f.e.Status(); st.InFlight == nil {
		t.Error("status shows no action in flight")
	}
	cancel()
	d := <-done
	if d.Applied {
		t.Fatal("interrupted action counted as applied")
	}
	if s := f.e.Summary(); s.Failed != 0 {
		t.Errorf("interrupted action counted as failed: %+v", s)
	}
	if ev := onlyEvent(t, f.j, TypeActionResult); ev.Outcome != OutcomeInterrupted {
		t.Errorf("result %+v, want interrupted", ev)
	}
	if got := f.st.Get().InFlight; got == nil || got.DecisionID != d.ID {
		t.Fatalf("interrupted action dropped from the state file: %+v", f.st.Get())
	}

	ss := &fakeScaleSet{name: "vmss-test", capacity: 8} // the platform carried it out after all
	j := &memJournal{}
	e := f.restart(t, func(o *Options) {
		o.ScaleSet, o.Metrics, o.Journal, o.Observer = ss, &fakeMetrics{ss: ss, demand: 6, mem: 40}, j, nil
	})
	if got := step(t, e); got.Reason != ReasonCooldown {
		t.Errorf("after restart: %s %s, want a cooldown hold", got.Action, got.Reason)
	}
	checkCalls(t, ss)
	if evs := j.Events(TypeActionResult); len(evs) != 1 || evs[0].Outcome != OutcomeApplied {
		t.Errorf("reconciled %+v, want one applied", evs)
	}
}

func TestInFlightSettlesWhenThePlatformFinishes(t *testing.T) {
	f, d := crash(t)
	ss := &fakeScaleSet{name: "vmss-test", capacity: 4, updating: true}
	j := &memJournal{}
	e := f.restart(t, func(o *Options) {
		o.ScaleSet, o.Metrics, o.Journal, o.Observer = ss, &fakeMetrics{ss: ss, demand: 4.8, mem: 40}, j, nil
	})
	step(t, e)
	ss.mu.Lock()
	ss.capacity, ss.updating = 8, false
	ss.mu.Unlock()
	f.clock.Advance(time.Minute)
	got := step(t, e)
	if got.Reason == ReasonCapacityDrift {
		t.Errorf("our own action reported as drift: %s", got.Message)
	}
	if evs := j.Events(TypeActionResult); len(evs) != 1 || evs[0].Outcome != OutcomeApplied || evs[0].DecisionID != d.ID {
		t.Errorf("results %+v, want one applied", evs)
	}
	checkCalls(t, ss)
}

func TestMaxDecisionsStopsRun(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.MaxDecisions = 5 })
	f.mx.SetDemand(6) // 4 -> 8 (100%), 8 -> 10 (75%), then 60%: hold
	p := &testPacer{clock: f.clock, step: 5 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.e.Run(ctx, p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := f.e.Summary()
	want := Summary{Type: TypeSummary, TS: t0.Add(20 * time.Minute), ScaleSet: "vmss-test", Mode: ModeAuto,
		Decisions: 5, ScaleOuts: 2, Holds: 3, Applied: 2,
		ByReason:      map[Reason]int{ReasonRecommended: 2, ReasonNoChange: 3},
		ByAdvisor:     map[string]int{AdvisorRules: 5},
		StartCapacity: 4, FinalCapacity: 10, MinCapacity: 4, MaxCapacity: 10}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("summary\n got %+v\nwant %+v", s, want)
	}
	checkCalls(t, f.ss, 8, 10)
	if p.done != 5 {
		t.Errorf("pacer let %d decisions through, want 5", p.done)
	}
	if why := lastStopped(f.notes); !strings.Contains(why, "5 decisions") {
		t.Errorf("stopped note %q, want the decision limit", why)
	}
}

func TestRunStopsAtEndOfTrace(t *testing.T) {
	f := newFixture(t, nil)
	p := &testPacer{clock: f.clock, step: 5 * time.Minute, steps: 3}
	if err := f.e.Run(context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := f.e.Summary(); s.Decisions != 3 || s.Holds != 3 {
		t.Errorf("summary %+v", s)
	}
	if why := lastStopped(f.notes); why != "the trace ended" {
		t.Errorf("stopped note %q, want the trace ended", why)
	}
}

// lastStopped drains the recorded notes and returns the last StoppedNote's
// reason ("" when there was none).
func lastStopped(r *noteRecorder) string {
	why := ""
	for {
		select {
		case n := <-r.ch:
			if s, ok := n.(StoppedNote); ok {
				why = s.Why
			}
		default:
			return why
		}
	}
}

func TestAsyncApplyCountsInTheSummary(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.SyncApply, f.o.MaxDecisions = false, 1 })
	f.mx.SetDemand(6)
	if err := f.e.Run(context.Background(), &testPacer{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := f.e.Summary()
	if s.Applied != 1 || s.FinalCapacity != 8 || s.MaxCapacity != 8 {
		t.Errorf("summary applied %d final %d max %d, want 1 8 8", s.Applied, s.FinalCapacity, s.MaxCapacity)
	}
	if st := f.e.Status(); st.Capacity != 8 || st.InFlight != nil {
		t.Errorf("status capacity %d in flight %+v", st.Capacity, st.InFlight)
	}
	if ev := onlyEvent(t, f.j, TypeActionResult); ev.Outcome != OutcomeApplied {
		t.Errorf("result %+v", ev)
	}
}

func TestSummaryIgnoresAFailedFirstRead(t *testing.T) {
	f := newFixture(t, nil)
	f.ss.stateErr = errors.New("timeout")
	f.step(t)
	f.ss.mu.Lock()
	f.ss.stateErr = nil
	f.ss.mu.Unlock()
	f.mx.SetDemand(3.6)
	f.step(t)
	s := f.e.Summary()
	if s.StartCapacity != 4 || s.MinCapacity != 4 || s.MaxCapacity != 6 || s.FinalCapacity != 6 {
		t.Errorf("summary start %d min %d max %d final %d, want 4 4 6 6",
			s.StartCapacity, s.MinCapacity, s.MaxCapacity, s.FinalCapacity)
	}
	if s.ByReason[ReasonCapacityUnknown] != 1 || s.Decisions != 2 {
		t.Errorf("summary %+v", s)
	}
}

func TestScaleTo(t *testing.T) {
	f := newFixture(t, nil)
	stop := f.run(t, &testPacer{tick: make(chan struct{})})
	for _, n := range []int{0, 1, 11} {
		if err := f.e.ScaleTo(n); err == nil {
			t.Errorf("ScaleTo(%d) accepted outside [2, 10]", n)
		}
	}
	checkCalls(t, f.ss)
	if n := len(f.j.Decisions()); n != 0 {
		t.Errorf("refused ScaleTo recorded %d decisions", n)
	}
	if err := f.e.ScaleTo(7); err != nil {
		t.Fatalf("ScaleTo(7): %v", err)
	}
	_ = stop()
	checkCalls(t, f.ss, 7)
	d := f.e.Recent(1)[0]
	if d.Reason != ReasonManual || !d.Applied || d.Desired != 7 {
		t.Errorf("manual decision %+v", d)
	}
}

func TestScaleToInDryRunRecordsOnly(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.Mode = ModeDryRun })
	stop := f.run(t, &testPacer{tick: make(chan struct{})})
	if err := f.e.ScaleTo(7); err != nil {
		t.Fatalf("ScaleTo(7): %v", err)
	}
	_ = stop()
	checkCalls(t, f.ss)
	if d := f.e.Recent(1); len(d) != 1 || d[0].Reason != ReasonManual || d[0].Applied {
		t.Errorf("recent %+v", d)
	}
}

func TestConcurrentReadsWhileRunning(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.SyncApply, f.o.MaxDecisions, f.o.Observer = false, 40, nil })
	p := &testPacer{clock: f.clock, step: 5 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.e.Run(ctx, p) }()
	var wg sync.WaitGroup
	stopReaders := make(chan struct{})
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stopReaders:
					return
				default:
				}
				_ = f.e.Status()
				_ = f.e.Recent(10)
				_ = f.e.Summary()
				_ = f.e.Mode()
				f.mx.SetDemand(float64(2 + (k+i)%5))
				if k%50 == 0 {
					f.e.SetModels(ModelChoice{Primary: "a", Fallback: "b"})
				}
			}
		}()
	}
	err := <-done
	close(stopReaders)
	wg.Wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := f.e.Summary(); s.Decisions != 40 || len(f.e.Recent(100)) != 40 {
		t.Errorf("decisions %d recent %d, want 40", s.Decisions, len(f.e.Recent(100)))
	}
}

func TestRunReturnsPacerErrors(t *testing.T) {
	f := newFixture(t, nil)
	err := f.e.Run(context.Background(), pacerFunc(func(context.Context) error { return errors.New("broken") }))
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Run = %v, want the pacer's error", err)
	}
	if err := newFixture(t, nil).e.Run(context.Background(), pacerFunc(func(context.Context) error { return io.EOF })); err != nil {
		t.Errorf("Run at EOF = %v, want nil", err)
	}
}

type pacerFunc func(context.Context) error

func (p pacerFunc) Wait(ctx context.Context) error { return p(ctx) }
func (p pacerFunc) Next() time.Time                { return time.Time{} }

// engineReasonCase is a reason code reached through the whole engine.
type engineReasonCase struct {
	name   string
	reason Reason
	run    func(t *testing.T, f *fixture) Decision
}

var engineReasonCases = []engineReasonCase{
	{"manual: ScaleTo", ReasonManual, func(t *testing.T, f *fixture) Decision {
		stop := f.run(t, &testPacer{tick: make(chan struct{})})
		if err := f.e.ScaleTo(5); err != nil {
			t.Fatalf("ScaleTo: %v", err)
		}
		_ = stop()
		return f.e.Recent(1)[0]
	}},
	{"capacity drift holds once and is reported", ReasonCapacityDrift, func(t *testing.T, f *fixture) Decision {
		f.step(t)
		f.ss.SetCap(6) // 2 instances of demand on 6: the rules want fewer
		d := f.step(t)
		f.clock.Advance(time.Hour)
		if next := f.step(t); next.Reason == ReasonCapacityDrift || next.Action != ActionScaleIn {
			t.Errorf("after the drift: %s %s, want a scale-in", next.Action, next.Reason)
		}
		return d
	}},
	{"capacity read fails", ReasonCapacityUnknown, func(t *testing.T, f *fixture) Decision {
		f.ss.stateErr = errors.New("403 forbidden")
		d := f.step(t)
		if !strings.Contains(d.Error, "403") {
			t.Errorf("error %q does not carry the read failure", d.Error)
		}
		return d
	}},
	{"capacity read as 0", ReasonCapacityUnknown, func(t *testing.T, f *fixture) Decision {
		f.ss.SetCap(0)
		return f.step(t)
	}},
	{"metrics read fails", ReasonMissingMetrics, func(t *testing.T, f *fixture) Decision {
		f.mx.SetErr(errors.New("throttled"))
		d := f.step(t)
		if !strings.Contains(d.Error, "throttled") || d.Inputs.CPU.Err == "" {
			t.Errorf("error %q inputs %+v", d.Error, d.Inputs.CPU)
		}
		return d
	}},
	{"metrics are old", ReasonStaleMetrics, func(t *testing.T, f *fixture) Decision {
		f.mx.build = func(q MetricsQuery) Metrics {
			q.End = q.End.Add(-11 * time.Minute)
			return flatMetrics(q, 95, 40)
		}
		return f.step(t)
	}},
	{"platform still updating", ReasonInFlight, func(t *testing.T, f *fixture) Decision {
		f.mx.SetDemand(6)
		f.ss.updating = true
		return f.step(t)
	}},
	{"cooldown after an applied action", ReasonCooldown, func(t *testing.T, f *fixture) Decision {
		f.mx.SetDemand(6)
		f.step(t)
		f.clock.Advance(time.Minute)
		return f.step(t)
	}},
	{"steady load", ReasonNoChange, func(t *testing.T, f *fixture) Decision { return f.step(t) }},
}

func TestEngineReasonScenarios(t *testing.T) {
	for _, tc := range engineReasonCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			d := tc.run(t, f)
			if d.Reason != tc.reason {
				t.Errorf("reason %s, want %s (%s)", d.Reason, tc.reason, d.Message)
			}
			if d.Reason != ReasonManual && d.Action != ActionHold {
				t.Errorf("action %s, want hold", d.Action)
			}
		})
	}
}

// TestEveryReasonHasAScenario fails when a code in Reasons has no row in the
// Decide table or the engine scenarios, and when a row names a code that is
// not in Reasons.
func TestEveryReasonHasAScenario(t *testing.T) {
	known := map[Reason]bool{}
	for _, r := range Reasons {
		known[r] = true
	}
	covered := map[Reason]bool{}
	for _, c := range decideCases {
		covered[c.reason] = true
	}
	for _, c := range engineReasonCases {
		covered[c.reason] = true
	}
	for _, r := range Reasons {
		if !covered[r] {
			t.Errorf("reason %q has no test scenario", r)
		}
	}
	for r := range covered {
		if !known[r] {
			t.Errorf("a scenario expects %q, which is not in Reasons", r)
		}
	}
}

// TestRecordsAreValidJSON feeds values JSON cannot carry (a NaN confidence,
// an infinite reading) through the engine into a LineWriter: every record
// must still come out as a line that decodes.
func TestRecordsAreValidJSON(t *testing.T) {
	var buf strings.Builder
	f := newFixture(t, func(f *fixture) {
		f.o.Journal = NewLineWriter(&buf)
		f.adv = &fakeAdvisor{advice: Advice{Recommended: 6, Confidence: nan, HasConfidence: true, Model: "m"}}
	})
	f.mx.build = func(q MetricsQuery) Metrics {
		m := flatMetrics(q, 90, 40)
		m.NetIn.Points[10].V = math.Inf(1)
		return m
	}
	d := f.step(t)
	if d.Reason != ReasonLowConfidence {
		t.Errorf("reason %s, want low_confidence", d.Reason)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("journal lines %q, want the decision", lines)
	}
	var got Decision
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil || got.ID != d.ID {
		t.Errorf("decision line %q: %v", lines[0], err)
	}
}

func TestShutdownRecordsAnUnfinishedActionAsInterrupted(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.SyncApply, f.o.ShutdownGrace = false, 10*time.Millisecond })
	f.mx.SetDemand(6)
	f.ss.block, f.ss.entered = make(chan struct{}), make(chan int, 1)
	t.Cleanup(func() { close(f.ss.block) })
	p := &testPacer{tick: make(chan struct{})}
	stop := f.run(t, p)
	d := f.tickDecision(t, p)
	<-f.ss.entered
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ev := onlyEvent(t, f.j, TypeActionResult); ev.Outcome != OutcomeInterrupted || ev.DecisionID != d.ID {
		t.Errorf("result %+v, want interrupted", ev)
	}
	if inf := f.st.Get().InFlight; inf == nil || inf.DecisionID != d.ID {
		t.Errorf("in-flight record gone after an interrupted stop: %+v", f.st.Get())
	}
}

func TestModesAndPolicy(t *testing.T) {
	for in, want := range map[string]Mode{"auto": ModeAuto, "approve": ModeApprove, "approve-each": ModeApprove,
		"dry-run": ModeDryRun, "dryrun": ModeDryRun, "dry_run": ModeDryRun} {
		if got, ok := ParseMode(in); !ok || got != want || !got.Valid() {
			t.Errorf("ParseMode(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := ParseMode("Auto"); ok {
		t.Error("ParseMode accepted Auto")
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("default policy invalid: %v", err)
	}
	p := DefaultPolicy()
	p.ConfidenceThreshold, p.TargetCPU, p.Grain = 1.5, 0, 30*time.Second
	err := p.Validate()
	for _, key := range []string{"confidence_threshold", "target_cpu", "grain"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate = %v, want it to name %s", err, key)
		}
	}
	if ActionFor(3, 5) != ActionScaleOut || ActionFor(5, 3) != ActionScaleIn || ActionFor(4, 4) != ActionHold {
		t.Error("ActionFor")
	}
}

func TestIntervalPacer(t *testing.T) {
	c := newClock(t0)
	p := NewIntervalPacer(c, 5*time.Minute)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatalf("first Wait: %v", err)
	}
	if !p.Next().Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("Next = %s, want t0+5m", p.Next())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait before the interval with ctx done = %v", err)
	}
	c.Advance(7 * time.Minute) // a little late: the schedule keeps its rhythm
	if err := p.Wait(context.Background()); err != nil {
		t.Fatalf("Wait when due: %v", err)
	}
	if !p.Next().Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("Next after a late tick = %s, want t0+10m", p.Next())
	}
	c.Advance(15 * time.Minute) // missed a whole interval: one decision now, not a burst
	if err := p.Wait(context.Background()); err != nil {
		t.Fatalf("Wait when overdue: %v", err)
	}
	if !p.Next().Equal(t0.Add(27 * time.Minute)) {
		t.Errorf("Next after a missed interval = %s, want t0+27m", p.Next())
	}
}

type failJournal struct{}

func (failJournal) Append(context.Context, any) error { return errors.New("disk full") }

func TestTeeAndLineWriter(t *testing.T) {
	var buf strings.Builder
	mem := &memJournal{}
	tee := Tee{NewLineWriter(&buf), nil, mem}
	ev := Event{Type: TypeApproved, DecisionID: "abc", TS: t0}
	if err := tee.Append(context.Background(), ev); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(mem.Events(TypeApproved)) != 1 {
		t.Error("tee skipped a journal")
	}
	line := buf.String()
	if !strings.HasSuffix(line, "}\n") || !strings.Contains(line, `"decision_id":"abc"`) || strings.Contains(line, `"expires"`) {
		t.Errorf("line %q", line)
	}
	if err := (Tee{failJournal{}, mem}).Append(context.Background(), ev); err == nil || len(mem.Events(TypeApproved)) != 2 {
		t.Errorf("a failing journal: err %v, and the others must still get the record", err)
	}
}

func TestDecideNowAndBusyCommands(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.SyncApply = false })
	f.ss.block, f.ss.entered = make(chan struct{}), make(chan int, 1)
	p := &testPacer{tick: make(chan struct{})}
	stop := f.run(t, p)
	f.mx.SetDemand(6)
	f.e.DecideNow() // no tick: the decision comes from the command
	if d := f.notes.waitDecision(t); d.Action != ActionScaleOut {
		t.Fatalf("DecideNow decision %s %s", d.Action, d.Reason)
	}
	<-f.ss.entered
	if err := f.e.ScaleTo(5); !errors.Is(err, ErrBusy) {
		t.Errorf("ScaleTo while in flight = %v, want ErrBusy", err)
	}
	if d := f.tickDecision(t, p); d.Reason != ReasonInFlight {
		t.Errorf("decision while in flight: %s", d.Reason)
	}
	close(f.ss.block)
	if ev := f.notes.waitEvent(t, TypeActionResult); ev.Outcome != OutcomeApplied {
		t.Errorf("result %+v", ev)
	}
	if err := f.e.ScaleTo(8); err != nil { // already 8: recorded, nothing to do
		t.Errorf("ScaleTo(current) = %v", err)
	}
	_ = stop()
	checkCalls(t, f.ss, 8)
	if d := f.e.Recent(1)[0]; d.Reason != ReasonManual || d.Action != ActionHold {
		t.Errorf("ScaleTo(current) recorded %s %s", d.Action, d.Reason)
	}
}

// stuckAdvisor answers only when its context ends.
type stuckAdvisor struct{}

func (stuckAdvisor) Advise(ctx context.Context, req AdviceRequest) (Advice, error) {
	<-ctx.Done()
	return Advice{Attempts: []Attempt{{Model: "llama3:8b", Try: 1, Error: ctx.Err().Error()}}}, ctx.Err()
}

func TestAdviceTimeoutFallsBackToRules(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.Advisor, f.o.AdviceTimeout = stuckAdvisor{}, 10*time.Millisecond })
	f.mx.SetDemand(3.6)
	d := f.step(t)
	if d.Advisor != AdvisorRules || !d.Applied || len(d.Attempts) != 1 {
		t.Errorf("decision advisor %s applied %v attempts %+v", d.Advisor, d.Applied, d.Attempts)
	}
	if f.e.Status().ModelOK {
		t.Error("status says the model is fine")
	}
}

type brokenState struct{ memState }

func (*brokenState) Load(context.Context) (PersistedState, bool, error) {
	return PersistedState{}, false, errors.New("state file is not JSON")
}

func TestUnreadableStateStops(t *testing.T) {
	f := newFixture(t, func(f *fixture) { f.o.State = &brokenState{} })
	if _, err := f.e.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "load state") {
		t.Errorf("Step = %v, want a load state error", err)
	}
	if err := newFixture(t, func(f *fixture) { f.o.State = &brokenState{} }).e.Run(context.Background(), &testPacer{}); err == nil {
		t.Error("Run started on an unreadable state file")
	}
	checkCalls(t, f.ss)
}
