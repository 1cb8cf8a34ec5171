package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/scalepilot/scalepilot/engine"
)

// picker chooses the primary model, then the fallback, from the Ollama
// server's list; recommended models come first. As in the history pane, j/k
// (and the arrows) move and / starts filtering; while the filter has the
// keys, letters type into it, the arrows still move, enter picks and esc
// leaves the filter.
type picker struct {
	loading   bool
	err       error
	all       []engine.ModelInfo
	rows      []int // indexes into all that pass the filter
	cur       int
	filter    textinput.Model
	filtering bool // the filter input has the keys
	step      int  // 0: primary, 1: fallback
	choice    engine.ModelChoice
}

func (m *model) openPicker() tea.Cmd {
	if m.o.ListModels == nil {
		m.say(levelWarn, "the model list is not available in this run")
		return nil
	}
	m.overlay = ovPicker
	m.picker.loading = true
	m.picker.err = nil
	m.picker.step = 0
	m.picker.choice = m.status.Models
	m.picker.filter.SetValue("")
	m.picker.stopFiltering()
	return listModelsCmd(m.ctx, m.o.ListModels)
}

// setModels fills the list when the server answers.
func (p *picker) setModels(msg modelsMsg, current engine.ModelChoice) {
	p.loading = false
	p.err = msg.err
	all := append([]engine.ModelInfo(nil), msg.models...)
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Recommended != all[j].Recommended {
			return all[i].Recommended
		}
		if all[i].Present != all[j].Present {
			return all[i].Present
		}
		return all[i].Name < all[j].Name
	})
	p.all = all
	p.refilter()
	p.pointAt(current.Primary)
}

// refilter keeps the models whose name contains every word of the filter.
func (p *picker) refilter() {
	words := strings.Fields(strings.ToLower(p.filter.Value()))
	p.rows = p.rows[:0]
	for i, mi := range p.all {
		name := strings.ToLower(mi.Name)
		ok := true
		for _, w := range words {
			if !strings.Contains(name, w) {
				ok = false
				break
			}
		}
		if ok {
			p.rows = append(p.rows, i)
		}
	}
	p.cur = max(0, min(p.cur, len(p.rows)-1))
}

// pointAt moves the cursor to the named model when it is listed.
func (p *picker) pointAt(name string) {
	for r, i := range p.rows {
		if sameModel(p.all[i].Name, name) {
			p.cur = r
			return
		}
	}
	p.cur = 0
}

func (p *picker) startFiltering() {
	p.filtering = true
	p.filter.Placeholder = "type to filter; esc stops"
	p.filter.Focus()
}

func (p *picker) stopFiltering() {
	p.filtering = false
	p.filter.Placeholder = "press / to filter"
	p.filter.Blur()
}

func (m *model) onPickerKey(k tea.KeyMsg) tea.Cmd {
	p := &m.picker
	km := m.keys
	switch k.String() {
	case "esc":
		if p.filtering {
			// first esc leaves the filter (and clears it), the next closes
			p.stopFiltering()
			p.filter.SetValue("")
			p.refilter()
			return nil
		}
		m.overlay = ovNone
		m.say(levelInfo, "models unchanged")
		return nil
	case "up", "ctrl+p":
		p.cur = max(0, p.cur-1)
		return nil
	case "down", "ctrl+n":
		p.cur = max(0, min(p.cur+1, len(p.rows)-1))
		return nil
	case "enter":
		return m.pick()
	}
	if p.filtering {
		var cmd tea.Cmd
		p.filter, cmd = p.filter.Update(k)
		p.refilter()
		return cmd
	}
	last := max(0, len(p.rows)-1)
	switch {
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Filter):
		p.startFiltering()
	case key.Matches(k, km.Down):
		p.cur = min(p.cur+1, last)
	case key.Matches(k, km.Up):
		p.cur = max(0, p.cur-1)
	case key.Matches(k, km.Top):
		p.cur = 0
	case key.Matches(k, km.Bottom):
		p.cur = last
	case key.Matches(k, km.HalfDown):
		p.cur = min(p.cur+5, last)
	case key.Matches(k, km.HalfUp):
		p.cur = max(0, p.cur-5)
	default:
		if k.Type == tea.KeyRunes {
			m.say(levelInfo, "%s does nothing here: / filters the models, j/k move, enter picks, esc cancels",
				k.String())
		}
	}
	return nil
}

