package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/llm"
)

// TestSupersededWhileConfirmingIsNotApproved: a scale-in card waits, y opens
// its dialog, and the engine supersedes the card with a scale-out before
// the operator answers. The y meant for the dialog must not approve the new
// card; a y once the operator had time to read it does.
func TestSupersededWhileConfirmingIsNotApproved(t *testing.T) {
	f := scaleInFixture(t, 80, 24, nil)
	f.press("y")
	if f.m.overlay != ovConfirm {
		t.Fatal("y on the scale-in did not open its confirmation")
	}

	// the engine's order: the new decision, the old card's expiry, the cards
	f.wall.advance(2 * time.Second)
	b := sampleDecision("c0ffee000002", f.wall.t, 8, 12, engine.ReasonRecommended)
	f.send(engine.DecisionNote{Decision: b})
	f.send(engine.EventNote{Event: engine.Event{Type: engine.TypeExpired, DecisionID: "b52c3d4e5f60",
		TS: f.wall.t, From: 8, To: 6, By: "engine", Error: "superseded by decision " + b.ID}})
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: b, Expires: f.wall.t.Add(5 * time.Minute)}}})
	appeared := f.wall.t
	if f.m.overlay == ovConfirm {
		t.Fatal("the dialog stayed open after its card was superseded")
	}
	f.wantToast("the card changed: read the new one (#c0ffee SCALE OUT 8 → 12), then press y")
	f.wantView("the card changed: read the new one")

	// the operator's next keys, meant for the dialog, do nothing; also
	// later than the old one-second guard
	f.press("y")
	f.wantCalls()
	for _, after := range []time.Duration{1100 * time.Millisecond, 2900 * time.Millisecond} {
		f.wall.t = appeared.Add(after)
		f.press("y")
		f.wantCalls()
		f.wantToast("y ignored: the card changed: read the new one")
		f.press("n")
		f.wantCalls()
		f.wantToast("n ignored")
	}

	// once the guard is over, y approves the card now on screen
	f.wall.t = appeared.Add(changeGuard)
	f.press("y")
	f.wantCalls("approve c0ffee000002")
}

// TestCardReplacedOnMainScreenGuard: without a dialog, a card that replaced
// another is refused for the whole change guard (at least 3 s).
func TestCardReplacedOnMainScreenGuard(t *testing.T) {
	if changeGuard < 3*time.Second {
		t.Fatalf("changeGuard = %s, want at least 3s", changeGuard)
	}
	f := newFixture(t, 80, 24)
	f.loaded()
	b := sampleDecision("c0ffee000003", f.wall.t, 8, 10, engine.ReasonRecommended)
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: b, Expires: f.wall.t.Add(5 * time.Minute)}}})
	f.wall.advance(2 * time.Second)
	f.press("y")
	f.wantCalls()
	f.wantToast("y ignored")
	f.wall.advance(time.Second)
	f.press("y")
	f.wantCalls("approve c0ffee000003")
}

