package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// Styles holds every style the dashboard draws with. Colours come from the
// ANSI-16 palette only, so the terminal's own theme decides the exact
// shades and 16-colour terminals render them as meant.
type Styles struct {
	NoColor bool

	Title    lipgloss.Style // the product name in the header
	Text     lipgloss.Style
	Dim      lipgloss.Style
	Label    lipgloss.Style // metric and field labels
	Value    lipgloss.Style // numbers that matter
	Accent   lipgloss.Style
	OK       lipgloss.Style
	Warn     lipgloss.Style
	Bad      lipgloss.Style
	Selected lipgloss.Style // the cursor row

	BadgeAuto    lipgloss.Style
	BadgeApprove lipgloss.Style
	BadgeDryRun  lipgloss.Style
	BadgeAlert   lipgloss.Style // STALE, FROZEN, ENGINE STOPPED

	Border        lipgloss.Style // unfocused pane frame and rules
	BorderFocused lipgloss.Style
	PaneTitle     lipgloss.Style
	PaneTitleOn   lipgloss.Style

	Chart     lipgloss.Style
	ChartHot  lipgloss.Style // the current value above its threshold
	Threshold lipgloss.Style

	ButtonOn  lipgloss.Style // focused dialog button
	ButtonOff lipgloss.Style

	Help help.Styles
}

// palette is one theme's colour choice; all entries are ANSI-16 indexes.
type palette struct {
	text, dim, accent, ok, warn, bad, badgeFg string
}

var (
	darkPalette  = palette{text: "7", dim: "8", accent: "14", ok: "10", warn: "11", bad: "9", badgeFg: "0"}
	lightPalette = palette{text: "0", dim: "8", accent: "4", ok: "2", warn: "3", bad: "1", badgeFg: "15"}
)

// NewStyles builds the styles for a theme on renderer r (nil: lipgloss's
// default renderer). With noColor every colour is dropped and emphasis is
// carried by bold, reverse video and words.
func NewStyles(r *lipgloss.Renderer, theme Theme, noColor bool) Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	p := darkPalette
	if theme == ThemeLight {
		p = lightPalette
	}
	ns := r.NewStyle
	fg := func(c string) lipgloss.Style {
		if noColor {
			return ns()
		}
		return ns().Foreground(lipgloss.Color(c))
	}
	badge := func(bg string) lipgloss.Style {
		if noColor {
			return ns().Reverse(true).Bold(true)
		}
		return ns().Foreground(lipgloss.Color(p.badgeFg)).Background(lipgloss.Color(bg)).Bold(true)
	}
	s := Styles{
		NoColor:      noColor,
		Title:        fg(p.accent).Bold(true),
		Text:         ns(),
		Dim:          fg(p.dim),
		Label:        fg(p.accent),
		Value:        ns().Bold(true),
		Accent:       fg(p.accent),
		OK:           fg(p.ok),
		Warn:         fg(p.warn).Bold(true),
		Bad:          fg(p.bad).Bold(true),
		Selected:     ns().Reverse(true),
		BadgeAuto:    badge(p.ok),
		BadgeApprove: badge(p.accent),
		BadgeDryRun:  badge(p.warn),
		BadgeAlert:   badge(p.bad),

		Border:        fg(p.dim),
		BorderFocused: fg(p.accent).Bold(true),
		PaneTitle:     ns().Bold(true),
		PaneTitleOn:   fg(p.accent).Bold(true).Underline(noColor),

		Chart:     fg(p.accent),
		ChartHot:  fg(p.warn).Bold(true),
		Threshold: fg(p.dim),

		ButtonOn:  ns().Reverse(true).Bold(true),
		ButtonOff: ns(),
	}
	if noColor {
		s.Dim = ns()
		s.Border = ns()
		s.Chart = ns()
		s.Threshold = ns()
		s.Label = ns()
	}
	key := fg(p.accent).Bold(true)
	desc := fg(p.text)
	if noColor || theme == ThemeLight {
		desc = ns()
	}
	sep := fg(p.dim)
	s.Help = help.Styles{
		Ellipsis: sep, ShortKey: key, ShortDesc: desc, ShortSeparator: sep,
		FullKey: key, FullDesc: desc, FullSeparator: sep,
	}
	return s
}
