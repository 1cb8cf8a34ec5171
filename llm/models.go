package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/scalepilot/scalepilot/engine"
)

// ListModels returns the models on the server at rawURL (from /api/tags),
// followed by the recommended and the chosen models it lacks (Present
// false). hc nil uses NewHTTPClient. An unreachable server is an error
// wrapping ErrUnreachable that says what to do.
func ListModels(ctx context.Context, rawURL string, hc *http.Client,
	choice engine.ModelChoice) ([]engine.ModelInfo, error) {
	base, err := url.Parse(rawURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("list ollama models: url %q: want http://HOST:PORT", rawURL)
	}
	if hc == nil {
		hc = NewHTTPClient(DefaultConnectTimeout)
	}
	resp, err := api.NewClient(base, hc).List(ctx)
	if err != nil {
		if classify(ctx, err) == kindUnreachable {
			return nil, fmt.Errorf("list ollama models: %w: %s: %v; %s",
				ErrUnreachable, rawURL, err, unreachableHint)
		}
		return nil, fmt.Errorf("list ollama models at %s: %s", rawURL, describeError(ctx, "", err))
	}
	return mergeModels(resp.Models, choice), nil
}

func mergeModels(present []api.ListModelResponse, choice engine.ModelChoice) []engine.ModelInfo {
	rec := Recommended()
	isRec := func(name string) bool {
		return slices.ContainsFunc(rec, func(r string) bool { return SameModel(r, name) })
	}
	var out []engine.ModelInfo
	for _, m := range present {
		name := m.Name
		if name == "" {
			name = m.Model
		}
		out = append(out, engine.ModelInfo{
			Name: name, Size: m.Size, ParameterSize: m.Details.ParameterSize,
			Quantization: m.Details.QuantizationLevel, ModifiedAt: m.ModifiedAt,
			Recommended: isRec(name), Present: true,
		})
	}
	slices.SortFunc(out, func(a, b engine.ModelInfo) int { return strings.Compare(a.Name, b.Name) })
	have := func(name string) bool {
		return slices.ContainsFunc(out, func(m engine.ModelInfo) bool { return SameModel(m.Name, name) })
	}
	for _, name := range append([]string{choice.Primary, choice.Fallback}, rec...) {
		if name = strings.TrimSpace(name); name != "" && !have(name) {
			out = append(out, engine.ModelInfo{Name: name, Recommended: isRec(name)})
		}
	}
	return out
}

// PrintModels writes the model table for --list-models: name, size,
// parameter size, quantization, age and marks, then a line each for the
// chosen primary and fallback saying whether the server has them.
func PrintModels(w io.Writer, models []engine.ModelInfo, choice engine.ModelChoice) error {
	return printModels(w, models, choice, time.Now())
}

func printModels(w io.Writer, models []engine.ModelInfo, choice engine.ModelChoice, now time.Time) error {
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tPARAMS\tQUANT\tMODIFIED\t")
	for _, m := range models {
		var marks []string
		if SameModel(m.Name, choice.Primary) {
			marks = append(marks, "primary")
		}
		if SameModel(m.Name, choice.Fallback) {
			marks = append(marks, "fallback")
		}
		if m.Recommended {
			marks = append(marks, "recommended")
		}
		if !m.Present {
			marks = append(marks, "missing")
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\n", m.Name, strings.Join(marks, ", "))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, humanSize(m.Size), dash(m.ParameterSize),
			dash(m.Quantization), age(now, m.ModifiedAt), strings.Join(marks, ", "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print models: %w", err)
	}
	var errs []error
	for line := range strings.Lines(table.String()) {
		_, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n")
		errs = append(errs, err)
	}
	for _, c := range []struct{ role, name string }{
		{"primary", choice.Primary}, {"fallback", choice.Fallback},
	} {
		if c.name == "" {
			continue
		}
		i := slices.IndexFunc(models, func(m engine.ModelInfo) bool { return SameModel(m.Name, c.name) })
		line := fmt.Sprintf("%s model %s: present", c.role, c.name)
		if i < 0 || !models[i].Present {
			line = fmt.Sprintf("%s model %s: missing; run `ollama pull %s`", c.role, c.name, c.name)
		}
		_, err := fmt.Fprintln(w, line)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("print models: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanSize(b int64) string {
	const unit = 1000 // as ollama list shows sizes
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	v, suffix := float64(b), []string{"KB", "MB", "GB", "TB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffix[i])
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 60*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return plural(int(d/(30*24*time.Hour)), "month") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
