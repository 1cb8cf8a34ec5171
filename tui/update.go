package tui

import (
	"errors"
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/scalepilot/scalepilot/engine"
)

// Update routes each message to one small handler.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.now = m.o.Wall.Now()
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.help.Width = msg.Width - 1
	case tea.KeyMsg:
		cmd = m.onKey(msg)
	case tea.MouseMsg:
		m.onMouse(msg)
	case secondMsg:
		m.onSecond()
		cmd = everySecond()
	case flushMsg:
		m.flushPending = false
		m.rsDirty = true
	case snapshotMsg:
		m.onSnapshot(msg)
	case doneMsg:
		m.onDone(msg)
	case modelsMsg:
		m.picker.setModels(msg, m.status.Models)
	case notesClosedMsg:
		m.notesClosed = true
		m.say(levelWarn, "the engine stopped sending updates; press q to leave")
	case engine.Notification:
		cmd = tea.Batch(m.onNote(msg), waitNote(m.o.Notes))
	}
	m.relayout()
	return m, cmd
}

func (m *model) onSecond() {
	if m.toast.level == levelInfo && m.toast.text != "" && m.now.Sub(m.toast.at) >= toastTTL {
		m.toast = message{}
	}
	if m.rs.streaming() {
		m.rsDirty = true // the elapsed time in the pane title
	}
}

func (m *model) onSnapshot(s snapshotMsg) {
	if !m.haveStatus {
		m.status, m.haveStatus = s.status, true
	}
	if len(m.history) == 0 {
		for _, d := range s.recent {
			m.addDecision(d)
		}
		// Recent is newest first; addDecision prepends, so restore the order.
		for i, j := 0, len(m.history)-1; i < j; i, j = i+1, j-1 {
			m.history[i], m.history[j] = m.history[j], m.history[i]
		}
		m.hcur = 0
	}
}

func (m *model) onDone(d doneMsg) {
	if d.err == nil {
		m.say(levelInfo, "%s: done", d.what)
		return
	}
	// refusals the engine means (nothing was changed) are warnings with
	// what to do; anything else is an error
	switch {
	case errors.Is(d.err, engine.ErrUnknownID):
		m.say(levelWarn, "%s: not done: %v; it is no longer pending (answered, withdrawn or expired)", d.what, d.err)
	case errors.Is(d.err, engine.ErrDryRun):
		m.say(levelWarn, "%s: not applied: the mode is dry-run (m changes it); the card is withdrawn", d.what)
	case errors.Is(d.err, engine.ErrCapacityChanged), errors.Is(d.err, engine.ErrBusy):
		m.say(levelWarn, "%s: not done: %v", d.what, d.err)
	default:
		m.say(levelError, "%s failed: %v; see the message log (@) and the log file", d.what, d.err)
	}
}

// onNote handles one engine notification and returns any follow-up Cmd.
func (m *model) onNote(n engine.Notification) tea.Cmd {
	switch n := n.(type) {
	case engine.TickNote:
		m.tick = n
		m.rs = m.rs.next(n.Seq, n.At)
		m.rsDirty = true
	case engine.MetricsNote:
		if m.frozen {
			m.held = &n
			return nil
		}
		m.applyMetrics(n)
	case engine.TokenNote:
		return m.onToken(n)
	case engine.AdviceNote:
		m.advice = &n
		if n.Seq == m.rs.seq {
			m.rs.advice = &n
		}
		m.rsDirty = true
	case engine.DecisionNote:
		m.onDecision(n.Decision)
	case engine.EventNote:
		m.onEvent(n.Event)
	case engine.PendingNote:
		m.onPending(n.Pending)
	case engine.StatusNote:
		m.status, m.haveStatus = n.Status, true
	case engine.StoppedNote:
		m.stopped = n.Why
		m.say(levelWarn, "no more decisions: %s; press q to leave", n.Why)
	}
	return nil
}

