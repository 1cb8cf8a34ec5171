package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Pacer says when the next decision is due. Wait returns when it is, or
// io.EOF when a finite run (a trace) has ended.
type Pacer interface {
	Wait(ctx context.Context) error
	// Next is the engine time of the next decision, for "next check in".
	Next() time.Time
}

// Options wires an Engine. ScaleSet, Metrics and Clock are required.
type Options struct {
	ScaleSetName string
	VMSize       string
	Mode         Mode
	Policy       Policy
	Models       ModelChoice

	Clock    Clock         // engine time
	Wall     Clock         // wall-clock time for approval expiry; time.Now when nil
	ScaleSet ScaleSet      //
	Metrics  MetricsSource //
	Advisor  Advisor       // nil: the rule advisor answers alone
	Journal  Journal       // nil: records are not kept
	State    StateStore    // nil: cooldowns do not survive a restart
	Observer Observer      // nil: nobody watches
	Logger   *slog.Logger  // nil: discard

	// ReadOnly makes the actuator refuse every change whatever the mode
	// (headless --dry-run).
	ReadOnly bool
	// SyncApply carries out an action inside the decision instead of in the
	// background (simulator and tests: deterministic).
	SyncApply bool
	// ApprovalTTL is how long an approval card waits (wall-clock); 5m when 0.
	ApprovalTTL time.Duration
	// MaxDecisions stops Run after that many decisions; 0 means no limit.
	MaxDecisions int
	// AdviceTimeout bounds one call to the advisor; 0 means no extra bound.
	AdviceTimeout time.Duration
}

// ErrUnknownID is returned by Approve and Reject for an id that is not pending.
var ErrUnknownID = errors.New("no pending action with that id")
