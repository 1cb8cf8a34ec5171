package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/llm"
)

// screen collects blocks of lines and joins them into rows. Blocks on one
// row must tile it from x 0 to the full width.
type screen struct {
	w    int
	rows [][]piece
}

type piece struct {
	x int
	s string
}

func newScreen(w, h int) *screen { return &screen{w: w, rows: make([][]piece, h)} }

// put places lines (each r.w wide) at r; missing lines are blank.
func (s *screen) put(r rect, lines []string) {
	for i := 0; i < r.h; i++ {
		y := r.y + i
		if y < 0 || y >= len(s.rows) {
			continue
		}
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		s.rows[y] = append(s.rows[y], piece{r.x, fit(l, r.w)})
	}
}

// putExact is put for lines known to be exactly r.w cells wide (frames),
// which saves measuring them again.
func (s *screen) putExact(r rect, lines []string) {
	if len(lines) != r.h {
		s.put(r, lines)
		return
	}
	for i, l := range lines {
		if y := r.y + i; y >= 0 && y < len(s.rows) {
			s.rows[y] = append(s.rows[y], piece{r.x, l})
		}
	}
}

func (s *screen) String() string {
	var b strings.Builder
	b.Grow(len(s.rows) * (s.w + 16))
	for y, ps := range s.rows {
		if y > 0 {
			b.WriteByte('\n')
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].x < ps[j].x })
		if len(ps) == 0 {
			b.WriteString(strings.Repeat(" ", s.w))
		}
		for _, p := range ps {
			b.WriteString(p.s)
		}
	}
	return b.String()
}

// View draws the dashboard. It only composes: charts and the reasoning
// viewport were drawn in Update.
func (m *model) View() string {
	l := m.lay
	if m.w == 0 || m.h == 0 {
		return "starting…"
	}
	if l.small {
		return m.tooSmallView()
	}
	sc := newScreen(m.w, m.h)
	sc.put(rect{0, 0, m.w, headerRows}, m.headerLines())
	put := sc.put
	if l.wide || l.full {
		put = sc.putExact // framed panes
	}
	if r := l.metrics; r.w > 0 {
		put(r, m.metricsLines(r))
	}
	if r := l.pending; r.w > 0 {
		put(r, m.pendingLines(r))
	}
	if r := l.reasoning; r.w > 0 {
		put(r, m.reasoningLines(r))
	}
	if r := l.history; r.w > 0 {
		put(r, m.historyLines(r))
	}
	sc.put(rect{0, m.h - footerRows, m.w, footerRows}, []string{m.toastLine(), m.footerLine()})
	out := sc.String()
	if m.overlay != ovNone {
		out = m.drawOverlay(out)
	}
	return out
}

func (m *model) tooSmallView() string {
	lines := []string{
		fmt.Sprintf("scalepilot needs at least %d×%d;", minWidth, minHeight),
		fmt.Sprintf("this terminal is %d×%d.", m.w, m.h),
		"Enlarge the window or zoom out.",
		"q quits.",
	}
	out := make([]string, 0, m.h)
	for i := 0; i < m.h; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		out = append(out, fit(l, m.w))
	}
	return strings.Join(out, "\n")
}

// ---- frames ----

// frame draws a bordered pane with its title in the top border.
func (m *model) frame(r rect, title, extra string, focused bool, body []string) []string {
	bs, ts := m.st.Border, m.st.PaneTitle
	if focused {
		bs, ts = m.st.BorderFocused, m.st.PaneTitleOn
	}
	inner := r.w - 4
	head := ts.Render(title) + " "
	if extra != "" {
		head += m.st.Dim.Render(extra) + " "
	}
	if ansi.StringWidth(head) > r.w-5 {
		head = ansi.Truncate(head, r.w-5, "…")
	}
	fill := r.w - 4 - ansi.StringWidth(head)
	out := make([]string, 0, r.h)
	out = append(out, bs.Render("╭─ ")+head+bs.Render(strings.Repeat("─", max(0, fill))+"╮"))
	side := bs.Render("│")
	for i := 0; i < r.h-2; i++ {
		l := ""
		if i < len(body) {
			l = body[i]
		}
		out = append(out, side+" "+fit(l, inner)+" "+side)
	}
	out = append(out, bs.Render("╰"+strings.Repeat("─", max(0, r.w-2))+"╯"))
	return out
}

