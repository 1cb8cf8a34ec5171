package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6/fake"

	"github.com/scalepilot/scalepilot/engine"
)

// These tests drive the scale-set client through armcompute's own fake
// server: no HTTP leaves the process.

func testConfig() Config {
	return Config{
		SubscriptionID: "00000000-0000-0000-0000-000000000000",
		ResourceGroup:  "rg1",
		VMSSName:       "web",
		Credential:     &azfake.TokenCredential{},
		PollFrequency:  time.Millisecond,
		ApplyTimeout:   10 * time.Second,
		CallTimeout:    10 * time.Second,
		Retry:          &policy.RetryOptions{MaxRetries: -1},
	}
}

func newFakeScaleSet(t *testing.T, srv *fake.VirtualMachineScaleSetsServer, wrap func(policy.Transporter) policy.Transporter) *ScaleSet {
	t.Helper()
	cfg := testConfig()
	var tr policy.Transporter = uncancelled{fake.NewVirtualMachineScaleSetsServerTransport(srv)}
	if wrap != nil {
		tr = wrap(tr)
	}
	cfg.Transport = tr
	s, err := New(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// uncancelled hands the fake each request without its cancellation. The
// fake answers in a goroutine that, once the request's context is done, may
// send on a channel its caller has already closed and panic the test binary
// (seen under -race when SetCapacity's apply timeout struck mid-poll). The
// fake answers at once, so nothing waits longer; the poller still sees the
// context end between polls.
type uncancelled struct{ policy.Transporter }

func (u uncancelled) Do(req *http.Request) (*http.Response, error) {
	return u.Transporter.Do(req.WithContext(context.WithoutCancel(req.Context())))
}

func vmssBody(capacity int64, state string) armcompute.VirtualMachineScaleSet {
	return armcompute.VirtualMachineScaleSet{
		ID:       to.Ptr("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachineScaleSets/web"),
		Name:     to.Ptr("web"),
		Location: to.Ptr("westeurope"),
		SKU:      &armcompute.SKU{Name: to.Ptr("Standard_D2s_v3"), Tier: to.Ptr("Standard"), Capacity: to.Ptr(capacity)},
		Properties: &armcompute.VirtualMachineScaleSetProperties{
			ProvisioningState: to.Ptr(state),
		},
	}
}

func getServer(body armcompute.VirtualMachineScaleSet) *fake.VirtualMachineScaleSetsServer {
	return &fake.VirtualMachineScaleSetsServer{
		Get: func(_ context.Context, rg, name string, _ *armcompute.VirtualMachineScaleSetsClientGetOptions) (
			resp azfake.Responder[armcompute.VirtualMachineScaleSetsClientGetResponse], errResp azfake.ErrorResponder) {
			resp.SetResponse(http.StatusOK, armcompute.VirtualMachineScaleSetsClientGetResponse{VirtualMachineScaleSet: body}, nil)
			return
		},
	}
}

func TestStateFromFakeGet(t *testing.T) {
	tests := []struct {
		name     string
		state    string
		updating bool
	}{
		{"succeeded", "Succeeded", false},
		{"still updating", "Updating", true},
		{"creating", "Creating", true},
		{"failed is final", "Failed", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeScaleSet(t, getServer(vmssBody(4, tc.state)), nil)
			st, err := s.State(t.Context())
			if err != nil {
				t.Fatalf("State: %v", err)
			}
			want := engine.ScaleSetState{
				Name: "web", ID: s.ResourceID(), Location: "westeurope", SKU: "Standard_D2s_v3",
				Capacity: 4, ProvisioningState: tc.state, Updating: tc.updating,
			}
			if st != want {
				t.Errorf("State = %+v, want %+v", st, want)
			}
		})
	}
}

func TestStateNotFound(t *testing.T) {
	srv := &fake.VirtualMachineScaleSetsServer{
		Get: func(context.Context, string, string, *armcompute.VirtualMachineScaleSetsClientGetOptions) (
			resp azfake.Responder[armcompute.VirtualMachineScaleSetsClientGetResponse], errResp azfake.ErrorResponder) {
			errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		},
	}
	_, err := newFakeScaleSet(t, srv, nil).State(t.Context())
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("State error = %v, want it to wrap engine.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "--vmss-name") {
		t.Errorf("error %q does not say which settings to check", err)
	}
}

// updateServer answers BeginUpdate with the poller set up by setup and
// records the PATCH bodies it was sent.
type updateServer struct {
	mu      sync.Mutex
	patches []armcompute.VirtualMachineScaleSetUpdate
}

func (u *updateServer) server(setup func(*azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], *azfake.ErrorResponder)) *fake.VirtualMachineScaleSetsServer {
	return &fake.VirtualMachineScaleSetsServer{
		BeginUpdate: func(_ context.Context, _, _ string, p armcompute.VirtualMachineScaleSetUpdate, _ *armcompute.VirtualMachineScaleSetsClientBeginUpdateOptions) (
			resp azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], errResp azfake.ErrorResponder) {
			u.mu.Lock()
			u.patches = append(u.patches, p)
			u.mu.Unlock()
			setup(&resp, &errResp)
			return
		},
	}
}

