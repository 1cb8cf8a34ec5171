package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadAnswer is wrapped by every rejection of a model's answer. A rejected
// answer is not retried on the same model: the fallback model is asked.
var ErrBadAnswer = errors.New("answer rejected")

// MaxInstances is the largest recommendation Parse accepts. Azure allows at
// most 1,000 instances in a scale set; anything above is not a capacity.
const MaxInstances = 1000

// maxReasoning is how many runes of reasoning are kept.
const maxReasoning = 1000

// Bounds on the work Parse does for one answer: an answer is a few hundred
// bytes; a model that rambles on is rejected, not searched at length.
const (
	maxAnswerBytes = 256 << 10
	maxCandidates  = 64
)

// Answer is a model's answer, parsed and checked.
type Answer struct {
	Recommended int
	Confidence  float64 // 0 to 1
	Reasoning   string
	Notes       []string // how the answer was read, when not literally
}

// Parse reads a model's answer: the content of its message (thinking
// already separated or inline in <think> tags) and the stream's
// done_reason. It takes the first balanced JSON object in the text, accepts
// numbers written as strings and a confidence written as a percentage, and
// rejects anything else with a reason. It never evaluates the text.
func Parse(content, doneReason string) (Answer, error) {
	if doneReason == "length" {
		return Answer{}, reject("answer cut off at the num_predict limit (done_reason length); " +
			"raise num_predict for this model")
	}
	if len(content) > maxAnswerBytes {
		return Answer{}, reject(fmt.Sprintf("answer is %d bytes, more than the %d an answer can be",
			len(content), maxAnswerBytes))
	}
	text := stripThinking(content)
	if strings.TrimSpace(text) == "" {
		return Answer{}, reject("empty answer")
	}
	obj, err := firstObject(text)
	if err != nil {
		return Answer{}, err
	}

	var a Answer
	var missing, problems []string
	field := func(key string, read func(json.RawMessage) error) {
		raw, ok := obj[key]
		if !ok {
			missing = append(missing, key)
			return
		}
		if err := read(raw); err != nil {
			problems = append(problems, err.Error())
		}
	}
	field("recommended_instances", func(raw json.RawMessage) error {
		n, err := readCount(raw)
		a.Recommended = n
		return err
	})
	field("confidence", func(raw json.RawMessage) error {
		c, note, err := readConfidence(raw)
		a.Confidence = c
		if note != "" {
			a.Notes = append(a.Notes, note)
		}
		return err
	})
	field("reasoning", func(raw json.RawMessage) error {
		r, note, err := readReasoning(raw)
		a.Reasoning = r
		if note != "" {
			a.Notes = append(a.Notes, note)
		}
		return err
	})
	if len(missing) > 0 {
		problems = append([]string{"missing " + strings.Join(missing, ", ")}, problems...)
	}
	if len(problems) > 0 {
		return Answer{}, reject(strings.Join(problems, "; "))
	}
	return a, nil
}

func reject(reason string) error { return fmt.Errorf("%w: %s", ErrBadAnswer, reason) }

// stripThinking removes <think>…</think> blocks. Text after an unclosed
// <think> is thinking; text before a lone </think> is too (some chat
// templates open the block in the prompt).
func stripThinking(s string) string {
	const open, closing = "<think>", "</think>"
	if i := strings.Index(s, closing); i >= 0 && !strings.Contains(s[:i], open) {
		s = s[i+len(closing):]
	}
	for {
		i := strings.Index(s, open)
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], closing)
		if j < 0 {
			return s[:i]
		}
		s = s[:i] + s[i+j+len(closing):]
	}
}

// firstObject returns the first balanced {…} in text that decodes as a JSON
// object. Braces inside JSON strings do not count.
func firstObject(text string) (map[string]json.RawMessage, error) {
	sawOpen, sawBalanced := false, false
	for n, start := 0, strings.IndexByte(text, '{'); start >= 0 && n < maxCandidates; n++ {
		sawOpen = true
		if end := balancedEnd(text[start:]); end >= 0 {
			sawBalanced = true
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(text[start:start+end]), &obj); err == nil {
				return obj, nil
			}
		}
		next := strings.IndexByte(text[start+1:], '{')
		if next < 0 {
			break
		}
		start += 1 + next
	}
	switch {
	case !sawOpen:
		return nil, reject("no JSON object in the answer")
	case !sawBalanced:
		return nil, reject("JSON object not closed (answer cut off?)")
	}
	return nil, reject("no valid JSON object in the answer")
}

// balancedEnd returns the length of the balanced object that s starts
// with, or -1 when it does not close.
func balancedEnd(s string) int {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// readNumber reads a JSON number, or a string holding one (optionally with a
// trailing %). It reports whether a % sign was present.
func readNumber(key string, raw json.RawMessage) (v float64, percent bool, err error) {
	raw = bytes.TrimSpace(raw)
	s := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, fmt.Errorf("%s is not a number", key)
		}
		s = strings.TrimSpace(s)
		if t, ok := strings.CutSuffix(s, "%"); ok {
			s, percent = strings.TrimSpace(t), true
		}
	} else if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false, fmt.Errorf("%s is %s, not a number", key, describe(raw))
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%s %s is not a number", key, quote(s))
	}
	return v, percent, nil
}

func readCount(raw json.RawMessage) (int, error) {
	const key = "recommended_instances"
	v, percent, err := readNumber(key, raw)
	switch {
	case err != nil:
		return 0, err
	case percent:
		return 0, fmt.Errorf("%s is a percentage, not a count", key)
	case v != math.Trunc(v):
		return 0, fmt.Errorf("%s %s is not a whole number", key, strconv.FormatFloat(v, 'g', -1, 64))
	case v < 0:
		return 0, fmt.Errorf("%s %s is negative", key, strconv.FormatFloat(v, 'g', -1, 64))
	case v > MaxInstances:
		return 0, fmt.Errorf("%s %s is above %d, the most a scale set can hold",
			key, strconv.FormatFloat(v, 'g', -1, 64), MaxInstances)
	}
	return int(v), nil
}

func readConfidence(raw json.RawMessage) (float64, string, error) {
	const key = "confidence"
	v, percent, err := readNumber(key, raw)
	if err != nil {
		return 0, "", err
	}
	shown := strconv.FormatFloat(v, 'g', -1, 64)
	switch {
	case v < 0:
		return 0, "", fmt.Errorf("%s %s is negative", key, shown)
	case v > 100:
		return 0, "", fmt.Errorf("%s %s is above 100", key, shown)
	case percent || v > 1:
		c := math.Round(v*1e4) / 1e6 // v/100 without float noise (85 -> 0.85, not 0.8500000001)
		sign := ""
		if percent {
			sign = "%"
		}
		return c, fmt.Sprintf("confidence %s%s read as %s", shown, sign,
			strconv.FormatFloat(c, 'g', 4, 64)), nil
	}
	return v, "", nil
}

func readReasoning(raw json.RawMessage) (string, string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "", fmt.Errorf("reasoning is %s, not a string", describe(raw))
	}
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			return ' ' // keep escape sequences out of terminals and logs
		}
		return r
	}, s))
	if n := utf8.RuneCountInString(s); n > maxReasoning {
		s = string([]rune(s)[:maxReasoning]) + "…"
		return s, fmt.Sprintf("reasoning cut from %d to %d characters", n, maxReasoning), nil
	}
	return s, "", nil
}

func describe(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// quote shows a model-written value in an error, shortened.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
