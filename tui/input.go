package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/scalepilot/scalepilot/engine"
)

// onKey routes a key: ctrl+c always quits; then the open overlay, the
// history filter, and the main screen get it in that order.
func (m *model) onKey(k tea.KeyMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return tea.Quit
	}
	switch m.overlay {
	case ovHelp, ovLog, ovDetail:
		return m.onViewerKey(k)
	case ovConfirm:
		return m.onConfirmKey(k)
	case ovMode:
		return m.onModeKey(k)
	case ovScale:
		return m.onScaleKey(k)
	case ovPicker:
		return m.onPickerKey(k)
	}
	if m.filtering {
		return m.onFilterKey(k)
	}
	return m.onMainKey(k)
}

func (m *model) onMainKey(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	switch {
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Help):
		m.overlay = ovHelp
		m.helpView.GotoTop()
	case key.Matches(k, km.Back):
		m.back()
	case key.Matches(k, km.NextPane):
		m.cycleFocus(1)
	case key.Matches(k, km.PrevPane):
		m.cycleFocus(-1)
	case key.Matches(k, km.Pane1):
		m.focus = paneMetrics
	case key.Matches(k, km.Pane2):
		m.focus = panePending
	case key.Matches(k, km.Pane3):
		m.focus = paneReasoning
	case key.Matches(k, km.Pane4):
		m.focus = paneHistory
	case key.Matches(k, km.Down, km.Up, km.Top, km.Bottom, km.HalfDown, km.HalfUp):
		m.move(k)
	case key.Matches(k, km.Open):
		m.open()
	case key.Matches(k, km.Filter):
		m.focus = paneHistory
		m.filtering = true
		m.filter.Focus()
	case m.stopped != "" && key.Matches(k, km.Approve, km.Reject, km.Mode, km.Models, km.DecideNow, km.Scale):
		// the engine no longer takes commands: say so now rather than
		// after a command times out
		m.say(levelWarn, "no more decisions: %s; nothing to %s. Press q to leave", m.stopped, k.String())
	case key.Matches(k, km.Approve):
		return m.approve()
	case key.Matches(k, km.Reject):
		return m.reject()
	case key.Matches(k, km.Mode):
		m.openModeMenu()
	case key.Matches(k, km.Models):
		return m.openPicker()
	case key.Matches(k, km.DecideNow):
		m.say(levelInfo, "decision requested")
		return controlCmd("decide now", func() error { m.o.Controller.DecideNow(); return nil })
	case key.Matches(k, km.Scale):
		m.openScale()
	case key.Matches(k, km.Follow):
		m.follow = !m.follow
		m.rsDirty = true
		m.say(levelInfo, "reasoning autoscroll %s", onOff(m.follow))
	case key.Matches(k, km.Wrap):
		m.wrap = !m.wrap
		m.rsDirty = true
		m.say(levelInfo, "reasoning wrap %s", onOff(m.wrap))
	case key.Matches(k, km.Full):
		m.full = !m.full
	case key.Matches(k, km.Freeze):
		m.toggleFreeze()
	case key.Matches(k, km.Log):
		m.overlay = ovLog
		m.logView.SetContent(m.logText())
		m.logView.GotoBottom()
	case key.Matches(k, km.Redraw):
		return tea.ClearScreen
	default:
		if k.Type == tea.KeyRunes {
			m.say(levelInfo, "%s does nothing here; press ? for the keys", k.String())
		}
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// back is esc on the main screen: it closes, clears or dismisses, in that
// order, and never quits or approves.
func (m *model) back() {
	switch {
	case m.toast.level >= levelWarn && m.toast.text != "":
		m.toast = message{}
	case m.full:
		m.full = false
	case m.filter.Value() != "":
		m.filter.SetValue("")
		m.hcur = 0
	default:
		m.toast = message{}
	}
}

func (m *model) cycleFocus(step int) {
	for range paneCount {
		m.focus = (m.focus + pane(step) + paneCount) % paneCount
		if m.focus != panePending || len(m.cards) > 0 || m.wide() {
			return
		}
	}
}

// move handles the navigation keys for the focused pane.
func (m *model) move(k tea.KeyMsg) {
	km := m.keys
	switch m.focus {
	case panePending:
		_, i, ok := m.selected()
		if !ok {
			return
		}
		switch {
		case key.Matches(k, km.Down):
			i++
		case key.Matches(k, km.Up):
			i--
		case key.Matches(k, km.Top):
			i = 0
		case key.Matches(k, km.Bottom):
			i = len(m.cards) - 1
		}
		i = max(0, min(i, len(m.cards)-1))
		m.sel = m.cards[i].p.Decision.ID
	case paneReasoning:
		switch {
		case key.Matches(k, km.Down):
			m.vp.ScrollDown(1)
		case key.Matches(k, km.Up):
			m.vp.ScrollUp(1)
		case key.Matches(k, km.Top):
			m.vp.GotoTop()
		case key.Matches(k, km.Bottom):
			m.vp.GotoBottom()
		case key.Matches(k, km.HalfDown):
			m.vp.HalfPageDown()
		case key.Matches(k, km.HalfUp):
			m.vp.HalfPageUp()
		}
		// reading back switches autoscroll off; reaching the end turns it on
		m.follow = m.vp.AtBottom()
	case paneHistory:
		n := len(m.historyRows())
		page := max(1, m.lay.history.h/2)
		switch {
		case key.Matches(k, km.Down):
			m.hcur++
		case key.Matches(k, km.Up):
			m.hcur--
		case key.Matches(k, km.Top):
			m.hcur = 0
		case key.Matches(k, km.Bottom):
			m.hcur = n - 1
		case key.Matches(k, km.HalfDown):
			m.hcur += page
		case key.Matches(k, km.HalfUp):
			m.hcur -= page
		}
		m.hcur = max(0, min(m.hcur, n-1))
	}
}

// open shows the whole record of the selected card or history row.
func (m *model) open() {
	var d *engine.Decision
	switch m.focus {
	case panePending:
		if c, _, ok := m.selected(); ok {
			d = &c.p.Decision
		}
	case paneHistory:
		rows := m.historyRows()
		if m.hcur < len(rows) {
			d = rows[m.hcur]
		}
	}
	if d == nil {
		m.say(levelInfo, "select a card (2) or a history row (4) to open it")
		return
	}
	m.overlay = ovDetail
	m.lay = layout{} // size the viewer before filling it
	m.relayout()
	m.detail.SetContent(m.detailText(d))
	m.detail.GotoTop()
}

func (m *model) toggleFreeze() {
	m.frozen = !m.frozen
	if m.frozen {
		m.say(levelInfo, "charts frozen; cards and the control loop stay live (Z resumes)")
		return
	}
	if m.held != nil {
		m.applyMetrics(*m.held)
		m.held = nil
	}
	m.say(levelInfo, "charts live")
}

// approve is y on the selected card. It refuses an expired card, and a card
// that appeared or changed within changeGuard (the screen may lag behind
// the key). A scale-in asks once more, with No focused.
func (m *model) approve() tea.Cmd {
	c, _, ok := m.selected()
	if !ok {
		m.say(levelInfo, "no action waits for approval")
		return nil
	}
	d := c.p.Decision
	id := shortID(d.ID)
	if c.expired(m.now) {
		m.say(levelWarn, "card %s expired at %s; it will not be applied", id, c.p.Expires.Format("15:04:05"))
		return nil
	}
	if m.answerHeld("y") {
		return nil
	}
	changed := c.changedAt
	if m.selChangedAt.After(changed) {
		changed = m.selChangedAt
	}
	if age := m.now.Sub(changed); age < changeGuard {
		m.say(levelWarn, "card %s is %s new; y ignored: read it, then press y again in %s",
			id, age.Round(100*time.Millisecond), (changeGuard - age).Round(100*time.Millisecond))
		return nil
	}
	if d.Action == engine.ActionScaleIn {
		m.dlg = confirm{
			opened: m.now,
			kind:   confirmScaleIn, id: d.ID, print: c.print,
			title: fmt.Sprintf("Approve scale-in %s?", id),
			lines: []string{
				fmt.Sprintf("%d → %d instances: removes %d.", d.Current, d.Desired, d.Current-d.Desired),
				oneLine(d.Message),
			},
			no:  fmt.Sprintf("Keep %d", d.Current),
			yes: fmt.Sprintf("Scale in to %d", d.Desired),
		}
		m.overlay = ovConfirm
		return nil
	}
	return m.approveCmd(c)
}

// answerHeld refuses y or n (k) while answerHold lasts: a dialog was withdrawn
// under the operator, so the key was likely meant for it, not for the card
// that took its place.
func (m *model) answerHeld(k string) bool {
	if !m.now.Before(m.answerHold) {
		return false
	}
	c, _, _ := m.selected()
	d := c.p.Decision
	m.say(levelWarn, "%s ignored: the card changed: read the new one (%s %s %d → %d), then press %s",
		k, shortID(d.ID), actionWord(d.Action), d.Current, d.Desired, k)
	return true
}

func (m *model) approveCmd(c card) tea.Cmd {
	d := c.p.Decision
	id := d.ID
	m.o.Logger.Info("approve", "decision_id", id, "from", d.Current, "to", d.Desired)
	m.say(levelInfo, "approving %s (%d → %d)…", shortID(id), d.Current, d.Desired)
	ctl := m.o.Controller
	return controlCmd("approve "+shortID(id), func() error { return ctl.Approve(id) })
}

// reject is n on the selected card; rejecting is the safe direction, so it
// needs no second key.
func (m *model) reject() tea.Cmd {
	c, _, ok := m.selected()
	if !ok {
		m.say(levelInfo, "no action waits for approval")
		return nil
	}
	id := c.p.Decision.ID
	if c.expired(m.now) {
		m.say(levelWarn, "card %s already expired; nothing will be applied", shortID(id))
		return nil
	}
	if m.answerHeld("n") {
		return nil
	}
	m.o.Logger.Info("reject", "decision_id", id)
	m.say(levelInfo, "rejecting %s…", shortID(id))
	ctl := m.o.Controller
	return controlCmd("reject "+shortID(id), func() error { return ctl.Reject(id) })
}

// onViewerKey handles the help, message log and record views.
func (m *model) onViewerKey(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	vp := &m.detail
	switch m.overlay {
	case ovLog:
		vp = &m.logView
	case ovHelp:
		vp = &m.helpView
	}
	switch {
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Back), key.Matches(k, km.Help) && m.overlay == ovHelp,
		key.Matches(k, km.Log) && m.overlay == ovLog, key.Matches(k, km.Open) && m.overlay == ovDetail:
		m.overlay = ovNone
	case key.Matches(k, km.Down):
		vp.ScrollDown(1)
	case key.Matches(k, km.Up):
		vp.ScrollUp(1)
	case key.Matches(k, km.Top):
		vp.GotoTop()
	case key.Matches(k, km.Bottom):
		vp.GotoBottom()
	case key.Matches(k, km.HalfDown):
		vp.HalfPageDown()
	case key.Matches(k, km.HalfUp):
		vp.HalfPageUp()
	}
	return nil
}

