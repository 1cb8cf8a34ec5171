package tui

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"github.com/scalepilot/scalepilot/engine"
)

// scene builds one state of the dashboard at w×h on renderer r (nil: the
// colourless default).
type scene struct {
	name  string
	build func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture
}

// sizes are the golden sizes: the smallest supported terminal and the
// large tier.
var sizes = [][2]int{{80, 24}, {160, 48}}

func scenes() []scene {
	return []scene{
		{"demo_rules", demoScene},
		{"approval_card", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, nil, r)
			f.loaded()
			return f
		}},
		{"confirm_scale_in", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := scaleInFixture(t, w, h, r)
			f.press("y")
			return f
		}},
		{"model_picker", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, nil, r)
			f.loaded()
			f.press("M", "down")
			return f
		}},
		{"help", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, nil, r)
			f.loaded()
			f.press("?")
			return f
		}},
		{"history_detail", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, nil, r)
			f.loaded()
			f.press("4", "j", "j", "j", "enter")
			return f
		}},
		{"dry_run", dryRunScene},
		{"gaps_unavailable", gapsScene},
		{"streaming", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, nil, r)
			f.send(engine.StatusNote{Status: sampleStatus()})
			f.send(engine.TickNote{At: t0, Seq: 3, Next: t0.Add(5 * time.Minute)})
			f.send(sampleMetrics())
			f.send(engine.TokenNote{Seq: 3, Model: "llama3:8b", Text: "CPU climbs steadily; memory "})
			f.wall.advance(4 * time.Second)
			f.send(engine.TokenNote{Seq: 3, Model: "llama3:8b", Text: "is flat, so"})
			f.send(flushMsg{})
			return f
		}},
		{"no_color_history", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, func(o *Options) { o.NoColor = true }, r)
			f.loaded()
			f.press("4", "j")
			return f
		}},
		{"mode_menu", func(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
			f := newFixtureWith(t, w, h, nil, r)
			f.loaded()
			f.press("m")
			return f
		}},
	}
}

// demoScene is the demo with no model answering: the rule advisor explains
// itself, memory and network are derived from demand, mode auto.
func demoScene(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
	f := newFixtureWith(t, w, h, func(o *Options) {
		o.Demo, o.Title, o.VMSize = true, "nasa-http-1995-07", ""
	}, r)
	st := sampleStatus()
	st.Mode, st.ModelOK, st.Max, st.Pending, st.CooldownInLeft = engine.ModeAuto, false, 40, 0, 0
	st.CooldownOutLeft = 5 * time.Minute
	f.ctl.status = st
	f.send(engine.StatusNote{Status: st})
	for i, caps := range [][2]int{{5, 5}, {5, 6}, {6, 6}, {6, 8}} {
		d := sampleDecision(fmt.Sprintf("d%011d", i), t0.Add(time.Duration(i-4)*5*time.Minute), caps[0], caps[1],
			engine.ReasonRecommended)
		d.Mode, d.Advisor, d.Model, d.Confidence, d.Applied = engine.ModeAuto, engine.AdvisorRules, "", nil, caps[0] != caps[1]
		if !d.Applied {
			d.Reason = engine.ReasonNoChange
		}
		f.send(engine.DecisionNote{Decision: d})
	}
	f.send(engine.TickNote{At: t0, Seq: 5, Next: t0.Add(5 * time.Minute)})
	ms := sampleMetrics()
	ms.State.SKU, ms.State.Location = "simulated", "simulated"
	ms.Metrics.Memory.Derived, ms.Metrics.NetIn.Derived, ms.Metrics.NetOut.Derived = true, true, true
	ms.Inputs.Memory.Derived, ms.Inputs.NetIn.Derived, ms.Inputs.NetOut.Derived = true, true, true
	ms.Inputs.CPU.Gaps, ms.Inputs.Memory.Gaps, ms.Inputs.NetIn.Gaps, ms.Inputs.NetOut.Gaps = 3, 0, 0, 0
	f.send(ms)
	f.send(engine.AdviceNote{Seq: 5,
		Model: engine.Advice{Advisor: engine.AdvisorModel, Model: "llama3:8b",
			Attempts: []engine.Attempt{{Try: 1, Model: "llama3:8b", Error: "connection refused"}}},
		ModelErr: errors.New("ollama server unreachable at http://127.0.0.1:11434: connection refused; " +
			"start it with `ollama serve`"),
		Rules: engine.Advice{Recommended: 11, Advisor: engine.AdvisorRules,
			Reasoning: "CPU 78% against a 60% target on 8 instances: 8 × 78 / 60 = 10.4, rounded up to 11."}})
	d := sampleDecision("e5f60718293a", t0, 8, 11, engine.ReasonRecommended)
	d.Mode, d.Advisor, d.Model, d.Confidence, d.Applied = engine.ModeAuto, engine.AdvisorRules, "", nil, true
	d.Message = "rules advisor recommends 11: scale_out 8 -> 11"
	f.send(engine.DecisionNote{Decision: d})
	f.send(engine.EventNote{Event: engine.Event{Type: engine.TypeActionResult, DecisionID: d.ID, TS: t0,
		From: 8, To: 11, Outcome: engine.OutcomeApplied, DurationMS: 400}})
	st.Capacity, st.Decisions, st.LastDecision = 11, 5, &d
	f.send(engine.StatusNote{Status: st})
	f.wall.advance(2 * time.Second)
	f.send(secondMsg{})
	return f
}

