package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/scalepilot/scalepilot/engine"
)

// drawOverlay draws the open dialog or viewer over the composed screen.
func (m *model) drawOverlay(base string) string {
	lines := strings.Split(base, "\n")
	var r rect
	var box []string
	big := m.lay.overlay
	switch m.overlay {
	case ovHelp:
		r, box = big, m.frame(big, "Help", "j/k scroll · ? or esc closes", true,
			append(strings.Split(m.helpView.View(), "\n"), m.scrollNote(m.helpView.ScrollPercent())))
	case ovDetail:
		r, box = big, m.frame(big, "Decision record", "j/k scroll · esc closes", true,
			append(strings.Split(m.detail.View(), "\n"), m.scrollNote(m.detail.ScrollPercent())))
	case ovLog:
		r, box = big, m.frame(big, "Messages", "j/k scroll · esc closes", true,
			strings.Split(m.logView.View(), "\n"))
	case ovPicker:
		r, box = big, m.frame(big, "Models", "", true, m.pickerLines(big.w-4, big.h-2))
	case ovConfirm:
		r, box = m.dialog(m.dlg.title, m.confirmLines())
	case ovMode:
		r, box = m.dialog("Mode", m.modeLines())
	case ovScale:
		r, box = m.dialog("Scale to…", m.scaleLines())
	default:
		return base
	}
	for i, bl := range box {
		y := r.y + i
		if y < 0 || y >= len(lines) {
			continue
		}
		lines[y] = splice(lines[y], r.x, r.w, bl)
	}
	return strings.Join(lines, "\n")
}

// splice replaces cells [x, x+w) of line with s (w cells wide).
func splice(line string, x, w int, s string) string {
	left := ansi.Truncate(line, x, "")
	if strings.IndexByte(left, 0x1b) >= 0 {
		left += "\x1b[0m"
	}
	return left + s + ansi.TruncateLeft(line, x+w, "")
}

// dialog sizes a small centred box for body.
func (m *model) dialog(title string, body []string) (rect, []string) {
	w := min(m.w-4, 72)
	for _, l := range body {
		w = max(w, min(m.w-4, ansi.StringWidth(l)+4))
	}
	h := min(m.h-2, len(body)+2)
	r := rect{(m.w - w) / 2, (m.h - h) / 2, w, h}
	return r, m.frame(r, title, "", true, body)
}

func (m *model) scrollNote(pct float64) string {
	return m.st.Dim.Render(fmt.Sprintf("%3.0f%%", pct*100))
}

func (m *model) confirmLines() []string {
	st := m.st
	d := m.dlg
	out := append([]string{}, d.lines...)
	// the focused button is marked in reverse video and with ▸, so that it
	// shows without colours and without attributes too
	no, yes := "[ "+d.no+" ]", "[ "+d.yes+" ]"
	if d.focusYes {
		no, yes = "  "+st.ButtonOff.Render(no), "▸ "+st.ButtonOn.Render(yes)
	} else {
		no, yes = "▸ "+st.ButtonOn.Render(no), "  "+st.ButtonOff.Render(yes)
	}
	out = append(out, "", no+"  "+yes, "",
		st.Dim.Render("y yes · n or esc no · tab moves · enter presses the focused button"))
	return out
}

func (m *model) modeLines() []string {
	st := m.st
	out := []string{"The mode applies from the next decision."}
	letters := map[engine.Mode]string{engine.ModeApprove: "p", engine.ModeDryRun: "d", engine.ModeAuto: "a"}
	for i, md := range modes {
		line := fmt.Sprintf("%s  %-8s %s", letters[md], modeWord(md), modeHelp(md))
		if md == engine.ModeAuto {
			line += " (asks first)"
		}
		if md == m.mode() {
			line += "  ← now"
		}
		if i == m.modeCur {
			line = st.Selected.Render("▸ " + line)
		} else {
			line = "  " + line
		}
		out = append(out, line)
	}
	return append(out, "", st.Dim.Render("p d a choose · j/k and enter · esc cancels"))
}

func (m *model) scaleLines() []string {
	st := m.st
	lim := ""
	if m.status.Max > 0 {
		lim = fmt.Sprintf(" (min %d, max %d)", m.status.Min, m.status.Max)
	}
	return []string{
		fmt.Sprintf("Manual capacity; now %d%s.", m.capacity(), lim),
		m.scaleIn.View(),
		"",
		st.Dim.Render("enter continues to a confirmation · esc cancels"),
	}
}