// confirmKind says what a confirmation dialog does on yes.
type confirmKind int

const (
	confirmScaleIn confirmKind = iota
	confirmAuto
	confirmScale
)

// confirm is a yes/no dialog. Focus starts on no; buttons name the effect.
type confirm struct {
	kind     confirmKind
	title    string
	lines    []string
	yes, no  string
	focusYes bool
	id       string // confirmScaleIn: the card
	print    string // the card as it was when the dialog opened
	opened   time.Time
	n        int // confirmScale: the capacity asked for
}

func (m *model) onConfirmKey(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	switch {
	case key.Matches(k, km.Yes):
		// a second y a moment after the one that opened the dialog is a
		// double press, not an answer to a question not yet read
		if age := m.now.Sub(m.dlg.opened); m.dlg.kind == confirmScaleIn && age < dialogGuard {
			m.say(levelWarn, "y ignored: the question opened %s ago; read it, then press y",
				age.Round(100*time.Millisecond))
			return nil
		}
		return m.confirmYes()
	case key.Matches(k, km.No):
		m.overlay = ovNone
		m.say(levelInfo, "%s", m.dlg.no)
	case key.Matches(k, km.Swap):
		m.dlg.focusYes = !m.dlg.focusYes
	case key.Matches(k, km.Press):
		if m.dlg.focusYes {
			return m.confirmYes()
		}
		m.overlay = ovNone
		m.say(levelInfo, "%s", m.dlg.no)
	case key.Matches(k, km.Quit):
		return tea.Quit
	}
	return nil
}