func (m *model) applyMetrics(n engine.MetricsNote) {
	m.state = n.State
	m.stateErr, m.metricsErr = errText(n.StateErr), errText(n.MetricsErr)
	m.inputs = n.Inputs
	m.haveMetrics = true
	for i := range m.charts {
		c := &m.charts[i]
		c.set(*n.Metrics.Get(c.name), *n.Inputs.Get(c.name))
	}
	m.chartsDirty = true
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return oneLine(err.Error())
}

func (m *model) onToken(t engine.TokenNote) tea.Cmd {
	if t.Seq > m.rs.seq {
		// the tick was dropped or not sent: start the new decision here
		m.rs = m.rs.next(t.Seq, m.tick.At)
	}
	if t.Seq < m.rs.seq {
		return nil // a late token of an older decision
	}
	m.rs.addToken(t, m.now)
	if m.flushPending {
		return nil
	}
	m.flushPending = true
	return flushSoon()
}

func (m *model) onDecision(d engine.Decision) {
	if d.Reason != engine.ReasonManual && m.rs.decision == nil && m.rs.seq > 0 {
		m.rs.decision = &d
		m.rsDirty = true
	}
	m.addDecision(d)
	if m.hcur > 0 {
		m.hcur++ // keep the cursor on the row it was on
	}
}

func (m *model) addDecision(d engine.Decision) {
	for i := range m.history {
		if m.history[i].ID == d.ID {
			m.history[i] = d
			return
		}
	}
	m.history = append([]engine.Decision{d}, m.history...)
	if len(m.history) > historyLen {
		for _, old := range m.history[historyLen:] {
			delete(m.outcomes, old.ID)
			delete(m.events, old.ID)
		}
		m.history = m.history[:historyLen]
	}
}

func (m *model) onEvent(ev engine.Event) {
	m.events[ev.DecisionID] = append(m.events[ev.DecisionID], ev)
	id := shortID(ev.DecisionID)
	switch ev.Type {
	case engine.TypeApproved:
		m.outcomes[ev.DecisionID] = "approved"
	case engine.TypeRejected:
		m.outcomes[ev.DecisionID] = "rejected"
	case engine.TypeExpired:
		outcome, text := expiryText(ev)
		m.outcomes[ev.DecisionID] = outcome
		m.say(levelWarn, "%s", text)
	case engine.TypeActionResult:
		out := ev.Outcome
		if out == "" {
			out = "done"
		}
		m.outcomes[ev.DecisionID] = strings.ReplaceAll(out, "_", "-")
		switch ev.Outcome {
		case engine.OutcomeApplied:
			m.say(levelInfo, "scaled %d → %d (%s) in %s", ev.From, ev.To, id, short(msDuration(ev.DurationMS)))
		case engine.OutcomeFailed, engine.OutcomeInterrupted:
			m.say(levelError, "scaling %d → %d (%s) %s: %s; check the scale set, then press r to decide again",
				ev.From, ev.To, id, ev.Outcome, oneLine(ev.Error))
		case engine.OutcomeRetryLater:
			m.say(levelWarn, "scaling %d → %d (%s) refused for now: %s; the engine will try again",
				ev.From, ev.To, id, oneLine(ev.Error))
		}
	}
}

// onPending replaces the cards. A card keeps its changedAt while its
// content is the same; the selection follows its id, and moves (and counts
// as a change) only when its card is gone.
func (m *model) onPending(ps []engine.Pending) {
	old := make(map[string]card, len(m.cards))
	for _, c := range m.cards {
		old[c.p.Decision.ID] = c
	}
	cards := make([]card, 0, len(ps))
	for _, p := range ps {
		c := card{p: p, print: fingerprint(p), changedAt: m.now}
		if o, ok := old[p.Decision.ID]; ok && o.print == c.print {
			c.changedAt = o.changedAt
		}
		cards = append(cards, c)
	}
	m.cards = cards
	if _, _, ok := m.selected(); !ok {
		m.sel = ""
		if len(cards) > 0 {
			m.sel = cards[0].p.Decision.ID
			m.selChangedAt = m.now
		}
	}
	if m.overlay == ovConfirm && m.dlg.kind == confirmScaleIn {
		if c, ok := m.cardByID(m.dlg.id); !ok || c.print != m.dlg.print {
			// The operator was answering: the next y or n was meant for the
			// dialog, not for whatever card is selected now.
			m.overlay = ovNone
			m.answerHold = m.now.Add(changeGuard)
			what := "changed"
			if !ok {
				what = "was replaced"
			}
			if n, _, ok := m.selected(); ok {
				d := n.p.Decision
				m.say(levelWarn, "the card changed: read the new one (%s %s %d → %d), then press y; "+
					"%s %s while you were confirming and was not approved",
					shortID(d.ID), actionWord(d.Action), d.Current, d.Desired, shortID(m.dlg.id), what)
			} else {
				m.say(levelWarn, "card %s left while you were confirming; nothing was approved", shortID(m.dlg.id))
			}
		}
	}
	if len(cards) == 0 && m.focus == panePending && !m.wide() {
		m.focus = paneReasoning
	}
}