func TestSetCapacityPollsToCompletion(t *testing.T) {
	var u updateServer
	srv := u.server(func(p *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], _ *azfake.ErrorResponder) {
		p.AddNonTerminalResponse(http.StatusOK, nil)
		p.AddNonTerminalResponse(http.StatusOK, nil)
		p.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineScaleSetsClientUpdateResponse{
			VirtualMachineScaleSet: vmssBody(6, "Succeeded")}, nil)
	})
	if err := newFakeScaleSet(t, srv, nil).SetCapacity(t.Context(), 6); err != nil {
		t.Fatalf("SetCapacity: %v", err)
	}
	if len(u.patches) != 1 {
		t.Fatalf("PATCH sent %d times, want 1", len(u.patches))
	}
	want := armcompute.VirtualMachineScaleSetUpdate{SKU: &armcompute.SKU{Capacity: to.Ptr[int64](6)}}
	got := u.patches[0]
	if got.SKU == nil || got.SKU.Capacity == nil || *got.SKU.Capacity != 6 || got.SKU.Name != nil ||
		got.SKU.Tier != nil || got.Properties != nil || got.Identity != nil || got.Plan != nil || got.Tags != nil {
		t.Errorf("PATCH body = %+v, want only sku.capacity like %+v", got, want)
	}
}

// retryAfterTransport adds a Retry-After header to the fake server's error
// answers with the given status: the fake's error responder cannot set
// headers, and real Azure sends one with 429.
type retryAfterTransport struct {
	next   policy.Transporter
	status int
	value  string
}

func (r retryAfterTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.next.Do(req)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == r.status && re.RawResponse != nil {
		re.RawResponse.Header.Set("Retry-After", r.value)
	}
	return resp, err
}

func TestSetCapacityErrorOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], *azfake.ErrorResponder)
		wrap       func(policy.Transporter) policy.Transporter
		retryLater bool
		after      time.Duration
		code       string
		notFound   bool
		says       string
	}{
		{
			name: "409 another operation in progress",
			setup: func(_ *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e *azfake.ErrorResponder) {
				e.SetResponseError(http.StatusConflict, "Conflict")
			},
			retryLater: true, code: "Conflict", says: "another operation",
		},
		{
			name: "429 with a long Retry-After",
			setup: func(_ *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e *azfake.ErrorResponder) {
				e.SetResponseError(http.StatusTooManyRequests, "TooManyRequests")
			},
			wrap: func(tr policy.Transporter) policy.Transporter {
				return retryAfterTransport{next: tr, status: http.StatusTooManyRequests, value: "1200"}
			},
			retryLater: true, after: 20 * time.Minute, code: "TooManyRequests", says: "throttling",
		},
		{
			name: "403 missing write permission",
			setup: func(_ *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e *azfake.ErrorResponder) {
				e.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
			},
			says: permWrite,
		},
		{
			name: "409 SkuNotAvailable is final",
			setup: func(_ *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e *azfake.ErrorResponder) {
				e.SetResponseError(http.StatusConflict, "SkuNotAvailable")
			},
			says: "no capacity",
		},
		{
			name: "409 OperationNotAllowed is final",
			setup: func(_ *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e *azfake.ErrorResponder) {
				e.SetResponseError(http.StatusConflict, "OperationNotAllowed")
			},
			says: "quota",
		},
		{
			name: "404 scale set gone",
			setup: func(_ *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e *azfake.ErrorResponder) {
				e.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			},
			notFound: true,
		},
		{
			name: "operation accepted then failed",
			setup: func(p *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], _ *azfake.ErrorResponder) {
				p.AddNonTerminalResponse(http.StatusOK, nil)
				p.SetTerminalError(http.StatusOK, "AllocationFailed")
			},
			says: "accepted the change and then failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var u updateServer
			err := newFakeScaleSet(t, u.server(tc.setup), tc.wrap).SetCapacity(t.Context(), 5)
			checkOutcome(t, err, tc.retryLater, tc.after, tc.code, tc.notFound, tc.says)
		})
	}
}

// checkOutcome asserts which of the three outcomes err is.
func checkOutcome(t *testing.T, err error, retryLater bool, after time.Duration, code string, notFound bool, says string) {
	t.Helper()
	if err == nil {
		t.Fatal("got nil error")
	}
	var rl *engine.RetryLaterError
	if got := errors.As(err, &rl); got != retryLater {
		t.Fatalf("RetryLaterError = %v, want %v (err: %v)", got, retryLater, err)
	}
	if retryLater {
		if rl.After != after || rl.Code != code {
			t.Errorf("RetryLaterError{After: %s, Code: %q}, want {%s, %q}", rl.After, rl.Code, after, code)
		}
	}
	if got := errors.Is(err, engine.ErrNotFound); got != notFound {
		t.Errorf("wraps ErrNotFound = %v, want %v (err: %v)", got, notFound, err)
	}
	if !strings.Contains(err.Error(), says) {
		t.Errorf("error %q does not contain %q", err, says)
	}
}

func TestSetCapacityTimeoutSaysStillRunning(t *testing.T) {
	var u updateServer
	srv := u.server(func(p *azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], _ *azfake.ErrorResponder) {
		for range 1000 {
			p.AddNonTerminalResponse(http.StatusOK, nil)
		}
		p.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineScaleSetsClientUpdateResponse{}, nil)
	})
	s := newFakeScaleSet(t, srv, nil)
	s.cfg.ApplyTimeout = 20 * time.Millisecond
	s.cfg.PollFrequency = 5 * time.Millisecond
	err := s.SetCapacity(t.Context(), 3)
	if !errors.Is(err, ErrStillRunning) {
		t.Fatalf("SetCapacity error = %v, want ErrStillRunning", err)
	}
	var rl *engine.RetryLaterError
	if errors.As(err, &rl) {
		t.Errorf("a change Azure is still carrying out must not be retried: %v", err)
	}
}

func TestSetCapacityRejectsNegative(t *testing.T) {
	var u updateServer
	s := newFakeScaleSet(t, u.server(nil), nil)
	if err := s.SetCapacity(t.Context(), -1); err == nil {
		t.Fatal("SetCapacity(-1) succeeded")
	}
	if len(u.patches) != 0 {
		t.Errorf("sent %d PATCHes for a negative capacity", len(u.patches))
	}
}
