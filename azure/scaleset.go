package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"

	"github.com/scalepilot/scalepilot/engine"
)

// ScaleSet is one Azure Virtual Machine Scale Set. It is safe for
// concurrent use.
type ScaleSet struct {
	cfg Config
	log *slog.Logger

	vmss      *armcompute.VirtualMachineScaleSetsClient
	skus      *armcompute.ResourceSKUsClient
	metrics   *azquery.MetricsClient
	autoscale *armmonitor.AutoscaleSettingsClient

	mu       sync.Mutex
	sku      string // VM size from the last read of the scale set
	location string
	sizes    sizeCache
}

var (
	_ engine.ScaleSet      = (*ScaleSet)(nil)
	_ engine.MetricsSource = (*ScaleSet)(nil)
)

// Permissions named in hints when Azure answers 403.
const (
	permRead      = "Microsoft.Compute/virtualMachineScaleSets/read"
	permWrite     = "Microsoft.Compute/virtualMachineScaleSets/write"
	permMetrics   = "Microsoft.Insights/metrics/read"
	permAutoscale = "Microsoft.Insights/autoscalesettings/read"
	permSKUs      = "Microsoft.Compute/skus/read"
)

// New builds the Azure clients for cfg. It checks the settings and the
// cloud name but makes no network call: the first State, Metrics or
// SetCapacity does, and reports credential problems then. ctx is accepted
// for symmetry with the other constructors and is not kept.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*ScaleSet, error) {
	_ = ctx
	if err := CheckSettings(cfg); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	cc, err := ParseCloud(cfg.Cloud)
	if err != nil {
		return nil, err
	}
	if cfg.AuthorityHost != "" {
		cc.ActiveDirectoryAuthorityHost = cfg.AuthorityHost
	}

	base := policy.ClientOptions{
		Cloud:     cc,
		Retry:     retryOptions(),
		Transport: cfg.Transport,
		Telemetry: policy.TelemetryOptions{ApplicationID: "scalepilot"},
	}
	if cfg.Retry != nil {
		base.Retry = *cfg.Retry
	}
	cred := cfg.Credential
	if cred == nil {
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: policy.ClientOptions{Cloud: cc, Transport: cfg.Transport},
		})
		if err != nil {
			return nil, fmt.Errorf("set up Azure credentials: %w (sign in with az login, or set "+
				"AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or use a managed identity)", err)
		}
	}
	s := &ScaleSet{cfg: cfg, log: log.With("component", "azure", "scale_set", cfg.VMSSName)}
	if err := s.newClients(cred, base); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *ScaleSet) newClients(cred azcore.TokenCredential, base policy.ClientOptions) error {
	// scalepilot never registers resource providers in the subscription: a
	// missing registration is an error to report, not a side effect.
	armOpts := &arm.ClientOptions{ClientOptions: base, DisableRPRegistration: true}
	var err error
	if s.vmss, err = armcompute.NewVirtualMachineScaleSetsClient(s.cfg.SubscriptionID, cred, armOpts); err != nil {
		return fmt.Errorf("create scale set client: %w", err)
	}
	if s.skus, err = armcompute.NewResourceSKUsClient(s.cfg.SubscriptionID, cred, armOpts); err != nil {
		return fmt.Errorf("create resource SKU client: %w", err)
	}
	if s.autoscale, err = armmonitor.NewAutoscaleSettingsClient(s.cfg.SubscriptionID, cred, armOpts); err != nil {
		return fmt.Errorf("create autoscale settings client: %w", err)
	}
	s.metrics, err = azquery.NewMetricsClient(cred, &azquery.MetricsClientOptions{ClientOptions: base})
	if err != nil {
		return fmt.Errorf("create metrics client: %w", err)
	}
	return nil
}

// retryOptions is azcore's retry policy as scalepilot wants it: a few quick
// tries for 408, 429 and 5xx when Azure asks for a short wait, and no wait
// at all in the HTTP layer when Azure asks for a long one (Retry-After above
// MaxRetryDelay): the error goes back to the engine, which records it and
// tries again at a later decision instead of blocking one for minutes.
// Retrying the PATCH is safe: it sets an absolute capacity.
func retryOptions() policy.RetryOptions {
	return policy.RetryOptions{
		MaxRetries:    3,
		TryTimeout:    45 * time.Second,
		RetryDelay:    2 * time.Second,
		MaxRetryDelay: 20 * time.Second,
		StatusCodes: []int{
			http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		},
	}
}

// Name is the scale set's name.
func (s *ScaleSet) Name() string { return s.cfg.VMSSName }

