package tui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/scalepilot/scalepilot/engine"
)

// wantCalls fails unless the controller received exactly want, in order.
func (f *fixture) wantCalls(want ...string) {
	f.t.Helper()
	if got := f.ctl.Calls(); !slices.Equal(got, want) {
		f.t.Fatalf("controller calls = %q, want %q", got, want)
	}
}

// wantView fails unless the screen shows every one of subs.
func (f *fixture) wantView(subs ...string) {
	f.t.Helper()
	v := ansi.Strip(f.m.View())
	for _, s := range subs {
		if !strings.Contains(v, s) {
			f.t.Fatalf("the screen does not show %q:\n%s", s, v)
		}
	}
}

func (f *fixture) wantToast(sub string) {
	f.t.Helper()
	if !strings.Contains(f.m.toast.text, sub) {
		f.t.Fatalf("toast = %q, want it to say %q", f.m.toast.text, sub)
	}
}

func TestApproveScaleOut(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	msg := f.press("y")
	if d, ok := msg.(doneMsg); !ok || d.err != nil {
		t.Fatalf("y returned %#v, want a successful doneMsg", msg)
	}
	f.wantCalls("approve a41f2c9e0b11")
	f.wantToast("approve #a41f2c: done")
}

func TestApproveScaleInAsksOnceMore(t *testing.T) {
	f := scaleInFixture(t, 80, 24, nil)
	f.press("y")
	if f.m.overlay != ovConfirm {
		t.Fatalf("y on a scale-in opened overlay %d, want the confirmation", f.m.overlay)
	}
	f.wantCalls()
	f.wantView("Approve scale-in #b52c3d?", "▸ [ Keep 8 ]", "[ Scale in to 6 ]")

	// enter presses the focused button, which starts on Keep
	f.press("enter")
	f.wantCalls()
	if f.m.overlay != ovNone {
		t.Fatal("enter on Keep left the dialog open")
	}

	// n and esc say no
	for _, no := range []string{"n", "esc"} {
		f.press("y", no)
		f.wantCalls()
	}

	// tab moves to the yes button; enter then approves
	f.press("y", "tab")
	f.wantView("▸ [ Scale in to 6 ]")
	f.press("enter")
	f.wantCalls("approve b52c3d4e5f60")

	// y y at once is a double press: the second y does not answer the
	// question it opened
	f.press("y", "y")
	f.wantCalls("approve b52c3d4e5f60")
	f.wantToast("y ignored: the question opened")
	if f.m.overlay != ovConfirm {
		t.Fatal("the double press closed the dialog")
	}

	// y in the dialog, once it has been open a moment, approves
	f.wall.advance(dialogGuard)
	f.press("y")
	f.wantCalls("approve b52c3d4e5f60", "approve b52c3d4e5f60")
}

func TestScaleInConfirmRefusesChangedCard(t *testing.T) {
	f := scaleInFixture(t, 80, 24, nil)
	f.press("y")
	d := f.m.cards[0].p.Decision
	d.Desired = 5
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: d, Expires: t0.Add(5 * time.Minute)}}})
	if f.m.overlay == ovConfirm {
		t.Fatal("the dialog stayed open after its card changed")
	}
	f.press("y") // a fresh y within the change guard is ignored too
	f.wantCalls()
	f.wantToast("changed")
}

func TestApproveIgnoredRightAfterChange(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	d := sampleDecision("c0ffee000001", t0, 8, 10, engine.ReasonRecommended)
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: d, Expires: t0.Add(10 * time.Minute)}}})
	f.press("y")
	f.wantCalls()
	f.wantToast("y ignored")
	f.wall.advance(changeGuard)
	f.press("y")
	f.wantCalls("approve c0ffee000001")
}

func TestReject(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.press("n")
	f.wantCalls("reject a41f2c9e0b11")
	f.wantToast("reject #a41f2c: done")
}

func TestExpiredCardIsNeverApplied(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.wall.advance(5 * time.Minute) // the card expires at t0+5m; loaded is at t0+9s
	f.send(secondMsg{})
	f.wantView("EXPIRED · not applied")
	f.press("y")
	f.press("n")
	f.wantCalls()
	f.wantToast("already expired")

	// the engine's expiry event lands in the history and the message line
	f.send(engine.EventNote{Event: engine.Event{Type: engine.TypeExpired, DecisionID: "a41f2c9e0b11",
		From: 8, To: 12, TS: t0.Add(5 * time.Minute)}})
	f.send(engine.PendingNote{})
	f.wantToast("expired unanswered; it was not applied")
	f.press("4")
	f.wantView("expired")
	f.press("y")
	f.wantCalls()
}

