package sim

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// Pacer returns an engine.Pacer that replays s at speed trace steps per
// second of wall time (0: as fast as possible). The first Wait returns at
// once for a decision at the first step after the warm-up; each later Wait
// sleeps 1/speed seconds, then advances the simulation one step. Wait
// returns io.EOF when the trace has ended.
func Pacer(s *Sim, speed float64) engine.Pacer {
	p := &pacer{s: s}
	if speed > 0 {
		p.delay = time.Duration(float64(time.Second) / speed)
	}
	return p
}

type pacer struct {
	s       *Sim
	delay   time.Duration
	mu      sync.Mutex
	started bool
}

// Wait returns when the next decision is due (see Pacer).
func (p *pacer) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	first := !p.started
	p.started = true
	p.mu.Unlock()
	if first {
		if p.s.Ended() {
			return io.EOF
		}
		return nil
	}
	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	if !p.s.Advance() {
		return io.EOF
	}
	return nil
}

// Next returns the trace time of the next decision.
func (p *pacer) Next() time.Time {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	now := p.s.Now()
	if !started || p.s.Ended() {
		return now
	}
	return now.Add(p.s.Step())
}