func (m *model) confirmYes() tea.Cmd {
	m.overlay = ovNone
	switch m.dlg.kind {
	case confirmScaleIn:
		c, ok := m.cardByID(m.dlg.id)
		switch {
		case !ok:
			m.say(levelWarn, "card %s is no longer pending; nothing was approved", shortID(m.dlg.id))
			return nil
		case c.print != m.dlg.print:
			m.say(levelWarn, "card %s changed while you were confirming; look at it again", shortID(m.dlg.id))
			return nil
		case c.expired(m.now):
			m.say(levelWarn, "card %s expired; it will not be applied", shortID(m.dlg.id))
			return nil
		}
		return m.approveCmd(c)
	case confirmAuto:
		return m.setMode(engine.ModeAuto)
	case confirmScale:
		n := m.dlg.n
		m.o.Logger.Info("manual scale", "to", n)
		m.say(levelInfo, "asking the engine to scale to %d…", n)
		ctl := m.o.Controller
		return controlCmd(fmt.Sprintf("scale to %d", n), func() error { return ctl.ScaleTo(n) })
	}
	return nil
}

// modes is the mode menu's order.
var modes = [...]engine.Mode{engine.ModeApprove, engine.ModeDryRun, engine.ModeAuto}

// modeHelp explains each mode in the menu.
func modeHelp(md engine.Mode) string {
	switch md {
	case engine.ModeAuto:
		return "apply every decision without asking"
	case engine.ModeApprove:
		return "ask before each capacity change"
	}
	return "decide and record only; never change capacity"
}

