package tui

import (
	"context"
	"errors"
	"fmt"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Run shows the dashboard on the terminal (alternate screen) until the
// operator quits or ctx ends, and returns a one-line summary for stderr:
// mode, pending cards, the action in flight. The terminal is restored on
// every exit, a panic included. An error means the dashboard could not run
// or crashed; quitting and ctx ending are not errors.
func Run(ctx context.Context, o Options) (summaryLine string, err error) {
	if o.Controller == nil {
		return "", errors.New("run dashboard: no controller: wire the engine into tui.Options.Controller")
	}
	if _, err := DefaultKeyMap().Override(o.Keys); err != nil {
		return "", fmt.Errorf("run dashboard: %w", err)
	}
	if os.Getenv("NO_COLOR") != "" {
		o.NoColor = true
	}
	if o.Theme == ThemeAuto || o.Theme == "" {
		// Ask the terminal once, before the program owns its input.
		o.Theme = ThemeLight
		if lipgloss.HasDarkBackground() {
			o.Theme = ThemeDark
		}
	}
	var r *lipgloss.Renderer
	if o.NoColor {
		// NO_COLOR takes colours away, not emphasis: keep bold, underline and
		// reverse video, which mark the cursor and the focused pane and button.
		r = lipgloss.NewRenderer(os.Stdout)
		r.SetColorProfile(termenv.ANSI)
	}
	m := newModel(ctx, o, r)
	opts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx), tea.WithFPS(20)}
	if o.Mouse {
		opts = append(opts, tea.WithMouseCellMotion())
	}
	p := tea.NewProgram(m, opts...)
	defer func() {
		// Bubble Tea restores the terminal after panics in Update, View and
		// Cmds; this covers anything else on this goroutine.
		if r := recover(); r != nil {
			_ = p.RestoreTerminal()
			err = fmt.Errorf("run dashboard: panic: %v", r)
		}
	}()
	_, err = p.Run()
	summaryLine = summary(o.Controller.Status())
	switch {
	case err == nil:
	case errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil && !errors.Is(err, tea.ErrProgramPanic):
		err = nil // ctx ended: a normal stop
	case errors.Is(err, tea.ErrInterrupted):
		err = nil
	default:
		err = fmt.Errorf("run dashboard: %w", err)
	}
	return summaryLine, err
}
