package llm

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

func TestListModelsMarksRecommendedAndMissing(t *testing.T) {
	tags := sample(t, "tags.body")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/tags" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(tags)
	}))
	defer srv.Close()

	choice := engine.ModelChoice{Primary: "tiny", Fallback: "phi3:mini"}
	models, err := ListModels(t.Context(), srv.URL, nil, choice)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2+len(Recommended()) {
		t.Fatalf("%d models: %+v", len(models), models)
	}
	tiny := models[0]
	if tiny.Name != "tiny:latest" || !tiny.Present || tiny.Size != 267479 || tiny.ParameterSize != "128K" ||
		tiny.Quantization != "F16" || tiny.Recommended || tiny.ModifiedAt.IsZero() {
		t.Errorf("tiny = %+v", tiny)
	}
	if m := models[1]; m.Name != "phi3:mini" || m.Present || m.Recommended {
		t.Errorf("missing fallback = %+v", m)
	}
	if m := models[2]; m.Name != "llama3:8b" || m.Present || !m.Recommended {
		t.Errorf("first missing recommended = %+v", m)
	}

	var b strings.Builder
	now := tiny.ModifiedAt.Add(3 * 24 * time.Hour)
	if err := printModels(&b, models, choice, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"NAME", "tiny:latest", "267.5 KB", "128K", "F16", "3 days ago", "primary",
		"phi3:mini", "fallback, missing",
		"llama3:8b", "recommended, missing",
		"primary model tiny: present",
		"fallback model phi3:mini: missing; run `ollama pull phi3:mini`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("trailing spaces in %q", l)
		}
	}
	if len(lines) != 1+len(models)+2 {
		t.Errorf("%d lines, want header, %d models and 2 status lines:\n%s", len(lines), len(models), out)
	}
}

func TestListModelsUnreachable(t *testing.T) {
	_, err := ListModels(t.Context(), refusedURL(t), nil, engine.ModelChoice{})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "ollama serve") {
		t.Errorf("err = %v, want ErrUnreachable with what to do", err)
	}
}

func TestHumanSizeAndAge(t *testing.T) {
	for in, want := range map[int64]string{999: "999 B", 267479: "267.5 KB", 4661224676: "4.7 GB"} {
		if got := humanSize(in); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", in, got, want)
		}
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		30 * time.Second: "just now", time.Minute: "1 minute ago", 5 * time.Hour: "5 hours ago",
		3 * 24 * time.Hour: "3 days ago", 200 * 24 * time.Hour: "6 months ago",
	} {
		if got := age(now, now.Add(-d)); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}