// helpText is the full key map, its groups packed side by side as far as
// width w allows, then a few notes, wrapped to w.
func (m *model) helpText(w int) string {
	if w <= 0 {
		return ""
	}
	h := m.help
	h.Width = 0 // measure each group whole
	const gap = "    "
	var out, row []string
	rowW := 0
	flush := func() {
		if len(row) == 0 {
			return
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, row...), "\n")...)
		row, rowW = nil, 0
	}
	for _, g := range m.keys.fullHelp() {
		col := h.FullHelpView([][]key.Binding{g})
		cw := lipgloss.Width(col)
		if len(row) > 0 && rowW+len(gap)+cw > w {
			flush()
		}
		if len(row) > 0 {
			col = lipgloss.JoinHorizontal(lipgloss.Top, gap, col)
			cw += len(gap)
		}
		row = append(row, col)
		rowW += cw
	}
	flush()
	out = append(out, "")
	notes := []string{
		"Panes: 1 metrics, 2 capacity and pending cards, 3 the advisor's reasoning, 4 decision history.",
		"y approves the selected card; a scale-in asks once more with Keep focused. " +
			fmt.Sprintf("A card ignores y for %s after it appears or changes. Unanswered cards expire and are never applied.", changeGuard),
		"Chart labels marked ~ or \"derived from demand\" are modelled from the demo's demand, not measured. " +
			"Thresholds show as a dotted row (···); a blank column is a gap in the data, not zero.",
		"With --mouse on, hold Shift while dragging to select text.",
	}
	for _, n := range notes {
		out = append(out, placeLine(n, w, true)...)
	}
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
	}
	return joinLines(out)
}

// logText is the message log, oldest first.
func (m *model) logText() string {
	st := m.st
	if len(m.msgs) == 0 {
		return st.Dim.Render("No messages yet.")
	}
	lines := make([]string, 0, len(m.msgs))
	for _, msg := range m.msgs {
		tag := "info "
		switch msg.level {
		case levelWarn:
			tag = st.Warn.Render("warn ")
		case levelError:
			tag = st.Bad.Render("error")
		}
		for _, l := range placeLine(msg.at.Format("15:04:05")+" "+tag+" "+msg.text, m.detail.Width, true) {
			lines = append(lines, l)
		}
	}
	return joinLines(lines)
}

// detailText is one decision's whole record: a readable summary, the events
// that name it, then the record as JSON (the journal's schema).
func (m *model) detailText(d *engine.Decision) string {
	st := m.st
	w := max(20, m.detail.Width)
	var out []string
	add := func(s string) { out = append(out, placeLine(s, w, true)...) }
	add(st.Title.Render(fmt.Sprintf("Decision %s", d.ID)) + st.Dim.Render("  "+d.TS.Format("2006-01-02 15:04:05 MST")))
	add(fmt.Sprintf("%s %d → %d   reason %s   mode %s   outcome %s", actionWord(d.Action), d.Current, d.Desired,
		d.Reason, modeWord(d.Mode), m.outcome(d)))
	add(fmt.Sprintf("advisor %s %s   confidence %s   recommended %d   rules recommended %d",
		d.Advisor, oneLine(d.Model), conf(d.Confidence), d.Recommended, d.RulesRecommended))
	if d.Message != "" {
		add("message: " + oneLine(d.Message))
	}
	if d.Error != "" {
		add(st.Bad.Render("error: " + oneLine(d.Error)))
	}
	if len(d.Edits) > 0 {
		add("guardrails: " + editsText(d.Edits))
	}
	add("inputs:")
	for _, name := range engine.MetricNames {
		s := d.Inputs.Get(name)
		line := fmt.Sprintf("  %-11s %s", name, summaryText(*s))
		if s.Available {
			line += fmt.Sprintf("  min %s max %s  age %.0fs  gaps %d", metricValue(s.Min, s.Unit),
				metricValue(s.Max, s.Unit), s.AgeSec, s.Gaps)
		}
		if s.Derived {
			line += "  derived"
		}
		if s.Err != "" {
			line += "  error: " + oneLine(s.Err)
		}
		add(line)
	}
	for _, a := range d.Attempts {
		e := "ok"
		if a.Error != "" {
			e = oneLine(a.Error)
		}
		add(fmt.Sprintf("attempt %d %s %dms: %s", a.Try, oneLine(a.Model), a.DurationMS, e))
	}
	if evs := m.events[d.ID]; len(evs) > 0 {
		add("events:")
		for _, ev := range evs {
			line := fmt.Sprintf("  %s %s", ev.TS.Format("15:04:05"), ev.Type)
			if ev.Outcome != "" {
				line += " " + ev.Outcome
			}
			if ev.By != "" {
				line += " by " + ev.By
			}
			if ev.Error != "" {
				line += ": " + oneLine(ev.Error)
			}
			add(line)
		}
	}
	if d.Reasoning != "" {
		add("")
		add("reasoning:")
		for _, l := range strings.Split(cleanText(d.Reasoning), "\n") {
			add("  " + l)
		}
	}
	add("")
	add(st.Dim.Render("record (JSON):"))
	js, err := recordJSON(d)
	if err != nil {
		add(st.Bad.Render("cannot encode the record: " + err.Error()))
	}
	for _, l := range strings.Split(cleanText(string(js)), "\n") {
		add(l)
	}
	return joinLines(out)
}

// recordJSON is a record as indented JSON for people: <, > and & stay as
// they are (json.Marshal would write "8 -\u003e 9").
func recordJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
