package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/scalepilot/scalepilot/engine"
)

// segment is one model's streamed output within a decision. Pieces are kept
// raw and cleaned as a whole when drawn, because an escape sequence may be
// split across tokens.
type segment struct {
	model  string
	pieces []string
}

// reasoning is what the advisors said for the newest decision.
type reasoning struct {
	seq       int
	at        time.Time // engine time of the decision
	segs      []segment
	tokens    int
	firstWall time.Time // wall time of the first token
	lastWall  time.Time
	advice    *engine.AdviceNote
	decision  *engine.Decision
	// prev is the last decision that said something, shown under this one
	// until this one's advisor starts to answer: with a fast demo and a
	// slow model, the pane would otherwise mostly show "waiting".
	prev *reasoning
}

// next starts the reasoning of decision seq, keeping r (or what r kept) as
// the previous one.
func (r reasoning) next(seq int, at time.Time) reasoning {
	prev := r.prev
	if r.tokens > 0 || r.advice != nil {
		r.prev = nil
		prev = &r
	}
	return reasoning{seq: seq, at: at, prev: prev}
}

// streaming reports whether tokens are arriving and no answer is in yet.
func (r *reasoning) streaming() bool { return r.tokens > 0 && r.advice == nil }

func (r *reasoning) addToken(t engine.TokenNote, now time.Time) {
	if r.tokens == 0 {
		r.firstWall = now
	}
	r.tokens++
	r.lastWall = now
	if n := len(r.segs); n == 0 || r.segs[n-1].model != t.Model {
		r.segs = append(r.segs, segment{model: t.Model})
	}
	s := &r.segs[len(r.segs)-1]
	s.pieces = append(s.pieces, t.Text)
}

// render lays the reasoning out as lines of at most width cells.
func (r *reasoning) render(width int, wrap bool, st Styles) []string {
	var out []string
	add := func(style func(string) string, text string) {
		for _, l := range strings.Split(text, "\n") {
			out = append(out, placeLine(style(l), width, wrap)...)
		}
	}
	plain := func(s string) string { return s }
	dim := func(s string) string { return st.Dim.Render(s) }
	if r.seq == 0 {
		add(dim, "No decision yet. The engine's first decision will show its reasoning here.")
		return out
	}
	add(dim, fmt.Sprintf("decision %d · %s", r.seq, r.at.Format("15:04:05")))
	for i, s := range r.segs {
		if i > 0 || s.model != "" {
			add(func(s string) string { return st.Accent.Render(s) }, "── "+oneLine(s.model)+" ──")
		}
		add(plain, cleanText(strings.Join(s.pieces, "")))
	}
	if r.advice == nil {
		if r.tokens == 0 {
			add(dim, "Waiting for the advisor…")
			if r.prev != nil {
				out = append(out, "")
				add(dim, "Previous decision:")
				out = append(out, r.prev.render(width, wrap, st)...)
			}
		}
		return out
	}
	if r.tokens == 0 && r.advice.ModelErr == nil && r.advice.Model.Reasoning != "" {
		add(plain, cleanText(r.advice.Model.Reasoning))
	}
	for _, l := range answerLines(r.advice, st) {
		add(plain, l)
	}
	if d := r.decision; d != nil {
		add(func(s string) string { return st.Value.Render(s) }, decisionLine(d))
		if d.Message != "" {
			add(dim, "  "+cleanText(d.Message))
		}
	}
	return out
}

// answerLines says what the model answered, or why it did not and who
// answered instead, then the rule advisor's verdict.
func answerLines(a *engine.AdviceNote, st Styles) []string {
	var out []string
	m := a.Model
	switch {
	case a.ModelErr != nil:
		who := m.Model
		if who == "" {
			who = "the model"
		}
		out = append(out, st.Bad.Render("✗ "+oneLine(who)+" did not answer: "+oneLine(a.ModelErr.Error())))
		for _, at := range m.Attempts {
			if at.Error != "" {
				out = append(out, st.Dim.Render(fmt.Sprintf("  try %d %s: %s", at.Try, oneLine(at.Model), oneLine(at.Error))))
			}
		}
		out = append(out, st.Warn.Render(fmt.Sprintf("The rule advisor answered instead: %d instances.", a.Rules.Recommended)))
		if a.Rules.Reasoning != "" {
			out = append(out, cleanText(a.Rules.Reasoning))
		}
		return out
	case m.Advisor == engine.AdvisorModel:
		c := "no confidence given"
		if m.HasConfidence {
			c = fmt.Sprintf("confidence %.2f", m.Confidence)
		}
		out = append(out, st.OK.Render(fmt.Sprintf("→ %s recommends %d instances, %s (%s)",
			oneLine(m.Model), m.Recommended, c, short(time.Duration(m.DurationMS)*time.Millisecond))))
		for _, n := range m.Notes {
			out = append(out, st.Dim.Render("  note: "+oneLine(n)))
		}
		out = append(out, st.Dim.Render(fmt.Sprintf("rule advisor: %d instances. %s",
			a.Rules.Recommended, oneLine(a.Rules.Reasoning))))
	default:
		out = append(out, st.Warn.Render(fmt.Sprintf("No model is configured; the rule advisor answered: %d instances.",
			a.Rules.Recommended)))
		if a.Rules.Reasoning != "" {
			out = append(out, cleanText(a.Rules.Reasoning))
		}
	}
	return out
}

// decisionLine is the one-line verdict shown under the reasoning.
func decisionLine(d *engine.Decision) string {
	return fmt.Sprintf("= %s %d → %d · %s · %s advisor", actionWord(d.Action), d.Current, d.Desired,
		d.Reason, d.Advisor)
}

// placeLine wraps or truncates one styled line to width cells.
func placeLine(l string, width int, wrap bool) []string {
	if width <= 0 {
		return nil
	}
	if ansi.StringWidth(l) <= width {
		return []string{l}
	}
	if !wrap {
		return []string{ansi.Truncate(l, width, "…")}
	}
	return strings.Split(ansi.Wrap(l, width, ""), "\n")
}
