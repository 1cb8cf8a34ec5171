package tui

import (
	"context"
	"errors"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/scalepilot/scalepilot/engine"
)

func TestMain(m *testing.M) {
	// Goldens are layout only: no escape sequences, whatever the terminal.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// t0 is the wall and engine time the fixtures start at.
var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// fakeController records the commands it receives.
type fakeController struct {
	mu       sync.Mutex
	calls    []string
	status   engine.Status
	recent   []engine.Decision
	models   engine.ModelChoice
	scaledTo int
	err      error
}

func (f *fakeController) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeController) Approve(id string) error { f.record("approve " + id); return f.err }
func (f *fakeController) Reject(id string) error  { f.record("reject " + id); return f.err }
func (f *fakeController) SetMode(m engine.Mode) error {
	f.record("mode " + string(m))
	return f.err
}
func (f *fakeController) SetModels(mc engine.ModelChoice) {
	f.record("models " + mc.Primary + " " + mc.Fallback)
	f.models = mc
}
func (f *fakeController) DecideNow() { f.record("decide") }
func (f *fakeController) ScaleTo(n int) error {
	f.record("scale")
	f.scaledTo = n
	return f.err
}
func (f *fakeController) Status() engine.Status          { return f.status }
func (f *fakeController) Recent(n int) []engine.Decision { return f.recent }

func (f *fakeController) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fixture is a model with a fake controller and clock.
type fixture struct {
	t    testing.TB
	m    *model
	ctl  *fakeController
	wall *fakeClock
}

func newFixture(t *testing.T, w, h int) *fixture {
	t.Helper()
	return newFixtureWith(t, w, h, nil, nil)
}

// newFixtureWith is newFixture with changed options and a renderer (nil:
// the default one, which TestMain makes colourless).
func newFixtureWith(t *testing.T, w, h int, opt func(*Options), r *lipgloss.Renderer) *fixture {
	t.Helper()
	ctl := &fakeController{status: sampleStatus()}
	wall := &fakeClock{t: t0}
	o := Options{
		Controller: ctl,
		Title:      "prod/rg-web/vmss-web",
		VMSize:     "Standard_D4s_v5",
		Theme:      ThemeDark,
		Wall:       wall,
		ListModels: sampleLister,
	}
	if opt != nil {
		opt(&o)
	}
	f := &fixture{t: t, m: newModel(t.Context(), o, r), ctl: ctl, wall: wall}
	f.send(tea.WindowSizeMsg{Width: w, Height: h})
	return f
}

// send feeds messages through Update and returns the last Cmd.
func (f *fixture) send(msgs ...tea.Msg) tea.Cmd {
	f.t.Helper()
	var cmd tea.Cmd
	for _, msg := range msgs {
		_, cmd = f.m.Update(msg)
	}
	return cmd
}

// press sends keys by name ("y", "enter", "esc", "tab", "ctrl+c", "down")
// and runs the Cmd the last one returned, feeding its message back.
func (f *fixture) press(keys ...string) tea.Msg {
	f.t.Helper()
	var msg tea.Msg
	for _, k := range keys {
		cmd := f.send(keyMsg(k))
		msg = nil
		if cmd != nil {
			msg = cmd()
			if _, quit := msg.(tea.QuitMsg); !quit && msg != nil {
				f.send(msg)
			}
		}
	}
	return msg
}