func TestScaleInExpiresWhileConfirming(t *testing.T) {
	f := scaleInFixture(t, 80, 24, nil)
	f.press("y")
	f.wall.advance(10 * time.Minute)
	f.press("y")
	f.wantCalls()
	f.wantToast("expired")
}

func TestModeSwitch(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()

	// dry-run applies at once
	f.press("m")
	f.wantView("Mode", "DRY-RUN", "← now")
	f.press("d")
	f.wantCalls("mode dry-run")

	// auto asks first; no and esc keep the mode
	for _, no := range []string{"n", "esc", "enter"} {
		f.press("m", "a")
		if f.m.overlay != ovConfirm {
			t.Fatal("choosing auto did not ask for confirmation")
		}
		f.wantView("Switch to AUTO?", "▸ [ Stay APPROVE ]")
		f.press(no)
	}
	f.wantCalls("mode dry-run")
	f.press("m", "a", "y")
	f.wantCalls("mode dry-run", "mode auto")

	// the menu moves with j/k and enter; the current mode is a no-op
	f.press("m", "esc")
	f.press("m", "enter")
	f.wantToast("already in APPROVE mode")
	f.wantCalls("mode dry-run", "mode auto")
	f.press("m", "j", "enter")
	f.wantCalls("mode dry-run", "mode auto", "mode dry-run")
}

func TestModelPicker(t *testing.T) {
	f := newFixture(t, 120, 40)
	f.loaded()
	msg := f.press("M")
	if _, ok := msg.(modelsMsg); !ok {
		t.Fatalf("M returned %T, want the model list", msg)
	}
	f.wantView("Choose the primary model", "★ llama3:8b", "not pulled", "9.0 GB")

	// a model that is not pulled is refused
	f.press("/", "3") // filter "3"
	f.press(".", "1")
	f.wantView("llama3.1:8b")
	f.press("enter")
	f.wantToast("not on the Ollama server")
	f.wantCalls()

	// filter to qwen, pick it as primary; the fallback step points at the
	// current fallback, and down picks the next one
	for range 3 {
		f.press("backspace")
	}
	f.press("q", "w", "e", "n")
	if f.m.overlay != ovPicker {
		t.Fatal("typing q in the filter closed the picker")
	}
	f.press("enter")
	f.wantView("Choose the fallback model")
	if got := f.m.picker.all[f.m.picker.rows[f.m.picker.cur]].Name; got != "mistral:7b" {
		t.Fatalf("fallback cursor on %s, want the current fallback mistral:7b", got)
	}
	f.press("down", "down", "enter")
	f.wantCalls("models qwen2.5:14b phi3:mini")
	if f.m.overlay != ovNone {
		t.Fatal("the picker stayed open after the fallback was chosen")
	}

	// esc cancels without a call
	f.press("M", "enter", "esc")
	f.wantCalls("models qwen2.5:14b phi3:mini")
}

func TestDecideNow(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.press("r")
	f.wantCalls("decide")
}

func TestManualScale(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.press("S")
	if f.m.overlay != ovScale || f.m.scaleIn.Value() != "8" {
		t.Fatalf("S opened overlay %d with %q, want the scale input with the capacity 8", f.m.overlay, f.m.scaleIn.Value())
	}
	f.press("backspace", "2", "5", "enter") // 25 > max 20
	f.wantToast("outside min 2 and max 20")
	f.press("backspace", "backspace", "1", "enter") // 1 < min 2
	f.wantToast("outside min 2 and max 20")
	f.press("backspace", "x") // not a digit: refused by the input
	if v := f.m.scaleIn.Value(); v != "" {
		t.Fatalf("the input holds %q after a letter, want it empty", v)
	}
	f.wantCalls()
	f.press("1", "4", "enter")
	f.wantView("Scale 8 → 14?", "▸ [ Keep 8 ]", "[ Scale to 14 ]")
	f.press("enter") // Keep is focused
	f.wantCalls()
	f.press("S", "backspace", "1", "4", "enter", "y")
	f.wantCalls("scale")
	if f.ctl.scaledTo != 14 {
		t.Fatalf("scaled to %d, want 14", f.ctl.scaledTo)
	}
	f.press("S", "esc")
	if f.m.overlay != ovNone {
		t.Fatal("esc left the scale input open")
	}
	f.wantCalls("scale")
}

