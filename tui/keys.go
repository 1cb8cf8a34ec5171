package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// KeyMap holds every key binding of the dashboard. Build it with
// DefaultKeyMap and change it with Override.
type KeyMap struct {
	Quit      key.Binding
	Help      key.Binding
	Back      key.Binding
	NextPane  key.Binding
	PrevPane  key.Binding
	Pane1     key.Binding
	Pane2     key.Binding
	Pane3     key.Binding
	Pane4     key.Binding
	Down      key.Binding
	Up        key.Binding
	Top       key.Binding
	Bottom    key.Binding
	HalfDown  key.Binding
	HalfUp    key.Binding
	Open      key.Binding
	Filter    key.Binding
	Approve   key.Binding
	Reject    key.Binding
	Mode      key.Binding
	Models    key.Binding
	DecideNow key.Binding
	Scale     key.Binding
	Follow    key.Binding
	Wrap      key.Binding
	Full      key.Binding
	Freeze    key.Binding
	Log       key.Binding
	Redraw    key.Binding

	// Dialog keys.
	Yes   key.Binding
	No    key.Binding
	Swap  key.Binding
	Press key.Binding
}

// DefaultKeyMap returns the key map operators expect (see shared/UX.md §3).
// No binding uses a tmux prefix (ctrl+b, ctrl+a), an F-key only, or Alt.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:      b("q", "quit", "q", "ctrl+c"),
		Help:      b("?", "help", "?"),
		Back:      b("esc", "close/clear", "esc"),
		NextPane:  b("tab", "next pane", "tab"),
		PrevPane:  b("S-tab", "prev pane", "shift+tab"),
		Pane1:     b("1", "metrics", "1"),
		Pane2:     b("2", "pending", "2"),
		Pane3:     b("3", "reasoning", "3"),
		Pane4:     b("4", "history", "4"),
		Down:      b("j/↓", "down", "j", "down"),
		Up:        b("k/↑", "up", "k", "up"),
		Top:       b("g/home", "top", "g", "home"),
		Bottom:    b("G/end", "bottom", "G", "end"),
		HalfDown:  b("ctrl+d/pgdn", "page down", "ctrl+d", "pgdown"),
		HalfUp:    b("ctrl+u/pgup", "page up", "ctrl+u", "pgup"),
		Open:      b("enter", "open", "enter"),
		Filter:    b("/", "filter", "/"),
		Approve:   b("y", "approve", "y"),
		Reject:    b("n", "reject", "n"),
		Mode:      b("m", "mode", "m"),
		Models:    b("M", "models", "M"),
		DecideNow: b("r", "decide now", "r"),
		Scale:     b("S", "scale to…", "S"),
		Follow:    b("s", "autoscroll", "s"),
		Wrap:      b("w", "wrap", "w"),
		Full:      b("f", "full screen", "f"),
		Freeze:    b("Z", "freeze charts", "Z"),
		Log:       b("@", "messages", "@"),
		Redraw:    b("ctrl+l", "redraw", "ctrl+l"),

		Yes:   b("y", "yes", "y"),
		No:    b("n/esc", "no", "n", "esc"),
		Swap:  b("tab/←/→", "move", "tab", "shift+tab", "left", "right", "h", "l"),
		Press: b("enter", "press focused", "enter"),
	}
}

// KeyActions lists the action names Override accepts, in help order.
func KeyActions() []string {
	names := make([]string, 0, len(keyFields))
	for _, f := range keyFields {
		names = append(names, f.name)
	}
	return names
}

// keyField names one binding of KeyMap for overrides.
type keyField struct {
	name string
	get  func(*KeyMap) *key.Binding
	// dialog bindings are checked for clashes only among themselves.
	dialog bool
}

