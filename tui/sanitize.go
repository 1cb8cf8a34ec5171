package tui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// cleanText makes model output safe to draw: escape sequences (CSI, OSC,
// DCS, ...) and control characters are removed, tabs become spaces,
// carriage returns and bidirectional overrides are dropped. Newlines stay.
// Apply it to the whole text, not to stream pieces: a sequence may be split
// across tokens.
func cleanText(s string) string {
	if isPlain(s) {
		return s
	}
	s = ansi.Strip(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteString("    ")
		case r == unicode.ReplacementChar:
			b.WriteRune(r)
		case unicode.IsControl(r), isBidiControl(r):
			// dropped: C0, C1, DEL and direction overrides
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isPlain reports whether s is printable ASCII and newlines only, the
// common case, so cleanText can return it untouched.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\n') || c >= 0x7f {
			return false
		}
	}
	return true
}

func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// oneLine cleans s and folds it onto one line, for table cells and titles.
func oneLine(s string) string {
	s = cleanText(s)
	if strings.IndexByte(s, '\n') < 0 {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