func TestManualScaleEngineError(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.ctl.err = errBoom
	f.press("S", "backspace", "1", "0", "enter", "y")
	f.wantCalls("scale")
	f.wantToast("scale to 10 failed: boom")
	if f.m.toast.level != levelError {
		t.Fatal("an engine error is not shown as an error")
	}
	f.press("esc")
	if f.m.toast.text != "" {
		t.Fatal("esc did not dismiss the error")
	}
}

func TestHelp(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.press("?")
	if f.m.overlay != ovHelp {
		t.Fatal("? did not open help")
	}
	f.wantView("Help", "approve", "decide now", "freeze charts", "press focused")
	f.press("y") // keys of the main screen do nothing under help
	f.wantCalls()
	f.press("?")
	if f.m.overlay != ovNone {
		t.Fatal("? did not close help")
	}
	f.press("?", "esc")
	if f.m.overlay != ovNone {
		t.Fatal("esc did not close help")
	}
}

// TestHelpShowsEveryKey checks that the help view at 80×24 lists every
// binding's help, scrolling through it.
func TestHelpShowsEveryKey(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	f.press("?")
	seen := ""
	for range 10 {
		seen += ansi.Strip(f.m.View())
		f.press("j", "j", "j", "j", "j")
	}
	for _, g := range f.m.keys.fullHelp() {
		for _, b := range g {
			if !strings.Contains(seen, b.Help().Desc) {
				t.Errorf("help at 80×24 never shows %q (%s)", b.Help().Desc, b.Help().Key)
			}
		}
	}
}

func TestQuit(t *testing.T) {
	cases := []struct {
		name  string
		setup []string
		key   string
	}{
		{"q", nil, "q"},
		{"ctrl+c", nil, "ctrl+c"},
		{"q in help", []string{"?"}, "q"},
		{"ctrl+c in the picker", []string{"M"}, "ctrl+c"},
		{"ctrl+c in a dialog", []string{"m", "a"}, "ctrl+c"},
		{"ctrl+c in the scale input", []string{"S"}, "ctrl+c"},
		{"ctrl+c while filtering", []string{"/"}, "ctrl+c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 80, 24)
			f.loaded()
			f.press(c.setup...)
			if _, ok := f.press(c.key).(tea.QuitMsg); !ok {
				t.Fatalf("%s did not quit", c.key)
			}
			f.wantCalls()
		})
	}
	// q types into the filters instead of quitting
	f := newFixture(t, 80, 24)
	f.loaded()
	f.press("/")
	if _, quit := f.press("q").(tea.QuitMsg); quit || f.m.filter.Value() != "q" {
		t.Fatalf("q in the history filter quit or was lost (filter %q)", f.m.filter.Value())
	}
}

func TestEscNeverQuitsOrApproves(t *testing.T) {
	f := newFixture(t, 80, 24)
	f.loaded()
	for range 5 {
		if msg := f.press("esc"); msg != nil {
			t.Fatalf("esc returned %T", msg)
		}
	}
	f.wantCalls()
}

func TestHistoryFilterAndOpen(t *testing.T) {
	f := newFixture(t, 120, 40)
	f.loaded()
	f.press("/", "f", "l", "a", "p", "enter")
	f.wantView("1 of 6", "flap_guard")
	f.press("enter")
	if f.m.overlay != ovDetail {
		t.Fatal("enter on a history row did not open its record")
	}
	f.wantView("Decision 3d4e5f607182", "rejected", `"reason": "flap_guard"`)
	f.press("esc", "esc")
	f.wantView("4 History 6")
}