func keyMsg(k string) tea.KeyMsg {
	special := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"ctrl+c": tea.KeyCtrlC, "down": tea.KeyDown, "up": tea.KeyUp, "backspace": tea.KeyBackspace,
		"left": tea.KeyLeft, "right": tea.KeyRight, "ctrl+l": tea.KeyCtrlL,
	}
	if t, ok := special[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func sampleLister(context.Context) ([]engine.ModelInfo, error) {
	return sampleModels(), nil
}

func sampleModels() []engine.ModelInfo {
	return []engine.ModelInfo{
		{Name: "qwen2.5:14b", Size: 9_000_000_000, ParameterSize: "14.8B", Quantization: "Q4_K_M", Present: true},
		{Name: "llama3:8b", Size: 4_661_224_676, ParameterSize: "8.0B", Quantization: "Q4_0", Present: true, Recommended: true},
		{Name: "mistral:7b", Size: 4_113_301_824, ParameterSize: "7.2B", Quantization: "Q4_0", Present: true, Recommended: true},
		{Name: "phi3:mini", Size: 2_176_178_913, ParameterSize: "3.8B", Quantization: "Q4_0", Present: true},
		{Name: "llama3.1:8b", Recommended: true, Present: false},
	}
}

func sampleStatus() engine.Status {
	return engine.Status{
		ScaleSet: "vmss-web", Mode: engine.ModeApprove,
		Models:   engine.ModelChoice{Primary: "llama3:8b", Fallback: "mistral:7b"},
		Capacity: 8, Min: 2, Max: 20,
		CooldownOutLeft: 0, CooldownInLeft: 12*time.Minute + 30*time.Second,
		NextDecision: t0.Add(5 * time.Minute), LastTick: t0, LastTickWall: t0,
		Decisions: 12, ScaleSetOK: true, ModelOK: true, Pending: 1,
	}
}

// series builds a 60-minute window with a shape and optional gaps.
func series(name engine.MetricName, unit string, f func(i int) float64, gaps ...int) engine.Series {
	s := engine.Series{Name: name, Unit: unit}
	isGap := map[int]bool{}
	for _, g := range gaps {
		isGap[g] = true
	}
	for i := range 60 {
		p := engine.Point{T: t0.Add(time.Duration(i-60) * time.Minute)}
		if !isGap[i] {
			p.V, p.Valid = f(i), true
		}
		s.Points = append(s.Points, p)
	}
	return s
}

func sampleMetrics() engine.MetricsNote {
	cpu := series(engine.MetricCPU, engine.UnitPercent, func(i int) float64 { return 40 + float64(i)*0.65 }, 20, 21, 22)
	mem := series(engine.MetricMemory, engine.UnitPercent, func(i int) float64 { return 55 + 5*math.Sin(float64(i)/6) })
	mem.Derived = true
	in := series(engine.MetricNetIn, engine.UnitBytesPerSecond, func(i int) float64 { return 2e7 + 3e5*float64(i) })
	out := series(engine.MetricNetOut, engine.UnitBytesPerSecond, func(i int) float64 { return 9e6 + 1e6*math.Cos(float64(i)/4) })
	sum := func(s engine.Series) engine.MetricSummary {
		p, _ := s.Latest()
		return engine.MetricSummary{Available: true, Current: p.V, Mean: p.V * 0.9, Min: p.V * 0.5, Max: p.V,
			Trend: 3, AgeSec: 60, Points: 57, Gaps: 3, Unit: s.Unit, Derived: s.Derived}
	}
	return engine.MetricsNote{
		At:    t0,
		State: engine.ScaleSetState{Name: "vmss-web", Location: "eastus", SKU: "Standard_D4s_v5", Capacity: 8},
		Metrics: engine.Metrics{End: t0, Grain: time.Minute, Lookback: time.Hour,
			CPU: cpu, Memory: mem, NetIn: in, NetOut: out},
		Inputs: engine.Inputs{CPU: sum(cpu), Memory: sum(mem), NetIn: sum(in), NetOut: sum(out)},
	}
}

func ptr(f float64) *float64 { return &f }

func sampleDecision(id string, ts time.Time, cur, want int, reason engine.Reason) engine.Decision {
	return engine.Decision{
		Type: engine.TypeDecision, ID: id, TS: ts, ScaleSet: "vmss-web", Mode: engine.ModeApprove,
		Current: cur, Desired: want, Action: engine.ActionFor(cur, want), Reason: reason,
		Message: "cpu 78% over 15m, rising 3%/h; memory flat; inbound traffic doubled",
		Advisor: engine.AdvisorModel, Model: "llama3:8b", Confidence: ptr(0.82),
		Recommended: want, RulesRecommended: want - 1,
		Inputs: engine.Inputs{
			CPU:    engine.MetricSummary{Available: true, Current: 78, Mean: 70, Trend: 3, Unit: engine.UnitPercent},
			Memory: engine.MetricSummary{Available: true, Current: 61, Mean: 60, Unit: engine.UnitPercent, Derived: true},
		},
	}
}

// sampleHistory is five older decisions, oldest first.
func sampleHistory() []engine.Decision {
	var out []engine.Decision
	ids := []string{"0a1b2c3d4e5f", "1b2c3d4e5f60", "2c3d4e5f6071", "3d4e5f607182", "4e5f60718293"}
	caps := [][2]int{{4, 6}, {6, 6}, {6, 8}, {8, 6}, {8, 8}}
	reasons := []engine.Reason{engine.ReasonRecommended, engine.ReasonNoChange, engine.ReasonStepLimit,
		engine.ReasonFlapGuard, engine.ReasonCooldown}
	for i := range ids {
		d := sampleDecision(ids[i], t0.Add(time.Duration(i-5)*15*time.Minute), caps[i][0], caps[i][1], reasons[i])
		if i == 0 {
			d.Mode = engine.ModeDryRun
		}
		if i == 2 {
			d.Applied = true
		}
		out = append(out, d)
	}
	return out
}

// loaded feeds a full decision cycle: status, tick, metrics, tokens (with
// an escape sequence split across tokens), advice, history and one card.
func (f *fixture) loaded() {
	f.t.Helper()
	f.send(engine.StatusNote{Status: sampleStatus()})
	for _, d := range sampleHistory() {
		f.send(engine.DecisionNote{Decision: d})
	}
	f.send(engine.EventNote{Event: engine.Event{Type: engine.TypeRejected, DecisionID: "3d4e5f607182", TS: t0}})
	f.send(engine.TickNote{At: t0, Seq: 12, Next: t0.Add(5 * time.Minute)})
	f.send(sampleMetrics())
	tokens := []string{
		"CPU rose from 52% to 78% in 15 minutes while memory held near 60%. ",
		"Inbound traffic doubled, \x1b[3", "1mmatching\x1b[0m yesterday's morning ramp,\r so four more ",
		"instances bring CPU back near the 60% target.\x07\n{\"recommended\": 12, \"confidence\": 0.82}",
	}
	for _, tok := range tokens {
		f.send(engine.TokenNote{Seq: 12, Model: "llama3:8b", Text: tok})
	}
	f.send(flushMsg{})
	f.send(engine.AdviceNote{Seq: 12,
		Model: engine.Advice{Recommended: 12, Confidence: 0.82, HasConfidence: true, Advisor: engine.AdvisorModel,
			Model: "llama3:8b", DurationMS: 7400},
		Rules: engine.Advice{Recommended: 11, Advisor: engine.AdvisorRules,
			Reasoning: "CPU 78% against a 60% target: 8 × 78 / 60 = 10.4, rounded up to 11."}})
	d := sampleDecision("a41f2c9e0b11", t0, 8, 12, engine.ReasonRecommended)
	f.send(engine.DecisionNote{Decision: d})
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: d, Expires: t0.Add(5 * time.Minute)}}})
	f.wall.advance(9 * time.Second)
	f.send(secondMsg{})
}

var errBoom = errors.New("boom")