// rule draws a compact pane's title row.
func (m *model) rule(w int, title, extra string, focused bool) string {
	bs, ts := m.st.Border, m.st.PaneTitle
	if focused {
		bs, ts = m.st.BorderFocused, m.st.PaneTitleOn
	}
	head := bs.Render("── ") + ts.Render(title) + " "
	if extra != "" {
		head += m.st.Dim.Render(extra) + " "
	}
	hw := ansi.StringWidth(head)
	if hw >= w {
		return fit(head, w)
	}
	return head + bs.Render(strings.Repeat("─", w-hw))
}

// indent prefixes each line with a space (compact panes have no frame).
func indent(ls []string) []string {
	for i := range ls {
		ls[i] = " " + ls[i]
	}
	return ls
}

// ---- header ----

func (m *model) headerLines() []string {
	st := m.st
	title := m.o.Title
	if title == "" {
		title = m.status.ScaleSet
	}
	if m.o.Demo {
		title = "demo: " + title
	}
	sku := m.o.VMSize
	if sku == "" {
		sku = m.state.SKU
	}
	// in order of importance: later parts are dropped when the line is full
	left := []string{st.Title.Render("scalepilot"), ansi.Truncate(oneLine(title), 40, "…"), m.modeBadge()}
	if m.mode() == engine.ModeDryRun && m.haveStatus {
		left = append(left, st.Warn.Render("nothing is applied"))
	}
	if m.stale() {
		left = append(left, st.BadgeAlert.Render(" STALE "))
	}
	if m.frozen {
		left = append(left, st.BadgeAlert.Render(" FROZEN "))
	}
	if m.notesClosed {
		left = append(left, st.BadgeAlert.Render(" ENGINE STOPPED "))
	}
	if sku != "" {
		left = append(left, oneLine(sku))
	}
	if m.state.Location != "" && m.state.Location != sku {
		left = append(left, oneLine(m.state.Location))
	}
	next := m.nextText() + " "
	l1 := spreadRight(" "+joinFit(left, "  ", m.w-2-ansi.StringWidth(next)), next, m.w)

	models := m.status.Models
	ollama := st.OK.Render("ollama ok")
	if m.haveStatus && !m.status.ModelOK {
		ollama = st.Bad.Render(m.modelTrouble() + ": rules decide")
	}
	if !m.haveStatus {
		ollama = st.Dim.Render("ollama ?")
	}
	l2left := []string{
		st.Dim.Render("models"),
		oneLine(orDash(models.Primary)) + st.Dim.Render(" → ") + oneLine(orDash(models.Fallback)),
		ollama,
	}
	right := fmt.Sprintf("decisions %d", m.status.Decisions)
	if in := m.inputs.CPU; m.haveMetrics && in.Available {
		right += " · data " + short(time.Duration(in.AgeSec*float64(time.Second))) + " old"
	}
	l2 := spread(" "+joinFit(l2left, "  ", m.w-2), st.Dim.Render(right)+" ", m.w)
	return []string{l1, l2}
}

// modelTrouble says why the model did not decide, from the last advice:
// the server could not be reached, it answered but the answer was
// rejected (out of range, unparsable), it failed otherwise, or it was not
// asked at all. An advisor other than llm's may not wrap llm's errors, so
// their text counts too.
func (m *model) modelTrouble() string {
	a := m.advice
	if a == nil {
		return "ollama not answering"
	}
	err := a.ModelErr
	if err == nil {
		return "model not asked"
	}
	is := func(target error) bool {
		return errors.Is(err, target) || strings.Contains(err.Error(), target.Error())
	}
	switch {
	case is(llm.ErrUnreachable):
		return "ollama not answering"
	case is(llm.ErrBadAnswer):
		return "model answer rejected"
	case errors.Is(err, context.DeadlineExceeded):
		return "ollama too slow"
	}
	return "model failed"
}