func (m *model) openModeMenu() {
	m.overlay = ovMode
	m.modeCur = 0
	for i, md := range modes {
		if md == m.mode() {
			m.modeCur = i
		}
	}
}

func (m *model) onModeKey(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	switch {
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Back):
		m.overlay = ovNone
	case key.Matches(k, km.Down):
		m.modeCur = (m.modeCur + 1) % len(modes)
	case key.Matches(k, km.Up):
		m.modeCur = (m.modeCur + len(modes) - 1) % len(modes)
	case key.Matches(k, km.Open):
		return m.chooseMode(modes[m.modeCur])
	default:
		switch k.String() {
		case "a":
			return m.chooseMode(engine.ModeAuto)
		case "p":
			return m.chooseMode(engine.ModeApprove)
		case "d":
			return m.chooseMode(engine.ModeDryRun)
		}
	}
	return nil
}

// chooseMode applies a mode now, except auto, which asks first.
func (m *model) chooseMode(md engine.Mode) tea.Cmd {
	m.overlay = ovNone
	cur := m.mode()
	if md == cur {
		m.say(levelInfo, "already in %s mode", modeWord(md))
		return nil
	}
	if md == engine.ModeAuto {
		m.dlg = confirm{
			opened: m.now,
			kind:   confirmAuto,
			title:  "Switch to AUTO?",
			lines: []string{
				"From the next decision scalepilot changes capacity without asking.",
				"Guardrails (min, max, step, cooldown) still apply.",
			},
			no:  "Stay " + modeWord(cur),
			yes: "Switch to AUTO",
		}
		m.overlay = ovConfirm
		return nil
	}
	return m.setMode(md)
}

