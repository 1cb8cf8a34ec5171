package llm

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		content   string
		n         int
		conf      float64
		reasoning string
		notes     []string
	}{
		{"plain", `{"recommended_instances": 5, "confidence": 0.8, "reasoning": "CPU high"}`,
			5, 0.8, "CPU high", nil},
		{"recorded tiny answer", "{\"recommended_instances\" : 2,\"confidence\" : 2.12 ,\"reasoning\" :\"kN\" } ",
			2, 0.0212, "kN", []string{"confidence 2.12 read as 0.0212"}},
		{"code fence", "```json\n{\"recommended_instances\": 3, \"confidence\": 0.9, \"reasoning\": \"ok\"}\n```",
			3, 0.9, "ok", nil},
		{"text around", "Sure! Here is my answer: {\"recommended_instances\": 4, \"confidence\": 1, " +
			"\"reasoning\": \"a {brace} and \\\"quote\\\" inside\"} Hope this helps {not json}",
			4, 1, `a {brace} and "quote" inside`, nil},
		{"earlier braces that are not JSON", "Plan {step 1}: {\"recommended_instances\": 6, " +
			"\"confidence\": 0.5, \"reasoning\": \"r\"}", 6, 0.5, "r", nil},
		{"numbers as strings", `{"recommended_instances": " 7 ", "confidence": "0.75", "reasoning": "s"}`,
			7, 0.75, "s", nil},
		{"whole float count", `{"recommended_instances": 7.0, "confidence": 0, "reasoning": "s"}`,
			7, 0, "s", nil},
		{"percentage", `{"recommended_instances": 2, "confidence": 85, "reasoning": "x"}`,
			2, 0.85, "x", []string{"confidence 85 read as 0.85"}},
		{"percentage string", `{"recommended_instances": 2, "confidence": "90%", "reasoning": "x"}`,
			2, 0.9, "x", []string{"confidence 90% read as 0.9"}},
		{"exactly 100", `{"recommended_instances": 0, "confidence": 100, "reasoning": "x"}`,
			0, 1, "x", []string{"confidence 100 read as 1"}},
		{"inline thinking", "<think>maybe {\"recommended_instances\": 99}</think>\n" +
			`{"recommended_instances": 3, "confidence": 0.6, "reasoning": "after thinking"}`,
			3, 0.6, "after thinking", nil},
		{"unclosed brace before the object", "Answer {see below\n" +
			`{"recommended_instances": 2, "confidence": 0.5, "reasoning": "r"}`, 2, 0.5, "r", nil},
		{"lone closing think tag", "so 99 then</think>" +
			`{"recommended_instances": 3, "confidence": 0.6, "reasoning": "r"}`, 3, 0.6, "r", nil},
		{"control characters removed", `{"recommended_instances": 3, "confidence": 0.6, ` +
			`"reasoning": "red\u001b[31m text\u0007"}`, 3, 0.6, "red [31m text", nil},
		{"extra fields ignored", `{"recommended_instances": 3, "confidence": 0.6, "reasoning": "r", "x": [1]}`,
			3, 0.6, "r", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.content, "stop")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if a.Recommended != tc.n || a.Confidence != tc.conf || a.Reasoning != tc.reasoning ||
				!slices.Equal(a.Notes, tc.notes) {
				t.Errorf("Parse = %+v, want %d %v %q %q", a, tc.n, tc.conf, tc.reasoning, tc.notes)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const ok = `"confidence": 0.5, "reasoning": "r"`
	for _, tc := range []struct{ name, content, done, want string }{
		{"truncated", `{"recommended_instances": 3, "confi`, "length", "done_reason length"},
		{"cut without done reason", `{"recommended_instances": 3, "confi`, "stop", "not closed"},
		{"empty", "  \n", "stop", "empty answer"},
		{"only thinking", "<think>I need more time", "stop", "empty answer"},
		{"free text", "I would add two instances.", "stop", "no JSON object"},
		{"not JSON", "{recommended_instances: 3}", "stop", "no valid JSON object"},
		{"missing fields", `{"recommended_instances": 3}`, "stop", "missing confidence, reasoning"},
		{"all missing", `{}`, "stop", "missing recommended_instances, confidence, reasoning"},
		{"fraction", `{"recommended_instances": 3.5, ` + ok + `}`, "stop", "3.5 is not a whole number"},
		{"negative", `{"recommended_instances": -2, ` + ok + `}`, "stop", "-2 is negative"},
		{"huge", `{"recommended_instances": 1e12, ` + ok + `}`, "stop", "above 1000"},
		{"word", `{"recommended_instances": "five", ` + ok + `}`, "stop", `"five" is not a number`},
		{"bool count", `{"recommended_instances": true, ` + ok + `}`, "stop", "a boolean, not a number"},
		{"null count", `{"recommended_instances": null, ` + ok + `}`, "stop", "null, not a number"},
		{"count percent", `{"recommended_instances": "50%", ` + ok + `}`, "stop", "percentage, not a count"},
		{"confidence above 100", `{"recommended_instances": 3, "confidence": 140, "reasoning": "r"}`,
			"stop", "confidence 140 is above 100"},
		{"negative confidence", `{"recommended_instances": 3, "confidence": -0.1, "reasoning": "r"}`,
			"stop", "confidence -0.1 is negative"},
		{"NaN string", `{"recommended_instances": 3, "confidence": "NaN", "reasoning": "r"}`,
			"stop", `confidence "NaN" is not a number`},
		{"reasoning object", `{"recommended_instances": 3, "confidence": 0.5, "reasoning": {"a": 1}}`,
			"stop", "reasoning is an object, not a string"},
		{"two problems", `{"recommended_instances": -1, "confidence": 300}`, "stop",
			"missing reasoning; recommended_instances -1 is negative; confidence 300 is above 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.content, tc.done)
			if err == nil {
				t.Fatalf("Parse accepted %q as %+v", tc.content, a)
			}
			if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want ErrBadAnswer mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseCutsLongReasoning(t *testing.T) {
	long := strings.Repeat("é", maxReasoning+10)
	a, err := Parse(`{"recommended_instances": 1, "confidence": 0.5, "reasoning": "`+long+`"}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(a.Reasoning); n != maxReasoning+1 || len(a.Notes) != 1 {
		t.Errorf("reasoning has %d runes, notes %q", n, a.Notes)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts is
// within the documented ranges. The corpus in testdata/fuzz/FuzzParse keeps
// the shapes real models produce.
func FuzzParse(f *testing.F) {
	f.Add(`{"recommended_instances": 5, "confidence": 0.8, "reasoning": "x"}`, "stop")
	f.Add("```json\n{\"recommended_instances\": \"3\", \"confidence\": \"85%\", \"reasoning\": \"\"}\n```", "")
	f.Add(`<think>{"a":</think>{"recommended_instances":2,"confidence":2.12,"reasoning":"kN"}`, "stop")
	f.Add(`{"recommended_instances": 3, "confi`, "length")
	f.Fuzz(func(t *testing.T, content, done string) {
		a, err := Parse(content, done)
		if err != nil {
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("error %v does not wrap ErrBadAnswer", err)
			}
			return
		}
		if done == "length" {
			t.Fatal("accepted a truncated answer")
		}
		if a.Recommended < 0 || a.Recommended > MaxInstances {
			t.Fatalf("recommended %d out of range", a.Recommended)
		}
		if !(a.Confidence >= 0 && a.Confidence <= 1) {
			t.Fatalf("confidence %v out of range", a.Confidence)
		}
		if !utf8.ValidString(a.Reasoning) {
			t.Fatalf("reasoning is not valid UTF-8: %q", a.Reasoning)
		}
		for _, r := range a.Reasoning {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				t.Fatalf("reasoning keeps control character %U", r)
			}
		}
		b, err := Parse(content, done)
		if err != nil || b.Recommended != a.Recommended || b.Confidence != a.Confidence {
			t.Fatalf("Parse is not deterministic: %+v then %+v, %v", a, b, err)
		}
	})
}

func TestParseBoundsItsWork(t *testing.T) {
	if _, err := Parse(strings.Repeat(" ", maxAnswerBytes+1), "stop"); err == nil ||
		!strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized answer: err = %v", err)
	}
	// Many unbalanced braces: rejected after a bounded search.
	if _, err := Parse(strings.Repeat("{x", 100000), "stop"); !errors.Is(err, ErrBadAnswer) {
		t.Errorf("brace flood: err = %v", err)
	}
}