func (m *model) modeBadge() string {
	if !m.haveStatus {
		return m.st.Dim.Render("mode ?")
	}
	md := m.mode()
	text := " " + modeWord(md) + " "
	if m.st.NoColor {
		text = "[" + modeWord(md) + "]"
	}
	switch md {
	case engine.ModeAuto:
		return m.st.BadgeAuto.Render(text)
	case engine.ModeDryRun:
		return m.st.BadgeDryRun.Render(text)
	}
	return m.st.BadgeApprove.Render(text)
}

// stale reports whether the newest decision held for old or missing data.
func (m *model) stale() bool {
	d := m.status.LastDecision
	return d != nil && (d.Reason == engine.ReasonStaleMetrics || d.Reason == engine.ReasonMissingMetrics)
}

// nextText says when the next decision is due. Live runs count down in wall
// time; the demo runs on trace time, so it names the trace time instead.
func (m *model) nextText() string {
	st := m.status
	if m.notesClosed || m.stopped != "" {
		return m.st.Dim.Render("no more decisions")
	}
	next := st.NextDecision
	if next.IsZero() {
		next = m.tick.Next
	}
	if next.IsZero() {
		return m.st.Dim.Render("next decision: waiting")
	}
	if m.o.Demo {
		return "next step " + next.Format("15:04") + m.st.Dim.Render(" trace time")
	}
	if st.LastTick.IsZero() || st.LastTickWall.IsZero() {
		return "next " + next.Format("15:04:05")
	}
	left := next.Sub(st.LastTick) - m.now.Sub(st.LastTickWall)
	if left <= 0 {
		return "next decision: now"
	}
	return "next in " + clock(left)
}

// ---- metrics and capacity ----

func (m *model) metricsLines(r rect) []string {
	focused := m.focus == paneMetrics
	if m.lay.wide || m.lay.full {
		return m.frame(r, "1 Metrics", m.metricsExtra(), focused, m.chartBlocks())
	}
	half := r.w / 2
	row := func(a, b *chart) string {
		return fit(m.compactCell(a, half), half) + fit(m.compactCell(b, r.w-half), r.w-half)
	}
	return []string{
		row(&m.charts[0], &m.charts[1]),
		row(&m.charts[2], &m.charts[3]),
		" " + m.capacityLine(r.w-2),
	}
}

func (m *model) metricsExtra() string {
	parts := []string{}
	if m.lay.metrics.w > 0 && m.inputs.CPU.Available {
		parts = append(parts, "window "+short(m.windowLen()))
	}
	if m.frozen {
		parts = append(parts, "frozen")
	}
	return strings.Join(parts, " · ")
}

// windowLen is the span of the CPU series.
func (m *model) windowLen() time.Duration {
	ps := m.charts[0].series.Points
	if len(ps) < 2 {
		return 0
	}
	return ps[len(ps)-1].T.Sub(ps[0].T) + ps[1].T.Sub(ps[0].T)
}

// compactCell is one metric in a compact row: " CPU~ ▂▃▅▆ 78% ≥75%".
func (m *model) compactCell(c *chart, w int) string {
	st := m.st
	label := c.label
	if c.series.Derived {
		label += "~"
	}
	head := " " + st.Label.Render(fmt.Sprintf("%-4s", label)) + " "
	switch {
	case c.series.Err != "":
		return head + st.Bad.Render("unavailable: "+oneLine(c.series.Err))
	case !c.have:
		return head + st.Dim.Render("waiting for data")
	}
	val := "no data"
	if p, ok := c.series.Latest(); ok {
		val = metricValue(p.V, c.series.Unit)
	}
	vs := fmt.Sprintf("%6s", val)
	if c.hot() {
		vs = st.ChartHot.Render(fmt.Sprintf("%6s", "▲"+val))
	} else {
		vs = st.Value.Render(vs)
	}
	thr := ""
	if c.thr > 0 && c.series.Unit == engine.UnitPercent {
		thr = st.Dim.Render(fmt.Sprintf(" ≥%.0f%%", c.thr))
	}
	return head + c.view + " " + vs + thr
}