func (m *model) setMode(md engine.Mode) tea.Cmd {
	m.o.Logger.Info("set mode", "mode", string(md))
	m.say(levelInfo, "switching to %s…", modeWord(md))
	ctl := m.o.Controller
	return controlCmd("mode "+modeWord(md), func() error { return ctl.SetMode(md) })
}

func (m *model) openScale() {
	m.overlay = ovScale
	m.scaleIn.SetValue(strconv.Itoa(m.capacity()))
	m.scaleIn.CursorEnd()
	m.scaleIn.Focus()
}

// capacity is the best-known current capacity.
func (m *model) capacity() int {
	if m.status.Capacity > 0 {
		return m.status.Capacity
	}
	return m.state.Capacity
}

func (m *model) onScaleKey(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.overlay = ovNone
		m.scaleIn.Blur()
		return nil
	case "enter":
		return m.submitScale()
	}
	if k.Type == tea.KeyRunes && digitsOnly(string(k.Runes)) != nil {
		m.say(levelInfo, "digits only: type the number of instances, then enter; esc cancels")
		return nil
	}
	var cmd tea.Cmd
	m.scaleIn, cmd = m.scaleIn.Update(k)
	return cmd
}

// submitScale checks the asked capacity against min and max, then asks for
// confirmation with "keep" focused.
func (m *model) submitScale() tea.Cmd {
	v := strings.TrimSpace(m.scaleIn.Value())
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		m.say(levelWarn, "type a number of instances (1 or more), then enter; esc cancels")
		return nil
	}
	lo, hi := m.status.Min, m.status.Max
	if hi > 0 && (n < lo || n > hi) {
		m.say(levelWarn, "%d is outside min %d and max %d; type a number in that range", n, lo, hi)
		return nil
	}
	cur := m.capacity()
	if n == cur {
		m.say(levelInfo, "the scale set already has %d instances", n)
		m.overlay = ovNone
		return nil
	}
	m.scaleIn.Blur()
	m.dlg = confirm{
		opened: m.now,
		kind:   confirmScale,
		n:      n,
		title:  fmt.Sprintf("Scale %d → %d?", cur, n),
		lines: []string{
			fmt.Sprintf("A manual change of %s instances, recorded with reason manual.", signed(n-cur)),
			"The engine still checks min, max and any action in flight.",
		},
		no:  fmt.Sprintf("Keep %d", cur),
		yes: fmt.Sprintf("Scale to %d", n),
	}
	if m.mode() == engine.ModeDryRun {
		m.dlg.lines = append(m.dlg.lines, "DRY-RUN: the engine records it and changes nothing.")
	}
	m.overlay = ovConfirm
	return nil
}

func (m *model) onFilterKey(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.filter.SetValue("")
		m.filtering = false
		m.filter.Blur()
		m.hcur = 0
		return nil
	case "enter":
		m.filtering = false
		m.filter.Blur()
		return nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(k)
	m.hcur = 0
	return cmd
}

func (m *model) onMouse(ev tea.MouseMsg) {
	if ev.Action != tea.MouseActionPress {
		return
	}
	switch ev.Button {
	case tea.MouseButtonWheelUp:
		m.scrollAt(ev.Y, -3)
	case tea.MouseButtonWheelDown:
		m.scrollAt(ev.Y, 3)
	}
}

func (m *model) scrollAt(y, d int) {
	switch {
	case m.overlay == ovDetail:
		if d < 0 {
			m.detail.ScrollUp(-d)
		} else {
			m.detail.ScrollDown(d)
		}
	case m.lay.history.contains(y) && m.focus == paneHistory:
		m.hcur = max(0, min(m.hcur+d, len(m.historyRows())-1))
	default:
		if d < 0 {
			m.vp.ScrollUp(-d)
		} else {
			m.vp.ScrollDown(d)
		}
		m.follow = m.vp.AtBottom()
	}
}
