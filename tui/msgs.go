package tui

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/scalepilot/scalepilot/engine"
)

// Engine notifications arrive as their own engine.*Note types, one tea.Msg
// each. The messages below are the dashboard's own.

// notesClosedMsg says the notification channel was closed: the engine
// stopped.
type notesClosedMsg struct{}

// secondMsg is the one-second clock that drives countdowns and toasts.
type secondMsg struct{}

// flushMsg asks to redraw the reasoning view after a batch of tokens.
type flushMsg struct{}

// snapshotMsg is the engine's status and recent decisions, read at start.
type snapshotMsg struct {
	status engine.Status
	recent []engine.Decision
}

// doneMsg reports the result of one command sent to the engine.
type doneMsg struct {
	what string // human words: "approve #a41f2c"
	err  error
}

// modelsMsg is the model list for the picker, or why it could not be read.
type modelsMsg struct {
	models []engine.ModelInfo
	err    error
}

// waitNote blocks for the next engine notification. Update re-arms it after
// every notification, so exactly one is outstanding.
func waitNote(ch <-chan engine.Notification) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		n, ok := <-ch
		if !ok {
			return notesClosedMsg{}
		}
		return n
	}
}

// everySecond schedules the next clock message.
func everySecond() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return secondMsg{} })
}

// flushSoon batches tokens: one redraw of the reasoning view per 100 ms.
func flushSoon() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return flushMsg{} })
}

// snapshotCmd reads the engine's status and recent decisions.
func snapshotCmd(c Controller) tea.Cmd {
	return func() tea.Msg {
		return snapshotMsg{status: c.Status(), recent: c.Recent(historyLen)}
	}
}

// controlCmd runs one engine command and reports its result.
func controlCmd(what string, f func() error) tea.Cmd {
	return func() tea.Msg { return doneMsg{what: what, err: f()} }
}

// listModelsCmd reads the model list with a bounded wait.
func listModelsCmd(ctx context.Context, list ModelLister) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		ms, err := list(ctx)
		return modelsMsg{models: ms, err: err}
	}
}