// TestExpiryWording words an expiry by the engine's note.
func TestExpiryWording(t *testing.T) {
	cases := []struct {
		note, outcome, want string
	}{
		{"nobody answered in time; not applied", "expired",
			"card #a41f2c (8 → 12) expired unanswered; it was not applied"},
		{"", "expired", "card #a41f2c (8 → 12) expired unanswered; it was not applied"},
		{"superseded by decision 9f8e7d6c5b4a", "superseded",
			"card #a41f2c (8 → 12) was superseded by decision #9f8e7d; it was not applied"},
		{"capacity is 9 now, not the 8 this card was made for; not applied", "withdrawn",
			"card #a41f2c (8 → 12) was withdrawn because the capacity changed " +
				"(capacity is 9 now, not the 8 this card was made for); it was not applied"},
		{"withdrawn: decision 9f8e7d6c5b4a recommends keeping 8", "withdrawn",
			"card #a41f2c (8 → 12) was withdrawn: decision 9f8e7d6c5b4a recommends keeping 8; it was not applied"},
		{"engine stopping", "withdrawn", "card #a41f2c (8 → 12) was withdrawn: engine stopping; it was not applied"},
	}
	for _, c := range cases {
		t.Run(c.outcome+"/"+c.note, func(t *testing.T) {
			f := newFixture(t, 120, 40)
			f.loaded()
			f.send(engine.EventNote{Event: engine.Event{Type: engine.TypeExpired, DecisionID: "a41f2c9e0b11",
				From: 8, To: 12, TS: t0, By: "engine", Error: c.note}})
			if f.m.toast.text != c.want {
				t.Fatalf("toast = %q, want %q", f.m.toast.text, c.want)
			}
			if strings.Contains(c.note, "superseded") || strings.Contains(c.note, "capacity") {
				if strings.Contains(f.m.toast.text, "unanswered") {
					t.Fatalf("toast says unanswered for %q", c.note)
				}
			}
			if got := f.m.outcomes["a41f2c9e0b11"]; got != c.outcome {
				t.Fatalf("history outcome = %q, want %q", got, c.outcome)
			}
		})
	}
}

// TestHeaderModelTrouble tells an unreachable server from a rejected answer.
func TestHeaderModelTrouble(t *testing.T) {
	rejected := &llm.AdviseError{URL: "http://127.0.0.1:11434", Errs: []error{
		&llm.AttemptError{Model: "llama3:8b", Text: "answer rejected: recommended_instances 1382 is above 1000",
			Err: fmt.Errorf("%w: recommended_instances 1382 is above 1000", llm.ErrBadAnswer)}}}
	unreachable := fmt.Errorf("%w: http://127.0.0.1:1: connection refused", llm.ErrUnreachable)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"rejected", rejected, "model answer rejected: rules decide"},
		{"unreachable", unreachable, "ollama not answering: rules decide"},
		{"timeout", fmt.Errorf("ask: %w", context.DeadlineExceeded), "ollama too slow: rules decide"},
		{"other", errors.New("HTTP 404: model not found"), "model failed: rules decide"},
		{"not asked", nil, "model not asked: rules decide"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 120, 40)
			st := sampleStatus()
			st.ModelOK = false
			f.send(engine.StatusNote{Status: st})
			f.send(engine.AdviceNote{Seq: 1, ModelErr: c.err,
				Rules: engine.Advice{Recommended: 8, Advisor: engine.AdvisorRules}})
			header := strings.Split(ansi.Strip(f.m.View()), "\n")[1]
			if !strings.Contains(header, c.want) {
				t.Fatalf("header %q does not say %q", header, c.want)
			}
			if c.name == "rejected" && strings.Contains(header, "not answering") {
				t.Fatalf("header says not answering for a rejected answer: %q", header)
			}
		})
	}
}

// TestRecordJSONNotHTMLEscaped shows > < & as they are in the record view.
func TestRecordJSONNotHTMLEscaped(t *testing.T) {
	f := newFixture(t, 160, 48)
	f.loaded()
	d := sampleDecision("dd0000000001", t0, 11, 9, engine.ReasonRecommended)
	d.Message = "scale_in 11 -> 9 & cpu < 30%"
	f.send(engine.DecisionNote{Decision: d})
	f.press("4", "enter")
	if f.m.overlay != ovDetail {
		t.Fatal("enter did not open the record")
	}
	f.wantView(`"message": "scale_in 11 -> 9 & cpu < 30%"`)
	text := f.m.detailText(&d)
	for _, esc := range []string{`\u003e`, `\u003c`, `\u0026`} {
		if strings.Contains(text, esc) {
			t.Fatalf("the record view holds the escape %s:\n%s", esc, text)
		}
	}
	js, err := recordJSON(d)
	if err != nil || strings.HasSuffix(string(js), "\n") || !strings.Contains(string(js), "\n  \"id\": ") {
		t.Fatalf("recordJSON = %q, %v; want indented JSON without a trailing newline", js, err)
	}
}

