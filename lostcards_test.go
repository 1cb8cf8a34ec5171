package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/journal"
)

// A card left open by a process that died (no answer, no expiry in the
// journal) is closed as not applied at the next start, once.
func TestCloseLostCards(t *testing.T) {
	dir := t.TempDir()
	jr, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for i, ev := range []engine.Event{
		{Type: engine.TypeApproval, DecisionID: "aaaa", From: 4, To: 6},
		{Type: engine.TypeApproved, DecisionID: "aaaa", From: 4, To: 6},
		{Type: engine.TypeApproval, DecisionID: "bbbb", From: 6, To: 4},
		{Type: engine.TypeApproval, DecisionID: "cccc", From: 6, To: 8},
		{Type: engine.TypeRejected, DecisionID: "cccc", From: 6, To: 8},
	} {
		ev.TS, ev.ScaleSet = t0.Add(time.Duration(i)*time.Minute), "vmss-web"
		if err := jr.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	closeLostCards(ctx, jr, logger)
	closeLostCards(ctx, jr, logger) // a second start adds nothing
	recs, err := jr.Tail(100)
	if err != nil {
		t.Fatal(err)
	}
	var expired []engine.Event
	for _, r := range recs {
		var ev engine.Event
		if json.Unmarshal(r, &ev) == nil && ev.Type == engine.TypeExpired {
			expired = append(expired, ev)
		}
	}
	if len(expired) != 1 {
		t.Fatalf("%d expired records, want 1 (for bbbb): %+v", len(expired), expired)
	}
	e := expired[0]
	if e.DecisionID != "bbbb" || e.From != 6 || e.To != 4 || e.ScaleSet != "vmss-web" ||
		!e.TS.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("expired record %+v", e)
	}
}
