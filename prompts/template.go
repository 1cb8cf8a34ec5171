// Package prompts holds the advisor's prompt templates: the embedded
// defaults, the variables a template can use (Vars) and their checking.
package prompts

import (
	_ "embed"
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

//go:embed system.tmpl
var defaultSystem string

//go:embed user.tmpl
var defaultUser string

// DefaultSystemText returns the embedded default system prompt template.
func DefaultSystemText() string { return defaultSystem }

// DefaultUserText returns the embedded default user prompt template.
func DefaultUserText() string { return defaultUser }

// DefaultSystem returns the parsed default system prompt.
func DefaultSystem() *Template { return mustParse("system", defaultSystem) }

// DefaultUser returns the parsed default user prompt.
func DefaultUser() *Template { return mustParse("user", defaultUser) }

func mustParse(name, text string) *Template {
	t, err := Parse(name, text)
	if err != nil {
		panic("prompts: embedded template " + name + ": " + err.Error())
	}
	return t
}

// Template is a checked prompt template. Build it with Parse.
type Template struct {
	name string
	t    *template.Template
}

// Name returns the name the template was parsed with.
func (t *Template) Name() string { return t.name }

// Render fills the template with v.
func (t *Template) Render(v Vars) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render prompt %s: %w", t.name, err)
	}
	return b.String(), nil
}

// funcs are the functions a template may call.
var funcs = template.FuncMap{
	"num":    Num,
	"signed": Signed,
}

// Parse parses and checks a prompt template. A template that does not parse,
// names a variable or field that Vars lacks, or fails on sample values is an
// error that lists the valid variables.
func Parse(name, text string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("prompt template %s does not parse: %w\n%s", name, err, ValidVariables())
	}
	if err := checkFields(t); err != nil {
		return nil, fmt.Errorf("prompt template %s: %w\n%s", name, err, ValidVariables())
	}
	if err := t.Execute(discard{}, SampleVars()); err != nil {
		return nil, fmt.Errorf("prompt template %s fails on sample values: %w\n%s",
			name, err, ValidVariables())
	}
	return &Template{name: name, t: t}, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// ValidVariables describes what a template can use, for error messages.
func ValidVariables() string {
	var b strings.Builder
	b.WriteString("valid variables:")
	vt := reflect.TypeFor[Vars]()
	for f := range vt.Fields() {
		fmt.Fprintf(&b, " .%s", f.Name)
	}
	b.WriteString("\neach metric (.CPU, .Memory, .NetIn, .NetOut, items of range .Metrics) has:")
	for f := range reflect.TypeFor[Metric]().Fields() {
		fmt.Fprintf(&b, " .%s", f.Name)
	}
	b.WriteString("\nfunctions: num (compact number), signed (number with sign)")
	return b.String()
}

// SampleVars returns a fully populated Vars, used to check templates and
// for examples.
func SampleVars() Vars {
	now := time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC)
	req := engine.AdviceRequest{
		Now: now, ScaleSet: "web-vmss", VMSize: "Standard_D2s_v5",
		State: engine.ScaleSetState{Capacity: 4, Serving: 4},
		Min:   2, Max: 10, TargetCPU: 60, CooldownInLeft: 10 * time.Minute,
		LastAction: &engine.LastAction{At: now.Add(-25 * time.Minute), From: 3, To: 4,
			Outcome: engine.OutcomeApplied},
	}
	req.Metrics = engine.Metrics{End: now, Grain: 5 * time.Minute, Lookback: time.Hour}
	for i, name := range engine.MetricNames {
		s := req.Metrics.Get(name)
		s.Name, s.Unit = name, engine.UnitPercent
		if i >= 2 {
			s.Unit = engine.UnitBytesPerSecond
		}
		for j := range 12 {
			t := now.Add(time.Duration(j-12) * 5 * time.Minute)
			s.Points = append(s.Points, engine.Point{T: t, V: float64(40 + 3*j + i), Valid: j != 5})
		}
	}
	return VarsFrom(req)
}

// checkFields walks the parsed template and reports the first field that
// Vars (or Metric, inside range .Metrics) does not have, including in
// branches that sample values would not reach.
func checkFields(t *template.Template) error {
	root := reflect.TypeFor[Vars]()
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		dot := root
		if tt.Name() != t.Name() {
			dot = nil // a defined template's dot is whatever its caller passes
		}
		c := &checker{tree: tt.Tree, root: dot}
		c.walk(tt.Tree.Root, dot)
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

type checker struct {
	tree *parse.Tree
	root reflect.Type // type of $; nil when unknown
	err  error
}

func (c *checker) walk(n parse.Node, dot reflect.Type) {
	if c.err != nil || n == nil {
		return
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, child := range n.Nodes {
			c.walk(child, dot)
		}
	case *parse.ActionNode:
		c.pipe(n.Pipe, dot)
	case *parse.IfNode:
		c.pipe(n.Pipe, dot)
		c.walk(n.List, dot)
		c.walk(n.ElseList, dot)
	case *parse.WithNode:
		c.walk(n.List, c.pipe(n.Pipe, dot))
		c.walk(n.ElseList, dot)
	case *parse.RangeNode:
		elem := c.pipe(n.Pipe, dot)
		if elem != nil && (elem.Kind() == reflect.Slice || elem.Kind() == reflect.Array) {
			elem = elem.Elem()
		} else {
			elem = nil
		}
		c.walk(n.List, elem)
		c.walk(n.ElseList, dot)
	case *parse.TemplateNode:
		c.pipe(n.Pipe, dot)
	}
}

// pipe checks a pipeline and returns its type when it is a plain field
// chain, nil otherwise.
func (c *checker) pipe(p *parse.PipeNode, dot reflect.Type) reflect.Type {
	if p == nil {
		return nil
	}
	var last reflect.Type
	for _, cmd := range p.Cmds {
		last = nil
		for _, arg := range cmd.Args {
			last = c.arg(arg, dot)
		}
		if len(cmd.Args) != 1 {
			last = nil
		}
	}
	return last
}

func (c *checker) arg(n parse.Node, dot reflect.Type) reflect.Type {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		return c.resolve(n, dot, n.Ident)
	case *parse.VariableNode:
		if n.Ident[0] == "$" {
			return c.resolve(n, c.root, n.Ident[1:])
		}
	case *parse.ChainNode:
		if n.Node.Type() == parse.NodeDot {
			return c.resolve(n, dot, n.Field)
		}
		if p, ok := n.Node.(*parse.PipeNode); ok {
			return c.resolve(n, c.pipe(p, dot), n.Field)
		}
	case *parse.PipeNode:
		return c.pipe(n, dot)
	}
	return nil
}

func (c *checker) resolve(n parse.Node, t reflect.Type, idents []string) reflect.Type {
	for _, id := range idents {
		if t == nil {
			return nil
		}
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := t.FieldByName(id)
		if !ok || !f.IsExported() {
			loc, _ := c.tree.ErrorContext(n)
			c.err = fmt.Errorf("%s: unknown variable .%s (%s has no field %s)",
				loc, strings.Join(idents, "."), t.Name(), id)
			return nil
		}
		t = f.Type
	}
	return t
}
