package tui

// rect is a block of the screen in cells.
type rect struct{ x, y, w, h int }

func (r rect) contains(y int) bool { return y >= r.y && y < r.y+r.h }

// layout places the panes for one terminal size and state. It is a value:
// Update compares it with the previous one to resize only on change.
type layout struct {
	w, h       int
	small      bool // below the minimum: only the size note is drawn
	wide       bool // framed panes side by side
	full       bool // one pane fills the body
	metrics    rect
	pending    rect
	reasoning  rect
	history    rect
	chartW     int
	chartH     int // rows per chart; 1 draws the compact rows
	vpW, vpH   int // reasoning viewport
	overlay    rect
	overlayVPW int // detail and message log viewports
	overlayVPH int
}

const headerRows, footerRows = 2, 2

// wide reports whether the terminal is large enough for framed panes.
func (m *model) wide() bool { return m.w >= 120 && m.h >= 32 }

// computeLayout lays the screen out for the current size and state.
func (m *model) computeLayout() layout {
	l := layout{w: m.w, h: m.h}
	if m.w < minWidth || m.h < minHeight {
		l.small = true
		return l
	}
	l.wide = m.wide()
	body := rect{0, headerRows, m.w, m.h - headerRows - footerRows}
	switch {
	case m.full:
		l.full = true
		r := body
		switch m.focus {
		case paneMetrics:
			l.metrics = r
		case panePending:
			l.pending = r
		case paneReasoning:
			l.reasoning = r
		case paneHistory:
			l.history = r
		}
	case l.wide:
		m.wideLayout(&l, body)
	default:
		m.compactLayout(&l, body)
	}
	m.sizeContent(&l)
	l.overlay = rect{2, headerRows, m.w - 4, body.h}
	l.overlayVPW = l.overlay.w - 4
	l.overlayVPH = l.overlay.h - 3
	return l
}

// compactLayout stacks the panes: metrics and capacity (3 rows, no title),
// the pending card while one waits, reasoning, history.
func (m *model) compactLayout(l *layout, body rect) {
	y := body.y
	l.metrics = rect{0, y, m.w, 3}
	y += 3
	if len(m.cards) > 0 {
		l.pending = rect{0, y, m.w, 3}
		y += 3
	}
	left := body.y + body.h - y
	hist := 5 // title + 4 rows
	if left >= 20 {
		hist = 1 + (left-1)/3
	}
	l.reasoning = rect{0, y, m.w, left - hist}
	l.history = rect{0, y + left - hist, m.w, hist}
}

// wideLayout frames the panes in a 2×2 grid: metrics beside capacity and
// pending on top, reasoning beside history below.
func (m *model) wideLayout(l *layout, body rect) {
	ch := max(1, min(8, (body.h*45/100-2)/4-1))
	top := 4*(1+ch) + 2
	lw := m.w / 2
	l.metrics = rect{0, body.y, lw, top}
	l.pending = rect{lw, body.y, m.w - lw, top}
	// history gets room for a whole row (62 cells; from 160 columns also
	// the advisor's), reasoning the rest
	rw := m.w - max(62, m.w*43/100)
	l.reasoning = rect{0, body.y + top, rw, body.h - top}
	l.history = rect{rw, body.y + top, m.w - rw, body.h - top}
}

// sizeContent derives the chart and viewport sizes from the pane rects.
func (m *model) sizeContent(l *layout) {
	framed := l.wide || l.full
	if r := l.metrics; r.w > 0 {
		if framed {
			l.chartW = r.w - 4
			l.chartH = max(1, (r.h-2)/4-1)
		} else {
			l.chartW = compactChartW(r.w)
			l.chartH = 1
		}
	}
	if r := l.reasoning; r.w > 0 {
		if framed {
			l.vpW, l.vpH = r.w-4, r.h-2
		} else {
			l.vpW, l.vpH = r.w-2, r.h-1
		}
	}
}

// compactChartW is the sparkline width in a compact half row:
// " CPU  <spark> 100% ≥75%" within half the width.
func compactChartW(w int) int {
	half := w / 2
	return max(4, half-1-4-1-1-7-5)
}

// relayout resizes what depends on the layout and redraws what is dirty.
func (m *model) relayout() {
	l := m.computeLayout()
	if l != m.lay {
		if l.chartW != m.lay.chartW || l.chartH != m.lay.chartH {
			m.chartsDirty = true
		}
		if l.vpW != m.lay.vpW || l.vpH != m.lay.vpH {
			m.rsDirty = true
		}
		m.vp.Width, m.vp.Height = max(0, l.vpW), max(0, l.vpH)
		m.detail.Width, m.detail.Height = max(0, l.overlayVPW), max(0, l.overlayVPH)
		m.logView.Width, m.logView.Height = m.detail.Width, m.detail.Height
		m.helpView.Width, m.helpView.Height = m.detail.Width, m.detail.Height
		m.helpView.SetContent(m.helpText(m.helpView.Width))
		m.filter.Width = max(8, l.history.w-8)
		m.picker.filter.Width = max(8, l.overlayVPW-10)
		m.lay = l
	}
	if m.chartsDirty && !l.small {
		for i := range m.charts {
			m.charts[i].draw(l.chartW, l.chartH, m.st)
		}
		m.chartsDirty = false
	}
	if m.rsDirty && l.vpW > 0 {
		m.vp.SetContent(joinLines(m.rs.render(l.vpW, m.wrap, m.st)))
		if m.follow {
			m.vp.GotoBottom()
		}
		m.rsDirty = false
	}
}

func joinLines(ls []string) string {
	n := 0
	for _, l := range ls {
		n += len(l) + 1
	}
	b := make([]byte, 0, n)
	for i, l := range ls {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l...)
	}
	return string(b)
}