// chartBlocks is the framed metrics pane: per metric a label line and the
// chart.
func (m *model) chartBlocks() []string {
	var out []string
	for i := range m.charts {
		c := &m.charts[i]
		out = append(out, m.chartLabel(c))
		switch {
		case c.series.Err != "", !c.have:
			for range m.lay.chartH {
				out = append(out, "")
			}
		default:
			ls := c.lines()
			for j := range m.lay.chartH {
				if j < len(ls) {
					out = append(out, ls[j])
				} else {
					out = append(out, "")
				}
			}
		}
	}
	return out
}

// chartLabel is a chart's title line: name, current value, threshold,
// range, and the derived marker.
func (m *model) chartLabel(c *chart) string {
	st := m.st
	names := map[engine.MetricName]string{
		engine.MetricCPU: "CPU", engine.MetricMemory: "Memory",
		engine.MetricNetIn: "Network in", engine.MetricNetOut: "Network out",
	}
	parts := []string{st.Label.Render(names[c.name])}
	switch {
	case c.series.Err != "":
		return parts[0] + "  " + st.Bad.Render("unavailable: "+oneLine(c.series.Err))
	case !c.have:
		return parts[0] + "  " + st.Dim.Render("waiting for data")
	}
	if p, ok := c.series.Latest(); ok {
		v := metricValue(p.V, c.series.Unit)
		if c.hot() {
			v = st.ChartHot.Render(v + " above threshold")
		} else {
			v = st.Value.Render(v)
		}
		parts = append(parts, v)
	} else {
		parts = append(parts, st.Warn.Render("no data in window"))
	}
	// what changes the meaning of the chart first: joinFit drops the tail
	if c.series.Derived {
		parts = append(parts, st.Warn.Render("derived from demand"))
	}
	if s := c.sum; s.Gaps > 0 {
		parts = append(parts, st.Warn.Render(plural(s.Gaps, "gap")))
	}
	if c.series.Unit == engine.UnitRelative {
		parts = append(parts, st.Dim.Render("relative scale"))
	}
	if c.thr > 0 && c.series.Unit == engine.UnitPercent {
		parts = append(parts, st.Dim.Render(fmt.Sprintf("threshold %.0f%% ···", c.thr)))
	}
	if s := c.sum; s.Points > 0 {
		parts = append(parts, st.Dim.Render(fmt.Sprintf("min %s max %s",
			metricValue(s.Min, c.series.Unit), metricValue(s.Max, c.series.Unit))))
	}
	return joinFit(parts, "  ", m.lay.chartW)
}

// recs returns the model's and the rule advisor's recommendations, when
// known.
func (m *model) recs() (model, rules int, haveModel, haveRules bool) {
	if a := m.advice; a != nil {
		if a.ModelErr == nil && a.Model.Advisor == engine.AdvisorModel {
			model, haveModel = a.Model.Recommended, true
		}
		return model, a.Rules.Recommended, haveModel, true
	}
	if d := m.status.LastDecision; d != nil {
		if d.Advisor == engine.AdvisorModel {
			model, haveModel = d.Recommended, true
		}
		return model, d.RulesRecommended, haveModel, true
	}
	return 0, 0, false, false
}