// TestModelTextIsSanitized streams model text with real escape and control
// sequences and checks none reaches the screen.
func TestModelTextIsSanitized(t *testing.T) {
	f := newFixture(t, 120, 40)
	f.send(engine.StatusNote{Status: sampleStatus()})
	f.send(engine.TickNote{At: t0, Seq: 1, Next: t0.Add(time.Minute)})
	nasty := []string{
		"clear\x1b[2J\x1b[H the screen; ", "red \x1b[31mtext\x1b[0m; ",
		"title \x1b]0;pwned\x07; ", "link \x1b]8;;http://x.example\x1b\\here\x1b]8;;\x1b\\; ",
		"clip \x1b]52;c;ZXZpbA==\x07; ", "dcs \x1bP1$r0m\x1b\\; ", "c1 \u009b31m csi; ",
		"bell\x07 bs\x08 cr\r del\x7f nul\x00; ", "bidi \u202egnp.exe\u202c; ", "split \x1b[", "5mblink\x1b", "[0m end",
	}
	for _, s := range nasty {
		f.send(engine.TokenNote{Seq: 1, Model: "evil\x1b[31m", Text: s})
	}
	f.send(flushMsg{})
	d := sampleDecision("ee0000000001", t0, 8, 9, engine.ReasonRecommended)
	d.Message = "msg \x1b[1mbold\x1b[0m\x07"
	d.Model = "m\x1b]0;x\x07"
	d.Reasoning = strings.Join(nasty, "")
	f.send(engine.DecisionNote{Decision: d})
	f.send(engine.PendingNote{Pending: []engine.Pending{{Decision: d, Expires: t0.Add(time.Hour)}}})

	check := func(where string) {
		t.Helper()
		v := f.m.View()
		for i, r := range v {
			if (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) {
				t.Fatalf("%s: control character %U at byte %d:\n%q", where, r, i, v)
			}
		}
		for _, s := range []string{"pwned", "ZXZpbA", "[31m", "[2J", "x.example", "5mblink"} {
			if strings.Contains(v, s) {
				t.Fatalf("%s: the screen shows %q from an escape sequence:\n%s", where, s, v)
			}
		}
	}
	check("dashboard")
	f.wantView("clear the screen", "red text", "link here", "blink end", "gnp.exe", "msg bold")
	f.press("2", "enter")
	check("record view")
}

func TestCleanText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text\nnext line", "plain text\nnext line"},
		{"\x1b[31mred\x1b[0m", "red"},
		{"a\x1b]0;title\x07b", "ab"},
		{"a\x1b]8;;http://h\x1b\\link\x1b]8;;\x1b\\b", "alinkb"},
		{"tab\there", "tab    here"},
		{"cr\r\nlf", "cr\nlf"},
		{"bell\x07 nul\x00 del\x7f bs\x08", "bell nul del bs"},
		{"\u202eevil\u202c \u2066iso\u2069", "evil iso"},
		{"é ✓ 漢字", "é ✓ 漢字"},
		{"c1\u0085next\u009b", "c1next"},
	}
	for _, c := range cases {
		if got := cleanText(c.in); got != c.want {
			t.Errorf("cleanText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := oneLine("a\n  b\x1b[1m\nc"); got != "a b c" {
		t.Errorf("oneLine folded to %q, want %q", got, "a b c")
	}
}

// TestPickerMatchesUntaggedName points the picker at the current model when
// the configuration names it without its tag (tiny is tiny:latest).
func TestPickerMatchesUntaggedName(t *testing.T) {
	f := newFixture(t, 120, 40)
	st := sampleStatus()
	st.Models = engine.ModelChoice{Primary: "tiny", Fallback: "mistral:7b"}
	f.send(engine.StatusNote{Status: st})
	f.m.o.ListModels = func(context.Context) ([]engine.ModelInfo, error) {
		return append(sampleModels(), engine.ModelInfo{Name: "tiny:latest", Size: 267_479, Present: true}), nil
	}
	f.press("M")
	p := f.m.picker
	if got := p.all[p.rows[p.cur]].Name; got != "tiny:latest" {
		t.Fatalf("picker cursor on %s, want the current primary tiny:latest", got)
	}
	f.wantView("tiny:latest", "267 kB", "primary")
}

// TestPreviousReasoningStaysWhileWaiting keeps the last answer on screen
// until the next decision's advisor starts to answer.
func TestPreviousReasoningStaysWhileWaiting(t *testing.T) {
	f := newFixture(t, 120, 40)
	f.loaded()
	f.send(engine.TickNote{At: t0.Add(5 * time.Minute), Seq: 13, Next: t0.Add(10 * time.Minute)})
	f.wantView("decision 13", "Waiting for the advisor…", "Previous decision:", "decision 12",
		"llama3:8b recommends 12 instances")
	f.send(engine.TickNote{At: t0.Add(10 * time.Minute), Seq: 14}) // 13 said nothing: 12 stays
	f.wantView("decision 14", "Previous decision:", "decision 12")
	f.send(engine.TokenNote{Seq: 14, Model: "llama3:8b", Text: "a new answer"}, flushMsg{})
	v := ansi.Strip(f.m.View())
	if strings.Contains(v, "Previous decision:") || strings.Contains(v, "recommends 12 instances") {
		t.Fatalf("the previous decision stays after the new one streams:\n%s", v)
	}
	f.wantView("a new answer")
}