// expiryText words an expiry event by its cause, which the engine gives in
// the event's error: superseded by a newer decision, refused because the
// capacity changed, or nobody answered in time. It returns the history
// outcome and the message.
func expiryText(ev engine.Event) (outcome, text string) {
	card := fmt.Sprintf("card %s (%d → %d)", shortID(ev.DecisionID), ev.From, ev.To)
	note := strings.TrimSpace(ev.Error)
	switch {
	case strings.HasPrefix(note, engine.ExpiredSuperseded):
		by := strings.TrimSpace(strings.TrimPrefix(note, engine.ExpiredSuperseded))
		return "superseded", fmt.Sprintf("%s was superseded by decision %s; it was not applied",
			card, shortID(oneLine(by)))
	case strings.HasPrefix(note, engine.ExpiredCapacity):
		why := strings.TrimSuffix(note, "; not applied")
		return "withdrawn", fmt.Sprintf("%s was withdrawn because the capacity changed (%s); it was not applied",
			card, oneLine(why))
	case strings.HasPrefix(note, engine.ExpiredWithdrawn):
		return "withdrawn", fmt.Sprintf("%s was withdrawn: %s; it was not applied",
			card, oneLine(strings.TrimPrefix(note, engine.ExpiredWithdrawn)))
	case note == "" || strings.HasPrefix(note, engine.ExpiredUnanswered):
		return "expired", card + " expired unanswered; it was not applied"
	}
	return "withdrawn", fmt.Sprintf("%s was withdrawn: %s; it was not applied",
		card, oneLine(strings.TrimSuffix(note, "; not applied")))
}

func (m *model) cardByID(id string) (card, bool) {
	for _, c := range m.cards {
		if c.p.Decision.ID == id {
			return c, true
		}
	}
	return card{}, false
}

// outcome is a history row's result column.
func (m *model) outcome(d *engine.Decision) string {
	if o, ok := m.outcomes[d.ID]; ok {
		return o
	}
	switch {
	case d.Error != "":
		return "failed"
	case d.Action == engine.ActionHold:
		return "hold"
	case d.Mode == engine.ModeDryRun:
		return "dry-run"
	case d.Applied:
		return "applied"
	case d.Mode == engine.ModeApprove:
		if _, ok := m.cardByID(d.ID); ok {
			return "pending"
		}
		// The same action already waited on an earlier card (the engine
		// notes which): while that card waits, this row points at it.
		for _, n := range d.Notes {
			if id, ok := strings.CutPrefix(n, engine.NoteCardWaits); ok {
				if _, pending := m.cardByID(strings.TrimSpace(id)); pending {
					return "on card"
				}
			}
			if strings.HasPrefix(n, engine.NoteRejected) {
				return "not asked" // rejected a moment ago: not put to the operator again yet
			}
		}
	}
	return "-"
}

// summary is the one line Run returns: mode, pending, in flight.
func summary(st engine.Status) string {
	flight := "nothing in flight"
	if f := st.InFlight; f != nil {
		flight = fmt.Sprintf("in flight %d → %d (%s)", f.From, f.To, shortID(f.DecisionID))
	}
	return fmt.Sprintf("scalepilot: mode %s, %d pending, %s, %d decisions",
		modeWord(st.Mode), st.Pending, flight, st.Decisions)
}