// capacityLine is capacity in one row for the compact layout.
func (m *model) capacityLine(w int) string {
	st := m.st
	cur := m.capacity()
	parts := []string{st.Dim.Render("capacity ") + st.Value.Render(fmt.Sprint(cur))}
	mr, rr, hm, hr := m.recs()
	if hm {
		parts = append(parts, st.Dim.Render("model ")+fmt.Sprintf("%d (%s)", mr, signed(mr-cur)))
	} else {
		parts = append(parts, st.Dim.Render("model -"))
	}
	if hr {
		parts = append(parts, st.Dim.Render("rules ")+fmt.Sprint(rr))
	}
	parts = append(parts, st.Dim.Render("min ")+fmt.Sprint(m.status.Min)+st.Dim.Render(" max ")+fmt.Sprint(m.status.Max))
	if f := m.status.InFlight; f != nil {
		parts = append(parts, st.Warn.Render(fmt.Sprintf("in flight %d → %d", f.From, f.To)))
	}
	parts = append(parts, m.cooldownText())
	if m.anyDerived() {
		parts = append(parts, st.Dim.Render("~ derived"))
	}
	return joinFit(parts, "  ", w)
}

func (m *model) anyDerived() bool {
	for i := range m.charts {
		if m.charts[i].series.Derived {
			return true
		}
	}
	return false
}

func (m *model) cooldownText() string {
	st := m.st
	f := func(d time.Duration) string {
		if d <= 0 {
			return st.OK.Render("ok")
		}
		return st.Warn.Render(short(d))
	}
	return st.Dim.Render("cooldown out ") + f(m.status.CooldownOutLeft) +
		st.Dim.Render(" in ") + f(m.status.CooldownInLeft)
}

// capacityBlock is the capacity part of the framed pending pane.
func (m *model) capacityBlock(w int) []string {
	st := m.st
	cur := m.capacity()
	mr, rr, hm, hr := m.recs()
	parts := []string{st.Dim.Render("capacity ") + st.Value.Render(fmt.Sprint(cur))}
	if hm {
		parts = append(parts, st.Dim.Render("model rec ")+fmt.Sprintf("%d (%s)", mr, signed(mr-cur)))
	} else {
		parts = append(parts, st.Dim.Render("model rec -"))
	}
	if hr {
		parts = append(parts, st.Dim.Render("rules rec ")+fmt.Sprintf("%d (%s)", rr, signed(rr-cur)))
	}
	parts = append(parts, st.Dim.Render("min ")+fmt.Sprint(m.status.Min), st.Dim.Render("max ")+fmt.Sprint(m.status.Max))
	out := []string{joinFit(parts, "   ", w)}
	rec := cur
	if hm {
		rec = mr
	} else if hr {
		rec = rr
	}
	out = append(out, m.capacityBar(w, cur, rec))
	flight := st.Dim.Render("in flight: none")
	if f := m.status.InFlight; f != nil {
		flight = st.Warn.Render(fmt.Sprintf("in flight: %d → %d (%s) since %s", f.From, f.To,
			shortID(f.DecisionID), f.StartedAt.Format("15:04:05")))
	} else if m.state.Updating {
		flight = st.Warn.Render("the platform is still carrying out a change")
	}
	if m.state.Serving > 0 && m.state.Serving != cur {
		flight += st.Dim.Render(fmt.Sprintf("   serving %d", m.state.Serving))
	}
	out = append(out, flight, m.cooldownText())
	if m.stateErr != "" {
		out = append(out, st.Bad.Render("scale set: "+m.stateErr))
	}
	if m.metricsErr != "" {
		out = append(out, st.Bad.Render("metrics: "+m.metricsErr))
	}
	return out
}

// capacityBar draws min..max with the current capacity (●) and the
// recommendation (◆): "2 ├──●━━━◆────┤ 20".
func (m *model) capacityBar(w, cur, rec int) string {
	lo, hi := m.status.Min, m.status.Max
	left, right := fmt.Sprintf("%d ", lo), fmt.Sprintf(" %d", hi)
	legend := "  ● now ◆ rec"
	bw := w - len(left) - len(right) - 2 - ansi.StringWidth(legend)
	if hi <= lo || bw < 5 {
		return ""
	}
	pos := func(v int) int {
		v = max(lo, min(hi, v))
		return (v - lo) * (bw - 1) / (hi - lo)
	}
	cells := []rune(strings.Repeat("─", bw))
	pc, pr := pos(cur), pos(rec)
	for i := min(pc, pr); i <= max(pc, pr); i++ {
		cells[i] = '━'
	}
	cells[pr] = '◆'
	cells[pc] = '●'
	return m.st.Dim.Render(left+"├") + m.st.Accent.Render(string(cells)) + m.st.Dim.Render("┤"+right) +
		m.st.Dim.Render(legend)
}