// dryRunScene is a dry run: the badge, the "nothing is applied" marker and
// a dry-run decision in the history.
func dryRunScene(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
	f := newFixtureWith(t, w, h, nil, r)
	st := sampleStatus()
	st.Mode, st.Pending = engine.ModeDryRun, 0
	f.ctl.status = st
	f.send(engine.StatusNote{Status: st})
	for _, d := range sampleHistory() {
		d.Mode = engine.ModeDryRun
		d.Applied = false
		f.send(engine.DecisionNote{Decision: d})
	}
	f.send(engine.TickNote{At: t0, Seq: 6, Next: t0.Add(5 * time.Minute)})
	f.send(sampleMetrics())
	f.send(engine.AdviceNote{Seq: 6,
		Model: engine.Advice{Recommended: 12, Confidence: 0.82, HasConfidence: true, Advisor: engine.AdvisorModel,
			Model: "llama3:8b", DurationMS: 5200, Reasoning: "CPU is rising towards the threshold; add four."},
		Rules: engine.Advice{Recommended: 11, Advisor: engine.AdvisorRules, Reasoning: "CPU 78% against 60%: 11."}})
	d := sampleDecision("f60718293a4b", t0, 8, 12, engine.ReasonRecommended)
	d.Mode = engine.ModeDryRun
	f.send(engine.DecisionNote{Decision: d})
	f.wall.advance(2 * time.Second)
	f.send(secondMsg{})
	return f
}

// gapsScene has a long CPU gap, memory unavailable and no network-out data
// in the window.
func gapsScene(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
	f := newFixtureWith(t, w, h, nil, r)
	f.send(engine.StatusNote{Status: sampleStatus()})
	f.send(engine.TickNote{At: t0, Seq: 2, Next: t0.Add(5 * time.Minute)})
	ms := sampleMetrics()
	gaps := make([]int, 0, 14)
	for i := 28; i < 42; i++ {
		gaps = append(gaps, i)
	}
	ms.Metrics.CPU = series(engine.MetricCPU, engine.UnitPercent, func(i int) float64 { return 30 + float64(i) }, gaps...)
	ms.Inputs.CPU.Gaps = len(gaps)
	memErr := "memory metric not available: install the guest diagnostics extension"
	ms.Metrics.Memory = engine.Series{Name: engine.MetricMemory, Unit: engine.UnitPercent, Err: memErr}
	ms.Inputs.Memory = engine.MetricSummary{Unit: engine.UnitPercent, Err: memErr}
	all := make([]int, 60)
	for i := range all {
		all[i] = i
	}
	ms.Metrics.NetOut = series(engine.MetricNetOut, engine.UnitBytesPerSecond, func(int) float64 { return 0 }, all...)
	ms.Inputs.NetOut = engine.MetricSummary{Unit: engine.UnitBytesPerSecond}
	f.send(ms)
	return f
}

// scaleInFixture has one scale-in card waiting, older than the change guard.
func scaleInFixture(t *testing.T, w, h int, r *lipgloss.Renderer) *fixture {
	f := newFixtureWith(t, w, h, nil, r)
	f.send(engine.StatusNote{Status: sampleStatus()})
	f.send(sampleMetrics())
	d := sampleDecision("b52c3d4e5f60", t0, 8, 6, engine.ReasonRecommended)
	d.Message = "cpu 31% for an hour; memory 40%"
	f.send(engine.DecisionNote{Decision: d})
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: d, Expires: t0.Add(5 * time.Minute)}}})
	f.wall.advance(3 * time.Second)
	f.send(secondMsg{})
	return f
}

