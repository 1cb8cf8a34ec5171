package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/scalepilot/scalepilot/engine"
)

// pane is one of the four numbered panes.
type pane int

const (
	paneMetrics pane = iota
	panePending
	paneReasoning
	paneHistory
	paneCount
)

// overlay is the dialog or full view drawn over the panes, if any.
type overlay int

const (
	ovNone overlay = iota
	ovHelp
	ovDetail
	ovPicker
	ovConfirm
	ovMode
	ovScale
	ovLog
)

// card is one pending action as the dashboard shows it.
type card struct {
	p engine.Pending
	// changedAt is the wall time the card appeared or last changed; y is
	// refused within changeGuard of it.
	changedAt time.Time
	print     string
}

// expired reports whether the card's time is up at now.
func (c card) expired(now time.Time) bool { return !now.Before(c.p.Expires) }

func fingerprint(p engine.Pending) string {
	d := p.Decision
	return fmt.Sprintf("%s|%d>%d|%s|%d", d.ID, d.Current, d.Desired, d.Action, p.Expires.UnixNano())
}

// level orders messages: info fades, errors stay until esc.
type level int

const (
	levelInfo level = iota
	levelWarn
	levelError
)

// message is one line of the footer toast and the message log.
type message struct {
	at    time.Time
	level level
	text  string
}

// model is the dashboard's state. Update mutates it through a pointer; Cmds
// never touch it.
type model struct {
	o    Options
	ctx  context.Context // the program's lifetime, parent of the Cmds' I/O
	keys KeyMap
	st   Styles
	help help.Model

	w, h int
	now  time.Time // wall clock, refreshed on every message

	status      engine.Status
	haveStatus  bool
	tick        engine.TickNote
	state       engine.ScaleSetState
	stateErr    string
	metricsErr  string
	inputs      engine.Inputs
	haveMetrics bool
	charts      [4]chart
	frozen      bool
	held        *engine.MetricsNote // newest metrics while frozen
	chartsDirty bool
	advice      *engine.AdviceNote
	notesClosed bool

	cards        []card
	sel          string    // selected card's decision id
	selChangedAt time.Time // the selection moved without the operator
	// answerHold: a scale-in dialog was withdrawn under the operator (its
	// card changed or left); y and n act on no card before this time.
	answerHold time.Time
	// stopped is why the engine stopped deciding (the trace ended, say);
	// empty while it runs.
	stopped string

	rs           reasoning
	vp           viewport.Model
	follow       bool
	wrap         bool
	flushPending bool
	rsDirty      bool

	history   []engine.Decision // newest first
	outcomes  map[string]string
	events    map[string][]engine.Event
	hcur      int // index into the filtered rows
	filter    textinput.Model
	filtering bool

	focus    pane
	full     bool
	overlay  overlay
	dlg      confirm
	modeCur  int
	scaleIn  textinput.Model
	picker   picker
	detail   viewport.Model
	logView  viewport.Model
	helpView viewport.Model

	toast message
	msgs  []message

	lay layout // the last layout, to resize only on change
}

// New builds the dashboard model, for tests and for embedding in another
// Bubble Tea program. Run is the way to start it on a terminal. Invalid key
// overrides are ignored here (and logged); Run reports them as an error.
func New(o Options) tea.Model {
	// New has no caller context: the model's own I/O (listing models) is
	// bounded by listModelsCmd's timeout instead. Run passes its ctx.
	return newModel(context.Background(), o, nil)
}

// newModel builds the model; r is the renderer the styles use (nil: the
// default one).
func newModel(ctx context.Context, o Options, r *lipgloss.Renderer) *model {
	o.withDefaults()
	keys, err := DefaultKeyMap().Override(o.Keys)
	if err != nil {
		o.Logger.Warn("key overrides ignored", "err", err)
		keys = DefaultKeyMap()
	}
	theme := o.Theme
	if theme == ThemeAuto {
		theme = ThemeDark
	}
	st := NewStyles(r, theme, o.NoColor)
	h := help.New()
	h.Styles = st.Help
	m := &model{
		o:        o,
		ctx:      ctx,
		keys:     keys,
		st:       st,
		help:     h,
		now:      o.Wall.Now(),
		follow:   true,
		wrap:     true,
		outcomes: map[string]string{},
		events:   map[string][]engine.Event{},
		focus:    paneReasoning,
		vp:       viewport.New(0, 0),
		detail:   viewport.New(0, 0),
		logView:  viewport.New(0, 0),
		helpView: viewport.New(0, 0),
	}
	m.vp.KeyMap = viewport.KeyMap{} // the dashboard routes keys itself
	m.detail.KeyMap = viewport.KeyMap{}
	m.logView.KeyMap = viewport.KeyMap{}
	m.helpView.KeyMap = viewport.KeyMap{}
	m.charts = [4]chart{
		newChart(engine.MetricCPU, "CPU", o.CPUThreshold),
		newChart(engine.MetricMemory, "MEM", o.MemoryThreshold),
		newChart(engine.MetricNetIn, "IN", 0),
		newChart(engine.MetricNetOut, "OUT", 0),
	}
	m.filter = newInput("/ ", "filter history", 40, st)
	m.scaleIn = newInput("instances: ", "", 4, st)
	m.scaleIn.Validate = digitsOnly
	m.picker.filter = newInput("filter: ", "press / to filter", 40, st)
	m.rsDirty = true
	if o.Listen != "" {
		m.say(levelInfo, "serving /metrics, /healthz, /readyz and /api on http://%s", o.Listen)
	}
	return m
}

func newInput(prompt, placeholder string, limit int, st Styles) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	ti.Placeholder = placeholder
	ti.CharLimit = limit
	ti.PromptStyle = st.Accent
	ti.PlaceholderStyle = st.Dim
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.Cursor.Style = st.Selected
	return ti
}

func digitsOnly(s string) error {
	for _, r := range s {
		if r < '0' || r > '9' {
			return fmt.Errorf("digits only")
		}
	}
	return nil
}

// Init starts listening to the engine, the clock, and reads a first
// snapshot of the engine's status and history.
func (m *model) Init() tea.Cmd {
	cmds := []tea.Cmd{waitNote(m.o.Notes), everySecond()}
	if m.o.Controller != nil {
		cmds = append(cmds, snapshotCmd(m.o.Controller))
	}
	return tea.Batch(cmds...)
}

// selected returns the selected card.
func (m *model) selected() (card, int, bool) {
	for i, c := range m.cards {
		if c.p.Decision.ID == m.sel {
			return c, i, true
		}
	}
	return card{}, -1, false
}

// say shows a message in the footer and keeps it in the message log.
func (m *model) say(l level, format string, args ...any) {
	msg := message{at: m.now, level: l, text: fmt.Sprintf(format, args...)}
	m.toast = msg
	m.msgs = append(m.msgs, msg)
	if len(m.msgs) > 200 {
		m.msgs = m.msgs[len(m.msgs)-200:]
	}
	switch l {
	case levelError:
		m.o.Logger.Error(msg.text)
	case levelWarn:
		m.o.Logger.Warn(msg.text)
	default:
		m.o.Logger.Info(msg.text)
	}
}

// mode is the engine's mode as last reported.
func (m *model) mode() engine.Mode {
	if m.status.Mode != "" {
		return m.status.Mode
	}
	return engine.ModeApprove
}