// ---- pending ----

func (m *model) pendingLines(r rect) []string {
	focused := m.focus == panePending
	if m.lay.wide || m.lay.full {
		body := m.capacityBlock(r.w - 4)
		body = append(body, "")
		body = append(body, m.cardBlocks(r.w-4, r.h-2-len(body))...)
		return m.frame(r, "2 Capacity · Pending", m.pendingCount(), focused, body)
	}
	c, i, ok := m.selected()
	if !ok {
		return nil
	}
	head := m.rule(r.w, "2 Pending", fmt.Sprintf("%d of %d", i+1, len(m.cards)), focused)
	l1, l2 := m.cardCompact(c, r.w-2)
	return []string{head, " " + l1, " " + l2}
}

func (m *model) pendingCount() string {
	if len(m.cards) == 0 {
		return ""
	}
	return fmt.Sprintf("%d waiting", len(m.cards))
}

// cardHead is a card's first line: id, effect, confidence, rules.
func (m *model) cardHead(c card) string {
	st := m.st
	d := c.p.Decision
	eff := fmt.Sprintf("%s %d → %d", actionWord(d.Action), d.Current, d.Desired)
	if d.Action == engine.ActionScaleIn {
		eff = st.Warn.Render(eff)
	} else {
		eff = st.Value.Render(eff)
	}
	agree := fmt.Sprintf("rules %d", d.RulesRecommended)
	if d.RulesRecommended == d.Desired {
		agree = "rules agree"
	}
	return st.Accent.Render(shortID(d.ID)) + "  " + eff + "  " + st.Dim.Render("conf ") + conf(d.Confidence) +
		"  " + agree
}

// cardTimer is a card's countdown, or why y will not act now.
func (m *model) cardTimer(c card) string {
	st := m.st
	if c.expired(m.now) {
		return st.Bad.Render("EXPIRED · not applied")
	}
	left := c.p.Expires.Sub(m.now)
	t := "expires " + clock(left)
	if m.now.Sub(c.changedAt) < changeGuard {
		return st.Warn.Render("just changed · " + t)
	}
	if left < 30*time.Second {
		return st.Warn.Render(t)
	}
	return t
}

func (m *model) cardCompact(c card, w int) (string, string) {
	st := m.st
	l1 := spread(m.cardHead(c), m.cardTimer(c), w)
	why := oneLine(c.p.Decision.Message)
	if e := editsText(c.p.Decision.Edits); e != "" {
		why += " · " + e
	}
	keys := st.Accent.Render("y") + " approve  " + st.Accent.Render("n") + " reject"
	l2 := spread(st.Dim.Render(why), keys, w)
	if ansi.StringWidth(st.Dim.Render(why))+ansi.StringWidth(keys)+1 > w {
		l2 = fit(st.Dim.Render(ansi.Truncate(why, max(0, w-ansi.StringWidth(keys)-2), "…")), w-ansi.StringWidth(keys)) + keys
	}
	if c.expired(m.now) {
		l1, l2 = st.Dim.Render(ansi.Strip(l1)), st.Dim.Render(ansi.Strip(fit(why, w)))
	}
	return l1, l2
}