// checkScreen fails unless view is exactly h lines of at most w cells.
func checkScreen(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d (the terminal's height)", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d cells wide, more than the terminal's %d: %q", i+1, lw, w, ansi.Strip(l))
		}
	}
}

// TestGolden renders each scene at 80×24 and 160×48 without colour and
// compares it with testdata/TestGolden/<scene>/<size>.golden (go test
// -update rewrites them).
func TestGolden(t *testing.T) {
	for _, sc := range scenes() {
		t.Run(sc.name, func(t *testing.T) {
			for _, sz := range sizes {
				t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
					f := sc.build(t, sz[0], sz[1], nil)
					v := f.m.View()
					if strings.Contains(v, "\x1b") {
						t.Fatalf("colourless view holds an escape sequence: %q", v)
					}
					checkScreen(t, v, sz[0], sz[1])
					golden.RequireEqual(t, v)
				})
			}
		})
	}
}

// TestColourSameLayout renders every scene with 256 and 16 colours, dark
// and light, and checks that colour changes nothing but colour: the text is
// the colourless view's, cell for cell.
func TestColourSameLayout(t *testing.T) {
	profiles := map[string]termenv.Profile{"256": termenv.ANSI256, "16": termenv.ANSI}
	for _, sc := range scenes() {
		for pname, prof := range profiles {
			for _, sz := range [][2]int{{80, 24}, {120, 40}, {160, 48}} {
				name := fmt.Sprintf("%s/%s/%dx%d", sc.name, pname, sz[0], sz[1])
				t.Run(name, func(t *testing.T) {
					plain := sc.build(t, sz[0], sz[1], nil).m.View()
					r := lipgloss.NewRenderer(io.Discard)
					r.SetColorProfile(prof)
					v := sc.build(t, sz[0], sz[1], r).m.View()
					if !strings.Contains(v, "\x1b[") {
						t.Fatalf("the %s-colour view has no escape sequence: the renderer was not used", pname)
					}
					checkScreen(t, v, sz[0], sz[1])
					if got := ansi.Strip(v); got != plain {
						t.Errorf("with colour the text differs from the colourless view:\n%s\n---\n%s", got, plain)
					}
				})
			}
		}
	}
}

// TestEverySizeFits resizes one dashboard through many sizes, each scene,
// and checks every frame fills the terminal without a wrapped line.
func TestEverySizeFits(t *testing.T) {
	for _, sc := range scenes() {
		t.Run(sc.name, func(t *testing.T) {
			f := sc.build(t, 80, 24, nil)
			for _, sz := range [][2]int{{81, 25}, {100, 30}, {119, 39}, {120, 32}, {120, 40}, {133, 41},
				{159, 47}, {200, 60}, {250, 80}, {79, 24}, {80, 23}, {40, 10}, {80, 24}} {
				f.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				v := f.m.View()
				t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) { checkScreen(t, v, sz[0], sz[1]) })
			}
		})
	}
}

// TestTooSmall names the size it needs.
func TestTooSmall(t *testing.T) {
	f := newFixture(t, 79, 30)
	f.loaded()
	v := f.m.View()
	checkScreen(t, v, 79, 30)
	for _, want := range []string{"at least 80×24", "this terminal is 79×30"} {
		if !strings.Contains(v, want) {
			t.Errorf("the size note lacks %q:\n%s", want, v)
		}
	}
}

// BenchmarkView measures one frame at 200×60 with everything on screen.
func BenchmarkView(b *testing.B) {
	f := benchFixture(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = f.m.View()
	}
}

// BenchmarkViewAfterMetrics measures a frame that follows new metrics, which
// redraws the charts (in Update) and composes the screen.
func BenchmarkViewAfterMetrics(b *testing.B) {
	f := benchFixture(b)
	ms := sampleMetrics()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.m.Update(ms)
		_ = f.m.View()
	}
}

func benchFixture(b *testing.B) *fixture {
	b.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	wall := &fakeClock{t: t0}
	ctl := &fakeController{status: sampleStatus()}
	m := newModel(b.Context(), Options{Controller: ctl, Title: "prod/rg-web/vmss-web", Theme: ThemeDark,
		Wall: wall, ListModels: sampleLister}, r)
	f := &fixture{t: b, m: m, ctl: ctl, wall: wall}
	f.send(tea.WindowSizeMsg{Width: 200, Height: 60})
	f.loaded()
	return f
}
