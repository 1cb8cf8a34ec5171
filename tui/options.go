// Package tui is scalepilot's terminal dashboard: live metrics, capacity,
// the advisor's streamed reasoning, decision history, approval cards, and the
// keys to change mode, models and capacity while the engine runs.
//
// The engine runs in its own goroutine. The dashboard learns about it from a
// channel of engine notifications, one Bubble Tea message per notification,
// and sends it commands through Controller from tea.Cmds; Update does no I/O.
package tui

import (
	"context"
	"log/slog"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// Controller is what the dashboard asks of the engine. *engine.Engine
// satisfies it.
type Controller interface {
	Approve(id string) error
	Reject(id string) error
	SetMode(m engine.Mode) error
	SetModels(mc engine.ModelChoice)
	DecideNow()
	ScaleTo(n int) error
	Status() engine.Status
	Recent(n int) []engine.Decision
}

// ModelLister lists the models the Ollama server has, with the recommended
// ones marked (and listed even when missing). llm.ListModels fits behind it.
type ModelLister func(ctx context.Context) ([]engine.ModelInfo, error)

// Theme chooses the palette for the terminal's background.
type Theme string

// The themes. ThemeAuto asks the terminal for its background once, in Run.
const (
	ThemeAuto  Theme = "auto"
	ThemeDark  Theme = "dark"
	ThemeLight Theme = "light"
)

// ParseTheme turns a flag or config value into a Theme.
func ParseTheme(s string) (Theme, bool) {
	switch Theme(s) {
	case "", ThemeAuto:
		return ThemeAuto, true
	case ThemeDark, ThemeLight:
		return Theme(s), true
	}
	return "", false
}

// Options wires the dashboard. Controller is required; everything else has a
// usable zero value.
type Options struct {
	// Controller receives the operator's commands.
	Controller Controller
	// Notes carries the engine's notifications. The dashboard stops
	// listening when it is closed. Tokens may be dropped by the sender when
	// the channel is full; nothing else should be.
	Notes <-chan engine.Notification
	// ListModels feeds the model picker; nil disables the picker.
	ListModels ModelLister

	// Title names the scale set (for example "prod/rg-web/vmss-web") or,
	// with Demo, the demo trace. Empty: the engine's scale set name.
	Title string
	// Demo says the scale set is the built-in simulator running Title.
	Demo bool
	// VMSize is the scale set's SKU, shown in the header.
	VMSize string

	// Theme picks colours for a dark or light background.
	Theme Theme
	// NoColor drops every colour (NO_COLOR); meaning stays in words.
	NoColor bool
	// Mouse turns on mouse reporting (wheel scrolling). Off by default so
	// that the terminal's own text selection keeps working.
	Mouse bool

	// Logger receives the dashboard's logs; it must not write to the
	// terminal. Nil discards.
	Logger *slog.Logger
	// Wall tells wall-clock time for approval expiry countdowns; time.Now
	// when nil.
	Wall engine.Clock

	// Keys overrides key bindings: action name (see KeyActions) to the
	// keys that trigger it. Unknown actions and keys bound twice are errors
	// (Run reports them; New ignores the overrides and logs why).
	Keys map[string][]string

	// CPUThreshold and MemoryThreshold are the scale-out thresholds drawn
	// on the charts, in percent; 75 and 80 when zero.
	CPUThreshold    float64
	MemoryThreshold float64

	// Listen is the address the HTTP server (--listen) bound, told once at
	// the start; empty when there is none.
	Listen string
}

const (
	defaultCPUThreshold    = 75
	defaultMemoryThreshold = 80
	// changeGuard is how long a card must stay unchanged before y acts on
	// it, and how long y and n are ignored after a confirmation dialog was
	// withdrawn because its card changed or left: long enough to notice the
	// new card and read it, not only for the screen to catch up.
	changeGuard = 3 * time.Second
	// dialogGuard is how long y is ignored after a confirmation dialog
	// opens: the y that opened it, pressed twice, must not answer it.
	dialogGuard = time.Second
	// toastTTL is how long an informational message stays in the footer.
	toastTTL = 6 * time.Second
	// historyLen is how many decisions the history pane keeps.
	historyLen = 200
	// minWidth and minHeight are the smallest terminal the dashboard draws.
	minWidth  = 80
	minHeight = 24
)

func (o *Options) withDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Wall == nil {
		o.Wall = engine.ClockFunc(time.Now)
	}
	if o.CPUThreshold <= 0 {
		o.CPUThreshold = defaultCPUThreshold
	}
	if o.MemoryThreshold <= 0 {
		o.MemoryThreshold = defaultMemoryThreshold
	}
	if o.Theme == "" {
		o.Theme = ThemeAuto
	}
}