// cardBlocks lists the cards in the framed pane, oldest first, as the
// engine sends them; the selected one is marked.
func (m *model) cardBlocks(w, h int) []string {
	st := m.st
	if len(m.cards) == 0 {
		msg := "No action waits for approval."
		switch m.mode() {
		case engine.ModeAuto:
			msg += " AUTO applies decisions without asking."
		case engine.ModeDryRun:
			msg += " DRY-RUN records decisions only."
		}
		return []string{st.Dim.Render(msg)}
	}
	var out []string
	for _, c := range m.cards {
		d := c.p.Decision
		mark := "  "
		if d.ID == m.sel {
			mark = st.Accent.Render("▸ ")
		}
		block := []string{
			mark + spread(m.cardHead(c), m.cardTimer(c), w-2),
			"  " + st.Dim.Render("why: ") + oneLine(d.Message),
		}
		if e := editsText(d.Edits); e != "" {
			block = append(block, "  "+st.Dim.Render("guardrails: ")+e)
		}
		in := d.Inputs
		who := string(d.Advisor)
		if d.Model != "" {
			who += " " + oneLine(d.Model)
		}
		block = append(block, "  "+st.Dim.Render(fmt.Sprintf("advisor %s · cpu %s · mem %s",
			who, summaryText(in.CPU), summaryText(in.Memory))))
		if d.ID == m.sel {
			k := st.Accent.Render("y") + " approve  " + st.Accent.Render("n") + " reject  " +
				st.Accent.Render("enter") + " open record"
			if d.Action == engine.ActionScaleIn {
				k = st.Accent.Render("y") + " approve (asks again)  " + st.Accent.Render("n") + " reject"
			}
			block = append(block, "  "+k)
		}
		if c.expired(m.now) {
			for i := range block {
				block[i] = st.Dim.Render(ansi.Strip(block[i]))
			}
		}
		if len(out)+len(block) > h && len(out) > 0 {
			out = append(out, st.Dim.Render(fmt.Sprintf("… more cards below; j/k selects (%d in all)", len(m.cards))))
			break
		}
		out = append(out, block...)
	}
	return out
}

func editsText(es []engine.Edit) string {
	parts := make([]string, 0, len(es))
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s %d→%d", e.Code, e.From, e.To))
	}
	return strings.Join(parts, ", ")
}

func summaryText(s engine.MetricSummary) string {
	if !s.Available {
		return "n/a"
	}
	return fmt.Sprintf("%s (mean %s, %s)", metricValue(s.Current, s.Unit), metricValue(s.Mean, s.Unit),
		trendValue(s.Trend, max(math.Abs(s.Current), math.Abs(s.Mean)), s.Unit))
}

// ---- reasoning ----

func (m *model) reasoningLines(r rect) []string {
	focused := m.focus == paneReasoning
	extra := m.reasoningExtra()
	body := strings.Split(m.vp.View(), "\n")
	if m.lay.wide || m.lay.full {
		return m.frame(r, "3 Reasoning", extra, focused, body)
	}
	return append([]string{m.rule(r.w, "3 Reasoning", extra, focused)}, indent(body)...)
}

func (m *model) reasoningExtra() string {
	var parts []string
	switch {
	case m.rs.streaming():
		model := ""
		if n := len(m.rs.segs); n > 0 {
			model = oneLine(m.rs.segs[n-1].model) + " "
		}
		parts = append(parts, model+"streaming "+clock(m.now.Sub(m.rs.firstWall)))
	case m.rs.advice != nil:
		parts = append(parts, "answered")
	case m.rs.seq > 0:
		parts = append(parts, "thinking")
	}
	if !m.follow {
		parts = append(parts, "autoscroll off")
	}
	if !m.wrap {
		parts = append(parts, "wrap off")
	}
	return strings.Join(parts, " · ")
}

// ---- history ----

// historyRows is the history after the filter, newest first.
func (m *model) historyRows() []*engine.Decision {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	out := make([]*engine.Decision, 0, len(m.history))
	for i := range m.history {
		d := &m.history[i]
		if q == "" || strings.Contains(strings.ToLower(m.rowText(d, 100)+" "+d.ID+" "+d.Message+" "+d.Model), q) {
			out = append(out, d)
		}
	}
	return out
}