var keyFields = []keyField{
	{"quit", func(k *KeyMap) *key.Binding { return &k.Quit }, false},
	{"help", func(k *KeyMap) *key.Binding { return &k.Help }, false},
	{"back", func(k *KeyMap) *key.Binding { return &k.Back }, false},
	{"next_pane", func(k *KeyMap) *key.Binding { return &k.NextPane }, false},
	{"prev_pane", func(k *KeyMap) *key.Binding { return &k.PrevPane }, false},
	{"pane_metrics", func(k *KeyMap) *key.Binding { return &k.Pane1 }, false},
	{"pane_pending", func(k *KeyMap) *key.Binding { return &k.Pane2 }, false},
	{"pane_reasoning", func(k *KeyMap) *key.Binding { return &k.Pane3 }, false},
	{"pane_history", func(k *KeyMap) *key.Binding { return &k.Pane4 }, false},
	{"down", func(k *KeyMap) *key.Binding { return &k.Down }, false},
	{"up", func(k *KeyMap) *key.Binding { return &k.Up }, false},
	{"top", func(k *KeyMap) *key.Binding { return &k.Top }, false},
	{"bottom", func(k *KeyMap) *key.Binding { return &k.Bottom }, false},
	{"page_down", func(k *KeyMap) *key.Binding { return &k.HalfDown }, false},
	{"page_up", func(k *KeyMap) *key.Binding { return &k.HalfUp }, false},
	{"open", func(k *KeyMap) *key.Binding { return &k.Open }, false},
	{"filter", func(k *KeyMap) *key.Binding { return &k.Filter }, false},
	{"approve", func(k *KeyMap) *key.Binding { return &k.Approve }, false},
	{"reject", func(k *KeyMap) *key.Binding { return &k.Reject }, false},
	{"mode", func(k *KeyMap) *key.Binding { return &k.Mode }, false},
	{"models", func(k *KeyMap) *key.Binding { return &k.Models }, false},
	{"decide_now", func(k *KeyMap) *key.Binding { return &k.DecideNow }, false},
	{"scale", func(k *KeyMap) *key.Binding { return &k.Scale }, false},
	{"autoscroll", func(k *KeyMap) *key.Binding { return &k.Follow }, false},
	{"wrap", func(k *KeyMap) *key.Binding { return &k.Wrap }, false},
	{"full_screen", func(k *KeyMap) *key.Binding { return &k.Full }, false},
	{"freeze", func(k *KeyMap) *key.Binding { return &k.Freeze }, false},
	{"messages", func(k *KeyMap) *key.Binding { return &k.Log }, false},
	{"redraw", func(k *KeyMap) *key.Binding { return &k.Redraw }, false},
	{"dialog_yes", func(k *KeyMap) *key.Binding { return &k.Yes }, true},
	{"dialog_no", func(k *KeyMap) *key.Binding { return &k.No }, true},
	{"dialog_move", func(k *KeyMap) *key.Binding { return &k.Swap }, true},
	{"dialog_press", func(k *KeyMap) *key.Binding { return &k.Press }, true},
}

// Override returns a copy of k with the keys of the named actions replaced.
// An unknown action, an empty key list, or a key bound to two actions of
// the same layer (main screen or dialogs) is an error.
func (k KeyMap) Override(over map[string][]string) (KeyMap, error) {
	if len(over) == 0 {
		return k, nil
	}
	names := make([]string, 0, len(over))
	for n := range over {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		keys := over[name]
		f, ok := findKeyField(name)
		if !ok {
			return k, fmt.Errorf("override key %q: unknown action; known actions: %s",
				name, strings.Join(KeyActions(), ", "))
		}
		if len(keys) == 0 {
			return k, fmt.Errorf("override key %q: no keys given", name)
		}
		b := f.get(&k)
		b.SetKeys(keys...)
		b.SetHelp(strings.Join(keys, "/"), b.Help().Desc)
	}
	return k, k.checkClashes()
}

func findKeyField(name string) (keyField, bool) {
	for _, kf := range keyFields {
		if kf.name == name {
			return kf, true
		}
	}
	return keyField{}, false
}

// checkClashes reports a key bound to two actions of one layer. The
// navigation twins that share a key on purpose (esc closes and says no) are
// in different layers.
func (k KeyMap) checkClashes() error {
	for _, dialog := range []bool{false, true} {
		seen := map[string]string{}
		for _, f := range keyFields {
			if f.dialog != dialog {
				continue
			}
			for _, key := range f.get(&k).Keys() {
				if prev, dup := seen[key]; dup {
					return fmt.Errorf("override keys: %q is bound to both %s and %s; "+
						"give one of them another key", key, prev, f.name)
				}
				seen[key] = f.name
			}
		}
	}
	return nil
}

// shortHelp is the footer's bindings for the focused pane and the state;
// the footer adds help and quit after them.
func (k KeyMap) shortHelp(p pane, cards bool) []key.Binding {
	out := []key.Binding{}
	if cards {
		out = append(out, k.Approve, k.Reject)
	}
	switch p {
	case paneReasoning:
		out = append(out, k.Follow, k.Wrap, k.Full)
	case paneHistory:
		out = append(out, k.Open, k.Filter, k.Full)
	case panePending:
		out = append(out, k.Open)
	}
	out = append(out, k.NextPane, k.Mode, k.Models, k.DecideNow)
	return out
}

// fullHelp groups every binding for the help view.
func (k KeyMap) fullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Approve, k.Reject, k.Mode, k.Models, k.DecideNow, k.Scale, k.Open},
		{k.NextPane, k.PrevPane, k.Pane1, k.Pane2, k.Pane3, k.Pane4, k.Full},
		{k.Down, k.Up, k.Top, k.Bottom, k.HalfDown, k.HalfUp, k.Filter},
		{k.Follow, k.Wrap, k.Freeze, k.Log, k.Redraw, k.Back, k.Help, k.Quit},
		{k.Yes, k.No, k.Swap, k.Press},
	}
}
