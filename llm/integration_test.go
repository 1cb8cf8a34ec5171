package llm

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// These tests talk to a real Ollama server serving the model "tiny" (see
// shared/tools/ollama-tiny; .ci/run starts it). They skip when it does not
// answer.

const tinyModel = "tiny"

func realServer(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SCALEPILOT_TEST_OLLAMA_URL")
	if url == "" {
		url = "http://127.0.0.1:11501"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/version", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Skipf("no Ollama server at %s (%v): start it with shared/tools/ollama-tiny/setup.sh "+
			"or set SCALEPILOT_TEST_OLLAMA_URL", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Skipf("%s/api/version answered %s; not an Ollama server", url, resp.Status)
	}
	return url
}

// tinyAdvisor builds an Advisor for tiny: a short answer budget keeps each
// call within a few seconds on a shared CPU.
func tinyAdvisor(t *testing.T, url string) (*Advisor, *tokenLog) {
	t.Helper()
	adv, err := New(Config{
		URL:     url,
		Timeout: time.Minute,
		Options: map[string]ModelOptions{tinyModel: {NumPredict: 96, NumCtx: 2048, Seed: ptr(1)}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return adv, &tokenLog{}
}

type tokenLog struct {
	mu     sync.Mutex
	models map[string]int
	text   strings.Builder
}

func (l *tokenLog) add(model, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.models == nil {
		l.models = map[string]int{}
	}
	l.models[model]++
	l.text.WriteString(text)
}

func realRequest(log *tokenLog, primary, fallback string) engine.AdviceRequest {
	req := engine.AdviceRequest{
		Now: time.Now(), ScaleSet: "demo", VMSize: "Standard_D2s_v5",
		State: engine.ScaleSetState{Capacity: 3}, Min: 2, Max: 10, TargetCPU: 60,
		Models:  engine.ModelChoice{Primary: primary, Fallback: fallback},
		OnToken: log.add,
	}
	req.Metrics.Grain, req.Metrics.Lookback = 5*time.Minute, time.Hour
	for i := range 12 {
		req.Metrics.CPU.Points = append(req.Metrics.CPU.Points, engine.Point{
			T: req.Now.Add(time.Duration(i-12) * 5 * time.Minute), V: 70 + float64(i), Valid: true})
	}
	req.Metrics.CPU.Unit = engine.UnitPercent
	return req
}

// checkMechanics checks what tiny's gibberish allows: the stream reached
// OnToken, the attempts are recorded, and the answer was either parsed or
// rejected with a reason.
func checkMechanics(t *testing.T, adv engine.Advice, err error, log *tokenLog, model string) {
	t.Helper()
	if log.models[model] == 0 || log.text.Len() == 0 {
		t.Errorf("no tokens streamed from %s (tokens by model: %v)", model, log.models)
	}
	last := adv.Attempts[len(adv.Attempts)-1]
	if last.Model != model || last.DurationMS <= 0 {
		t.Errorf("last attempt = %+v, want one for %s with a duration", last, model)
	}
	if err != nil {
		if !errors.Is(err, ErrBadAnswer) || last.Error == "" {
			t.Errorf("failed for another reason than the answer: %v (attempts %+v)", err, adv.Attempts)
		}
		t.Logf("tiny's answer rejected, as gibberish may be: %s", last.Error)
		return
	}
	if adv.Model != model || !adv.HasConfidence || adv.Confidence < 0 || adv.Confidence > 1 ||
		adv.Recommended < 0 || last.DoneReason == "" {
		t.Errorf("advice = %+v", adv)
	}
	t.Logf("tiny recommended %d at confidence %.3f (notes %q)", adv.Recommended, adv.Confidence, adv.Notes)
}

func TestRealServerListsTiny(t *testing.T) {
	url := realServer(t)
	models, err := ListModels(t.Context(), url, nil, engine.ModelChoice{Primary: tinyModel,
		Fallback: "mistral:7b"})
	if err != nil {
		t.Fatal(err)
	}
	var tiny, mistral *engine.ModelInfo
	for i, m := range models {
		switch {
		case SameModel(m.Name, tinyModel):
			tiny = &models[i]
		case SameModel(m.Name, "mistral:7b"):
			mistral = &models[i]
		}
	}
	if tiny == nil || !tiny.Present || tiny.Size == 0 {
		t.Errorf("tiny not listed as present: %+v", models)
	}
	if mistral == nil || !mistral.Recommended {
		t.Errorf("mistral:7b not listed as recommended: %+v", mistral)
	} else if mistral.Present {
		t.Log("mistral:7b is installed on this server")
	}
	var b strings.Builder
	if err := PrintModels(&b, models, engine.ModelChoice{Primary: tinyModel}); err != nil ||
		!strings.Contains(b.String(), "primary model tiny: present") {
		t.Errorf("PrintModels: %v\n%s", err, b.String())
	}
}

func TestRealServerStreamsARecommendationFromTiny(t *testing.T) {
	url := realServer(t)
	a, log := tinyAdvisor(t, url)
	adv, err := a.Advise(t.Context(), realRequest(log, tinyModel, ""))
	if len(adv.Attempts) != 1 {
		t.Fatalf("attempts = %+v, err %v; want exactly one", adv.Attempts, err)
	}
	checkMechanics(t, adv, err, log, tinyModel)
}

func TestRealServerFallsBackFromAMissingModel(t *testing.T) {
	url := realServer(t)
	a, log := tinyAdvisor(t, url)
	const missing = "scalepilot-no-such-model:1b"
	adv, err := a.Advise(t.Context(), realRequest(log, missing, tinyModel))
	if len(adv.Attempts) != 2 {
		t.Fatalf("attempts = %+v, err %v; want the missing model once, then tiny", adv.Attempts, err)
	}
	first := adv.Attempts[0]
	if first.Model != missing || !strings.Contains(first.Error, "HTTP 404") ||
		!strings.Contains(first.Error, "ollama pull "+missing) {
		t.Errorf("first attempt = %+v, want a 404 with the pull hint", first)
	}
	if log.models[missing] != 0 {
		t.Errorf("tokens attributed to the missing model: %v", log.models)
	}
	checkMechanics(t, adv, err, log, tinyModel)
}