// rowText is a history row without styles; narrow rows leave the advisor
// out (the record view has it).
func (m *model) rowText(d *engine.Decision, w int) string {
	if w < 63 {
		return fmt.Sprintf("%s %-4s %3d → %-3d %-11s %4s %s", d.TS.Format("15:04"), actionShort(d.Action),
			d.Current, d.Desired, m.outcome(d), conf(d.Confidence), d.Reason)
	}
	return fmt.Sprintf("%s  %-4s %3d → %-3d  %-11s %-5s %4s  %s", d.TS.Format("15:04"), actionShort(d.Action),
		d.Current, d.Desired, m.outcome(d), d.Advisor, conf(d.Confidence), d.Reason)
}

func (m *model) historyLines(r rect) []string {
	st := m.st
	focused := m.focus == paneHistory
	framed := m.lay.wide || m.lay.full
	w, h := r.w-1, r.h-1
	if framed {
		w, h = r.w-4, r.h-2
	}
	rows := m.historyRows()
	var body []string
	if m.filtering || m.filter.Value() != "" {
		body = append(body, " "+m.filter.View())
		h--
	}
	if len(rows) == 0 {
		msg := "No decisions yet."
		if m.filter.Value() != "" {
			msg = "No decision matches the filter; esc clears it."
		}
		body = append(body, " "+st.Dim.Render(msg))
	}
	// the first cell marks the cursor row (▸), also without colours
	first := max(0, min(m.hcur-h/2, len(rows)-h))
	for i := first; i < len(rows) && i < first+h; i++ {
		d := rows[i]
		line := fit(m.rowText(d, w-1), w-1)
		if i == m.hcur && focused {
			body = append(body, "▸"+st.Selected.Render(line))
			continue
		}
		body = append(body, " "+m.styleRow(line, m.outcome(d)))
	}
	extra := fmt.Sprint(len(m.history))
	if m.filter.Value() != "" {
		extra = fmt.Sprintf("%d of %d", len(rows), len(m.history))
	}
	if framed {
		return m.frame(r, "4 History", extra, focused, body)
	}
	return append([]string{m.rule(r.w, "4 History", extra, focused)}, body...)
}

func (m *model) styleRow(line, outcome string) string {
	st := m.st
	switch outcome {
	case "applied", "approved":
		return st.OK.Render(line)
	case "failed", "interrupted":
		return st.Bad.Render(line)
	case "rejected", "expired", "superseded", "withdrawn", "retry-later":
		return st.Warn.Render(line)
	case "pending":
		return st.Accent.Render(line)
	case "hold", "dry-run", "-":
		return st.Dim.Render(line)
	}
	return line
}

// ---- footer ----

func (m *model) toastLine() string {
	st := m.st
	t := m.toast
	if t.text == "" {
		return ""
	}
	switch t.level {
	case levelError:
		return spread(st.Bad.Render(" ✗ "+t.text), st.Dim.Render("esc dismiss  @ messages "), m.w)
	case levelWarn:
		return spread(st.Warn.Render(" ! "+t.text), st.Dim.Render("esc dismiss "), m.w)
	}
	return " " + t.text
}

// footerLine is the short help. "? help" and "q quit" always show: the
// pane's keys before them are dropped, last first, to what fits.
func (m *model) footerLine() string {
	hs := m.help.Styles
	sep := hs.ShortSeparator.Render(m.help.ShortSeparator)
	item := func(b key.Binding) string {
		return hs.ShortKey.Render(b.Help().Key) + " " + hs.ShortDesc.Render(b.Help().Desc)
	}
	tail := item(m.keys.Help) + sep + item(m.keys.Quit)
	room := m.w - 2 - ansi.StringWidth(tail)
	var parts []string
	for _, b := range m.keys.shortHelp(m.focus, len(m.cards) > 0) {
		if !b.Enabled() {
			continue
		}
		it := item(b) + sep
		if room < ansi.StringWidth(it) {
			break
		}
		room -= ansi.StringWidth(it)
		parts = append(parts, it)
	}
	return " " + strings.Join(parts, "") + tail
}
