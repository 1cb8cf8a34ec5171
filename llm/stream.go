package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"
)

// chatResult is what one streamed chat call produced.
type chatResult struct {
	content    string
	thinking   string
	doneReason string
	done       bool
	chunks     int
}

// errSilent cancels a call whose stream went quiet for FirstTokenTimeout.
var errSilent = errors.New("stream silent")

// errIncomplete is a stream that ended without its final chunk.
var errIncomplete = errors.New("stream ended before the final chunk (connection cut?)")

// silenceError says how long the stream was quiet and at which point.
type silenceError struct {
	after      time.Duration
	firstToken bool
}

func (e *silenceError) Error() string {
	if e.firstToken {
		return fmt.Sprintf("no first token within %s (a model still loading or an overloaded "+
			"server; raise the first-token timeout or use a smaller model)", e.after)
	}
	return fmt.Sprintf("stream stalled: nothing for %s", e.after)
}

func (e *silenceError) Unwrap() error { return errSilent }

// chat makes one streamed /api/chat call and forwards its text to onToken.
func (a *Advisor) chat(ctx context.Context, model string, msgs []api.Message,
	onToken func(model, text string)) (chatResult, error) {
	opts := a.cfg.optionsFor(model)
	stream := true
	req := &api.ChatRequest{
		Model: model, Messages: msgs, Stream: &stream, Format: answerSchema,
		Options: opts.apiOptions(),
	}
	if opts.KeepAlive != 0 {
		req.KeepAlive = &api.Duration{Duration: opts.KeepAlive}
	}
	if onToken == nil {
		onToken = func(string, string) {}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var res chatResult
	quiet := a.cfg.FirstTokenTimeout
	// The callback runs on this goroutine; the timer only reads res.chunks
	// through the error it builds after Chat returns.
	watchdog := time.AfterFunc(quiet, func() { cancel(errSilent) })
	defer watchdog.Stop()

	var content, thinking strings.Builder
	inThinking := false
	err := a.client.Chat(ctx, req, func(r api.ChatResponse) error {
		watchdog.Reset(quiet)
		res.chunks++
		if t := r.Message.Thinking; t != "" {
			if !inThinking {
				onToken(model, ThinkStart)
				inThinking = true
			}
			thinking.WriteString(t)
			onToken(model, t)
		}
		if c := r.Message.Content; c != "" {
			if inThinking {
				onToken(model, ThinkEnd)
				inThinking = false
			}
			content.WriteString(c)
			onToken(model, c)
		}
		if r.Done {
			res.done, res.doneReason = true, r.DoneReason
		}
		return nil
	})
	if inThinking {
		onToken(model, ThinkEnd)
	}
	res.content, res.thinking = content.String(), thinking.String()
	if errors.Is(context.Cause(ctx), errSilent) {
		return res, &silenceError{after: quiet, firstToken: res.chunks == 0}
	}
	if err != nil {
		return res, err
	}
	if !res.done {
		return res, errIncomplete
	}
	return res, nil
}

type errKind int

const (
	kindNone        errKind = iota
	kindNext                // give up on this model, ask the next
	kindRetry               // try this model again after a backoff
	kindUnreachable         // the server cannot be dialled: stop
	kindStop                // the caller's context ended or the time is up: stop
)

// classify decides what a call's error means for the next step.
func classify(ctx context.Context, err error) errKind {
	var se api.StatusError
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case err == nil:
		return kindNone
	case ctx.Err() != nil:
		return kindStop
	case errors.Is(err, ErrBadAnswer), errors.Is(err, errSilent):
		// a rejected answer is the model's, and a silent model would only
		// make the fallback wait longer: neither is retried
		return kindNext
	case errors.As(err, &se):
		if se.StatusCode == http.StatusTooManyRequests || se.StatusCode >= 500 {
			return kindRetry
		}
		return kindNext // 4xx: model not found, bad request; retrying cannot help
	case errors.As(err, new(api.AuthorizationError)):
		return kindNext
	case errors.As(err, &op) && op.Op == "dial", errors.As(err, &dns),
		errors.Is(err, syscall.ECONNREFUSED):
		return kindUnreachable
	case errors.Is(err, errIncomplete), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF):
		return kindRetry
	}
	// Other network errors, and an error line inside a 200 stream
	// ({"error": "..."}: the server failed part-way, like a 5xx).
	return kindRetry
}

// describeError is the text recorded on an attempt: what went wrong and,
// where there is one, what to do.
func describeError(ctx context.Context, model string, err error) string {
	var se api.StatusError
	switch {
	case ctx.Err() != nil && !errors.Is(err, ErrBadAnswer):
		return fmt.Sprintf("%v (%v)", context.Cause(ctx), err)
	case errors.As(err, &se):
		msg := se.ErrorMessage
		if msg == "" {
			msg = http.StatusText(se.StatusCode)
		}
		text := fmt.Sprintf("HTTP %d: %s", se.StatusCode, strings.TrimSpace(msg))
		switch {
		case se.StatusCode == http.StatusNotFound && strings.Contains(msg, "not found") &&
			strings.Contains(msg, "model"):
			text += fmt.Sprintf("; run `ollama pull %s`", model)
		case se.StatusCode == http.StatusNotFound:
			text += "; is the URL an Ollama server's base address?"
		}
		return text
	}
	return err.Error()
}
