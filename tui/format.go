package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/scalepilot/scalepilot/engine"
)

// fit cuts or pads s (which may hold escape sequences) to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// spread puts left and right on one line of w cells, right-aligned right,
// dropping right when both do not fit.
func spread(left, right string, w int) string {
	lw, rw := ansi.StringWidth(left), ansi.StringWidth(right)
	if lw+rw+1 > w {
		return fit(left, w)
	}
	return left + strings.Repeat(" ", w-lw-rw) + right
}

// spreadRight is spread that keeps right whole and cuts left to fit.
func spreadRight(left, right string, w int) string {
	rw := ansi.StringWidth(right)
	if rw+2 > w {
		return fit(left, w)
	}
	return fit(left, w-rw-1) + " " + right
}

// joinFit joins parts with sep while they fit in w cells; later parts are
// dropped whole rather than cut.
func joinFit(parts []string, sep string, w int) string {
	var b strings.Builder
	used := 0
	sw := ansi.StringWidth(sep)
	for i, p := range parts {
		if p == "" {
			continue
		}
		pw := ansi.StringWidth(p)
		add := pw
		if used > 0 {
			add += sw
		}
		if used+add > w {
			if i == 0 {
				return fit(p, w)
			}
			break
		}
		if used > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p)
		used += add
	}
	return b.String()
}

// clock formats a countdown as m:ss, or h:mm:ss from an hour up.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// short formats a duration compactly: 45s, 3m12s, 2h5m.
func short(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%02dm", h, m)
	}
}

// metricValue formats a metric value with its unit, at most 7 cells.
func metricValue(v float64, unit string) string {
	switch unit {
	case engine.UnitPercent:
		return fmt.Sprintf("%.0f%%", v)
	case engine.UnitBytesPerSecond:
		return bytesRate(v)
	}
	if v >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// rateUnits are the decimal prefixes of bytes per second, by power of 1000.
var rateUnits = []string{"B/s", "kB/s", "MB/s", "GB/s", "TB/s"}

// ratePrefix is the power of 1000 (an index into rateUnits) that shows m
// bytes per second in at most three digits.
func ratePrefix(m float64) int {
	i := 0
	for ; m >= 999.5 && i < len(rateUnits)-1; m /= 1000 {
		i++
	}
	return i
}

// bytesRate formats bytes per second with a decimal prefix: 42MB/s.
func bytesRate(v float64) string {
	i := ratePrefix(v)
	for range i {
		v /= 1000
	}
	if v < 9.95 && i > 0 {
		return fmt.Sprintf("%.1f%s", v, rateUnits[i])
	}
	return fmt.Sprintf("%.0f%s", v, rateUnits[i])
}

// trendValue formats a metric's trend per hour in the unit its value is
// shown in: bytes per second take the prefix of ref (the value shown
// beside it), so a trend of -278381 B/s/h next to 20MB/s reads
// -0.28MB/s/h. Other units keep their number: +3.0/h.
func trendValue(v, ref float64, unit string) string {
	if unit != engine.UnitBytesPerSecond {
		return fmt.Sprintf("%+.1f/h", v)
	}
	i := ratePrefix(max(ref, math.Abs(v)))
	x := v / math.Pow(1000, float64(i))
	switch a := math.Abs(x); {
	case a >= 99.5:
		return fmt.Sprintf("%+.0f%s/h", x, rateUnits[i])
	case a >= 9.95:
		return fmt.Sprintf("%+.1f%s/h", x, rateUnits[i])
	}
	return fmt.Sprintf("%+.2f%s/h", x, rateUnits[i])
}

// sizeGB formats a model's size on disk.
func sizeGB(b int64) string {
	if b <= 0 {
		return "-"
	}
	gb := float64(b) / 1e9
	if b < 1e6 {
		return fmt.Sprintf("%.0f kB", float64(b)/1e3)
	}
	if gb < 1 {
		return fmt.Sprintf("%.0f MB", float64(b)/1e6)
	}
	return fmt.Sprintf("%.1f GB", gb)
}

// conf formats a confidence, or "-" when the advisor gave none.
func conf(c *float64) string {
	if c == nil || math.IsNaN(*c) {
		return "-"
	}
	return fmt.Sprintf("%.2f", *c)
}

// shortID is the part of a decision id shown on cards and rows.
func shortID(id string) string {
	if len(id) > 6 {
		id = id[:6]
	}
	return "#" + id
}

// actionWord names an action for a card: SCALE OUT, SCALE IN, HOLD.
func actionWord(a engine.Action) string {
	switch a {
	case engine.ActionScaleOut:
		return "SCALE OUT"
	case engine.ActionScaleIn:
		return "SCALE IN"
	}
	return "HOLD"
}

// actionShort names an action in a table row.
func actionShort(a engine.Action) string {
	switch a {
	case engine.ActionScaleOut:
		return "out"
	case engine.ActionScaleIn:
		return "in"
	}
	return "hold"
}

// modeWord is the badge text for a mode.
func modeWord(m engine.Mode) string {
	switch m {
	case engine.ModeAuto:
		return "AUTO"
	case engine.ModeApprove:
		return "APPROVE"
	case engine.ModeDryRun:
		return "DRY-RUN"
	}
	return "MODE?"
}

// signed formats a capacity change: +4, -2, ±0.
func signed(d int) string {
	if d == 0 {
		return "±0"
	}
	return fmt.Sprintf("%+d", d)
}

// msDuration converts a record's milliseconds to a Duration.
func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// plural counts things: "1 gap", "3 gaps".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