// TestPickerJKMove: j/k move the cursor until / gives the keys to the
// filter; esc leaves the filter before it closes the picker.
func TestPickerJKMove(t *testing.T) {
	f := newFixture(t, 120, 40)
	f.loaded()
	f.press("M")
	p := &f.m.picker
	name := func() string { return p.all[p.rows[p.cur]].Name }
	if name() != "llama3:8b" {
		t.Fatalf("cursor on %s, want the primary llama3:8b", name())
	}
	f.press("j")
	if name() != "mistral:7b" || p.filter.Value() != "" {
		t.Fatalf("j: cursor on %s, filter %q; want mistral:7b and an empty filter", name(), p.filter.Value())
	}
	f.press("k")
	if name() != "llama3:8b" || p.filter.Value() != "" {
		t.Fatalf("k: cursor on %s, filter %q; want llama3:8b and an empty filter", name(), p.filter.Value())
	}
	f.press("G")
	if p.cur != len(p.rows)-1 {
		t.Fatalf("G: cursor at %d, want the last row %d", p.cur, len(p.rows)-1)
	}
	f.press("g")
	if p.cur != 0 {
		t.Fatalf("g: cursor at %d, want 0", p.cur)
	}
	f.wantView("j/k move, / filters")

	// / starts filtering: now j and k are letters
	f.press("/", "p", "h", "i", "j", "k")
	if v := p.filter.Value(); v != "phijk" {
		t.Fatalf("filter = %q, want phijk", v)
	}
	f.press("backspace", "backspace")
	if name() != "phi3:mini" {
		t.Fatalf("filter phi: cursor on %s, want phi3:mini", name())
	}
	// esc leaves the filter (clearing it), the picker stays
	f.press("esc")
	if f.m.overlay != ovPicker || p.filtering || p.filter.Value() != "" {
		t.Fatalf("esc while filtering: overlay %d, filtering %v, filter %q; want the picker, not filtering, empty",
			f.m.overlay, p.filtering, p.filter.Value())
	}
	f.press("j")
	if p.filter.Value() != "" {
		t.Fatalf("j typed into the filter after esc: %q", p.filter.Value())
	}
	f.press("esc")
	if f.m.overlay != ovNone {
		t.Fatal("the second esc did not close the picker")
	}
	f.wantCalls()
}

// TestTrendInValueUnit formats a network trend in the unit of its value.
func TestTrendInValueUnit(t *testing.T) {
	cases := []struct {
		v, ref float64
		unit   string
		want   string
	}{
		{-278381.2, 2.0e7, engine.UnitBytesPerSecond, "-0.28MB/s/h"},
		{3e6, 2.0e7, engine.UnitBytesPerSecond, "+3.00MB/s/h"},
		{1.5e7, 4.2e7, engine.UnitBytesPerSecond, "+15.0MB/s/h"},
		{-250, 900, engine.UnitBytesPerSecond, "-250B/s/h"},
		{5e4, 800, engine.UnitBytesPerSecond, "+50.0kB/s/h"},
		{0, 0, engine.UnitBytesPerSecond, "+0.00B/s/h"},
		{3, 78, engine.UnitPercent, "+3.0/h"},
	}
	for _, c := range cases {
		if got := trendValue(c.v, c.ref, c.unit); got != c.want {
			t.Errorf("trendValue(%g, %g, %s) = %q, want %q", c.v, c.ref, c.unit, got, c.want)
		}
	}

	// in the record view, next to the value
	f := newFixture(t, 160, 48)
	f.loaded()
	d := sampleDecision("dd0000000002", t0, 8, 12, engine.ReasonRecommended)
	d.Inputs.NetIn = engine.MetricSummary{Available: true, Current: 2.1e7, Mean: 2.0e7, Trend: -278381.2,
		Unit: engine.UnitBytesPerSecond}
	f.send(engine.DecisionNote{Decision: d})
	f.press("4", "enter")
	f.wantView("21MB/s (mean 20MB/s, -0.28MB/s/h)")
	if v := ansi.Strip(f.m.View()); strings.Contains(v, "278381") {
		t.Fatalf("the raw trend is on screen:\n%s", v)
	}
}