// ResourceID is the scale set's Azure resource ID.
func (s *ScaleSet) ResourceID() string { return s.cfg.resourceID() }

// State reads the scale set: size, capacity, provisioning state and
// location. A set whose provisioning state is not final (Updating,
// Creating, ...) is Updating: a change is still being carried out. A scale
// set that does not exist wraps engine.ErrNotFound.
func (s *ScaleSet) State(ctx context.Context) (engine.ScaleSetState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	resp, err := s.vmss.Get(ctx, s.cfg.ResourceGroup, s.cfg.VMSSName, nil)
	if err != nil {
		return engine.ScaleSetState{Name: s.cfg.VMSSName},
			s.classify(what{op: "read", perm: permRead}, err)
	}
	st := stateOf(s.cfg.VMSSName, resp.VirtualMachineScaleSet)
	if st.SKU != "" {
		s.mu.Lock()
		s.sku, s.location = st.SKU, st.Location
		s.mu.Unlock()
	}
	return st, nil
}

func stateOf(name string, v armcompute.VirtualMachineScaleSet) engine.ScaleSetState {
	st := engine.ScaleSetState{
		Name:     name,
		ID:       str(v.ID),
		Location: str(v.Location),
	}
	if v.SKU != nil {
		st.SKU = str(v.SKU.Name)
		if v.SKU.Capacity != nil {
			st.Capacity = int(*v.SKU.Capacity)
		}
	}
	if v.Properties != nil {
		st.ProvisioningState = str(v.Properties.ProvisioningState)
	}
	st.Updating = inProgress(st.ProvisioningState)
	return st
}

// inProgress reports whether a provisioning state is not final.
func inProgress(ps string) bool {
	switch strings.ToLower(ps) {
	case "", "succeeded", "failed", "canceled", "cancelled":
		return false
	}
	return true
}

// SetCapacity changes the scale set's capacity: a PATCH of sku.capacity
// alone, then polling until Azure says the change is done, failed, or
// Config.ApplyTimeout passes (the error then wraps ErrStillRunning).
//
// Outcomes: nil when the change is complete; *engine.RetryLaterError when
// Azure refuses it for now (409 another operation in progress, throttling
// with a long Retry-After); engine.ErrNotFound wrapped when the scale set
// is gone; a plain error for 403, quota and SKU errors and for an operation
// that Azure accepted and then failed; an error wrapping ErrOutcomeUnknown
// when polling an accepted change failed.
func (s *ScaleSet) SetCapacity(ctx context.Context, capacity int) error {
	if capacity < 0 {
		return fmt.Errorf("change capacity of scale set %s: capacity %d is negative", s.cfg.VMSSName, capacity)
	}
	w := what{op: fmt.Sprintf("change capacity to %d of", capacity), write: true, perm: permWrite}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ApplyTimeout)
	defer cancel()

	start := time.Now()
	patch := armcompute.VirtualMachineScaleSetUpdate{
		SKU: &armcompute.SKU{Capacity: to.Ptr(int64(capacity))},
	}
	poller, err := s.vmss.BeginUpdate(ctx, s.cfg.ResourceGroup, s.cfg.VMSSName, patch, nil)
	if err != nil {
		return s.classify(w, err)
	}
	s.log.Info("capacity change accepted", "capacity", capacity)
	_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: s.cfg.PollFrequency})
	switch {
	case err == nil:
		s.log.Info("capacity change done", "capacity", capacity, "duration_ms", time.Since(start).Milliseconds())
		return nil
	case poller.Done() && ctx.Err() == nil && !failedOperation(err):
		// Azure said Succeeded; only the SDK's final read of the scale set
		// failed (network, or a body it cannot decode). The change is made:
		// counting it as failed would make the engine try it again.
		s.log.Warn("capacity change done; reading the scale set afterwards failed",
			"capacity", capacity, "err", err)
		return nil
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return fmt.Errorf("%s scale set %s: %w after %s: Azure goes on with it; "+
			"the next reads show it as updating", w.op, s.cfg.VMSSName, ErrStillRunning, s.cfg.ApplyTimeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s scale set %s: stopped waiting: %w", w.op, s.cfg.VMSSName, err)
	}
	return s.classifyOperation(w, poller.Done(), err)
}

// failedOperation reports whether the error of a finished poller is
// Azure's report that the operation failed, rather than a failure of the
// final read that follows success. A failed operation arrives as an error
// built from a 2xx status answer ({"status": "Failed", "error": ...}).
func failedOperation(err error) bool {
	ae := asAPIError(err)
	return ae != nil && ae.Status >= 200 && ae.Status < 300
}

// str dereferences an optional string from the SDK.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