// pick takes the highlighted model for the current step.
func (m *model) pick() tea.Cmd {
	p := &m.picker
	if p.loading || p.cur >= len(p.rows) {
		return nil
	}
	mi := p.all[p.rows[p.cur]]
	if !mi.Present {
		m.say(levelWarn, "%s is not on the Ollama server; run `ollama pull %s` first, or pick another",
			mi.Name, mi.Name)
		return nil
	}
	if p.step == 0 {
		p.choice.Primary = mi.Name
		p.step = 1
		p.filter.SetValue("")
		p.stopFiltering()
		p.refilter()
		p.pointAt(m.status.Models.Fallback)
		return nil
	}
	p.choice.Fallback = mi.Name
	m.overlay = ovNone
	p.stopFiltering()
	choice := p.choice
	m.o.Logger.Info("set models", "primary", choice.Primary, "fallback", choice.Fallback)
	m.say(levelInfo, "models: %s, fallback %s, from the next decision", choice.Primary, choice.Fallback)
	ctl := m.o.Controller
	return controlCmd("choose models", func() error { ctl.SetModels(choice); return nil })
}

// pickerLines renders the picker's body at width w, at most h rows.
func (m *model) pickerLines(w, h int) []string {
	p := &m.picker
	st := m.st
	step := "primary"
	cur := m.status.Models.Primary
	if p.step == 1 {
		step = "fallback"
		cur = m.status.Models.Fallback
	}
	out := placeLine(fmt.Sprintf("Choose the %s model (now %s). ★ recommended. j/k move, / filters, "+
		"enter picks, esc cancels.", step, orDash(cur)), w, true)
	out = append(out, p.filter.View(), "")
	switch {
	case p.loading:
		return append(out, st.Dim.Render("asking the Ollama server for its models…"))
	case p.err != nil:
		return append(out, st.Bad.Render("cannot list models: "+oneLine(p.err.Error())),
			"Check that Ollama runs (ollama serve) and --ollama-url; esc closes.")
	case len(p.rows) == 0:
		return append(out, st.Dim.Render("no model matches the filter"))
	}
	room := max(1, h-len(out))
	first := max(0, min(p.cur-room/2, len(p.rows)-room))
	for r := first; r < len(p.rows) && r < first+room; r++ {
		mi := p.all[p.rows[r]]
		star := " "
		if mi.Recommended {
			star = "★"
		}
		size := sizeGB(mi.Size)
		if !mi.Present {
			size = "not pulled"
		}
		tag := ""
		switch {
		case sameModel(mi.Name, m.status.Models.Primary):
			tag = "primary"
		case sameModel(mi.Name, m.status.Models.Fallback):
			tag = "fallback"
		}
		line := fmt.Sprintf("%s %-28s %6s %-7s %10s  %s", star, oneLine(mi.Name), oneLine(mi.ParameterSize),
			oneLine(mi.Quantization), size, tag)
		mark := "  "
		if r == p.cur {
			mark = "▸ "
		}
		line = fit(mark+line, w)
		switch {
		case r == p.cur:
			line = st.Selected.Render(line)
		case !mi.Present:
			line = st.Dim.Render(line)
		}
		out = append(out, line)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sameModel reports whether two Ollama model names name the same model: a
// name without a tag means its "latest" tag.
func sameModel(a, b string) bool {
	withTag := func(s string) string {
		if s != "" && !strings.Contains(s, ":") {
			return s + ":latest"
		}
		return s
	}
	return withTag(a) == withTag(b)
}