// A decision whose action already waits on an earlier card says so in the
// history instead of an unexplained "-".
func TestRepeatedActionRowPointsAtTheCard(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	a := sampleDecision("c0ffee000010", f.wall.t, 9, 7, engine.ReasonRecommended)
	f.send(engine.DecisionNote{Decision: a})
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: a, Expires: f.wall.t.Add(5 * time.Minute)}}})
	b := sampleDecision("c0ffee000011", f.wall.t.Add(5*time.Minute), 9, 7, engine.ReasonRecommended)
	b.Notes = []string{"same action already waits for approval as " + a.ID}
	f.send(engine.DecisionNote{Decision: b})
	if got := f.m.outcome(&a); got != "pending" {
		t.Errorf("the card's row: %q, want pending", got)
	}
	if got := f.m.outcome(&b); got != "on card" {
		t.Errorf("the repeated row: %q, want on card", got)
	}
	c := sampleDecision("c0ffee000012", f.wall.t, 9, 7, engine.ReasonRecommended)
	if got := f.m.outcome(&c); got != "-" {
		t.Errorf("a row with neither card nor note: %q, want -", got)
	}
	r := sampleDecision("c0ffee000013", f.wall.t, 9, 7, engine.ReasonRecommended)
	r.Notes = []string{"the operator rejected 9 → 7 at 12:00:00; not asked again before 12:15:00"}
	if got := f.m.outcome(&r); got != "not asked" {
		t.Errorf("a row the operator's rejection held back: %q, want not asked", got)
	}
	// once the card is gone the row no longer points at it
	f.send(engine.PendingNote{Pending: nil})
	if got := f.m.outcome(&b); got != "-" {
		t.Errorf("the repeated row after its card left: %q, want -", got)
	}
}

// When the engine stops (the demo trace ended), the dashboard says so
// instead of counting down to a decision that will not come.
func TestEngineStoppedIsShown(t *testing.T) {
	f := newFixture(t, 120, 40)
	f.loaded()
	f.send(engine.StoppedNote{Why: "the trace ended"})
	f.wantToast("no more decisions: the trace ended; press q to leave")
	f.wantView("no more decisions")
	for _, k := range []string{"r", "S", "y", "n", "m"} {
		f.press(k)
		f.wantCalls()
		f.wantToast("no more decisions: the trace ended; nothing to " + k)
	}
}

// The engine's refusals (nothing changed) read as warnings saying why, not
// as failures to look up in the log.
func TestEngineRefusalsAreWarnings(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: card c0ffee withdrawn, nothing applied", engine.ErrDryRun), "not applied: the mode is dry-run"},
		{fmt.Errorf("%w: capacity is 12 now", engine.ErrCapacityChanged), "not done: capacity changed"},
		{engine.ErrBusy, "not done: an action is in flight"},
	}
	for _, tc := range cases {
		f := newFixture(t, 80, 24)
		f.loaded()
		f.ctl.err = tc.err
		f.press("S", "backspace", "1", "0", "enter", "y")
		f.wantToast(tc.want)
		if f.m.toast.level != levelWarn {
			t.Errorf("%v: shown at level %v, want a warning", tc.err, f.m.toast.level)
		}
	}
}

// With --listen, the dashboard says once where the HTTP endpoints are.
func TestListenAddressIsTold(t *testing.T) {
	f := newFixtureWith(t, 80, 24, func(o *Options) { o.Listen = "127.0.0.1:9464" }, nil)
	f.wantToast("serving /metrics, /healthz, /readyz and /api on http://127.0.0.1:9464")
	g := newFixture(t, 80, 24)
	if strings.Contains(g.m.toast.text, "serving") {
		t.Errorf("without --listen: toast %q", g.m.toast.text)
	}
}
