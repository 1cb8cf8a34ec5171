package azure

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/scalepilot/scalepilot/engine"
)

// recordedLRO is the Go SDK's own recorded VMSS PATCH with its
// Azure-AsyncOperation polling (testdata/recordings/...-go-2023.json): the
// PATCH answer, the operation status answer, the final GET answer, and the
// path of the operation URL the PATCH answer named.
type recordedLRO struct {
	patch, status, final []byte
	opPath, opQuery      string
	retryAfter           string
}

func loadRecordedLRO(t *testing.T) recordedLRO {
	t.Helper()
	e := recording(t, "recordings/vmss-patch-and-post-lro.azure-sdk-for-go-2023.json")
	if len(e) < 3 || e[0].RequestMethod != "PATCH" || e[1].RequestMethod != "GET" || e[2].RequestMethod != "GET" {
		t.Fatalf("recording does not start with PATCH, GET operation, GET scale set")
	}
	var op, ra string
	if err := json.Unmarshal(e[0].ResponseHeaders["Azure-AsyncOperation"], &op); err != nil {
		t.Fatalf("recorded Azure-AsyncOperation: %v", err)
	}
	_ = json.Unmarshal(e[0].ResponseHeaders["Retry-After"], &ra)
	u, err := url.Parse(op)
	if err != nil {
		t.Fatalf("recorded operation URL: %v", err)
	}
	return recordedLRO{patch: e[0].ResponseBody, status: e[1].ResponseBody, final: e[2].ResponseBody,
		opPath: u.Path, opQuery: u.RawQuery, retryAfter: ra}
}

// answer is one scripted reply to a PATCH: an error body from testdata, or
// (file "") acceptance of the change as a long-running operation.
type answer struct {
	status  int
	file    string
	headers []string
}

// lroServer answers PATCHes from a script (the last answer repeats) and,
// for an accepted change, the operation status from the recording, first
// InProgress, then final (Succeeded unless failure is set).
type lroServer struct {
	*azureServer
	rec     recordedLRO
	final   []byte // when set, the final GET's body instead of the recorded one
	pollErr int    // when set, the status of every poll after the first
	mu      sync.Mutex
	patches int
	polls   int
}

func newLROServer(t *testing.T, answers []answer, failure []byte) *lroServer {
	t.Helper()
	l := &lroServer{rec: loadRecordedLRO(t)}
	inProgress := withField(t, l.rec.status, []string{"status"}, "InProgress")
	l.azureServer = newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case r.Method == http.MethodPatch && r.URL.Path == vmssPath:
			a := answers[min(l.patches, len(answers)-1)]
			l.patches++
			if a.file != "" {
				writeJSON(w, a.status, testdata(t, a.file), a.headers...)
				return
			}
			// The recording's Retry-After: 10 is left out: the poller would
			// honour it and each test would wait ten seconds.
			writeJSON(w, http.StatusOK, l.rec.patch,
				"Azure-AsyncOperation", l.url(l.rec.opPath)+"?"+l.rec.opQuery, "Azure-AsyncNotification", "Enabled")
		case r.Method == http.MethodGet && r.URL.Path == l.rec.opPath:
			l.polls++
			switch {
			case l.polls == 1:
				writeJSON(w, http.StatusOK, inProgress)
			case l.pollErr != 0:
				writeJSON(w, l.pollErr, []byte(`{"error":{"code":"InternalServerError","message":"test"}}`))
			case failure != nil:
				writeJSON(w, http.StatusOK, failure)
			default:
				writeJSON(w, http.StatusOK, l.rec.status)
			}
		case r.Method == http.MethodGet && r.URL.Path == vmssPath:
			if l.final != nil {
				writeJSON(w, http.StatusOK, l.final)
				return
			}
			writeJSON(w, http.StatusOK, l.rec.final)
		default:
			l.unexpected(w, r)
		}
	})
	return l
}

func TestSetCapacityReplaysRecordedOperation(t *testing.T) {
	l := newLROServer(t, []answer{{}}, nil)
	if l.rec.retryAfter != "10" {
		t.Fatalf("recording changed: PATCH Retry-After %q", l.rec.retryAfter)
	}
	s := l.scaleSet(t, nil)
	if err := s.SetCapacity(t.Context(), 3); err != nil {
		t.Fatalf("SetCapacity: %v", err)
	}
	patches := l.callsTo(http.MethodPatch, vmssPath)
	if len(patches) != 1 {
		t.Fatalf("%d PATCHes, want 1", len(patches))
	}
	if got := compact(t, patches[0].Body); got != `{"sku":{"capacity":3}}` {
		t.Errorf("PATCH body %s, want only sku.capacity", got)
	}
	if patches[0].Query.Get("api-version") == "" {
		t.Error("PATCH without api-version")
	}
	if patches[0].Auth != "Bearer test-token" {
		t.Errorf("Authorization %q, want the fake credential's token", patches[0].Auth)
	}
	if n := l.count(http.MethodGet, l.rec.opPath); n != 2 {
		t.Errorf("operation polled %d times, want 2 (InProgress, Succeeded)", n)
	}
	for _, sc := range l.cred.scopeList() {
		if sc != l.srv.URL+"/.default" {
			t.Errorf("token asked for scope %q, want the custom cloud's %q", sc, l.srv.URL+"/.default")
		}
	}
}

// TestSetCapacityDoneWhenOnlyTheFinalReadFails: the operation status says
// Succeeded, then the SDK's own GET of the scale set returns a body it cannot
// decode (here the recorder's \u002B escape, kept raw). The change is made
// and must not be reported as failed, or the engine would make it again.
func TestSetCapacityDoneWhenOnlyTheFinalReadFails(t *testing.T) {
	var rec struct {
		Entries []struct {
			ResponseBody json.RawMessage `json:"ResponseBody"`
		} `json:"Entries"`
	}
	if err := json.Unmarshal(testdata(t, "recordings/vmss-patch-and-post-lro.azure-sdk-for-go-2023.json"), &rec); err != nil {
		t.Fatal(err)
	}
	raw := rec.Entries[2].ResponseBody
	if !strings.Contains(string(raw), `\u002B`) {
		t.Fatalf("the recorded final body no longer has the escape this test relies on")
	}
	l := newLROServer(t, []answer{{}}, nil)
	l.final = raw
	if err := l.scaleSet(t, nil).SetCapacity(t.Context(), 3); err != nil {
		t.Fatalf("SetCapacity: %v, want nil: Azure reported the change as done", err)
	}
	if n := l.count(http.MethodGet, vmssPath); n != 1 {
		t.Errorf("final GET sent %d times, want 1", n)
	}
}

// TestSetCapacityPollingFails: Azure accepted the change, then polling its
// progress fails. The change may still be made: neither applied, nor a
// retry-later, nor "failed" as if Azure had refused it.
func TestSetCapacityPollingFails(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			l := newLROServer(t, []answer{{}}, nil)
			l.pollErr = status
			// No HTTP retries, so that the 500 case does not wait for them.
			s := l.scaleSet(t, func(c *Config) { c.Retry = &policy.RetryOptions{MaxRetries: -1} })
			err := s.SetCapacity(t.Context(), 3)
			if !errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("SetCapacity error %v, want ErrOutcomeUnknown", err)
			}
			var rl *engine.RetryLaterError
			if errors.As(err, &rl) || errors.Is(err, engine.ErrNotFound) {
				t.Errorf("a change Azure accepted is neither retried nor a missing scale set: %v", err)
			}
			if strings.Contains(err.Error(), "failed it") {
				t.Errorf("error %q says Azure failed the change; it only failed to report", err)
			}
		})
	}
}

func TestSetCapacityOutcomesWithRealBodies(t *testing.T) {
	const (
		conflict   = "errors/409-Conflict.concurrent-request.onefuzz-2124.body.json"
		notAllowed = "errors/409-OperationNotAllowed.vmss-marked-for-deletion.onefuzz-511.body.json"
		skuNA      = "errors/409-SkuNotAvailable.vmss-create.terraform-azurerm-28549.body.json"
		denied     = "errors/403-AuthorizationFailed.vmss-write.aad-pod-identity-788.body.json"
		denied2    = "errors/403-AuthorizationFailed.real-world-cloudquery-16133.body.json"
		throttle   = "errors/429-compute-throttling.docs-example.body.json"
		throttleRW = "errors/429-compute-throttling.real-world-AzureTRE-2777.body.json"
	)
	// The docs example's recorded headers: Retry-After 1200 and the
	// remaining-request counters.
	var h map[string]any
	if err := json.Unmarshal(testdata(t, "errors/429-compute-throttling.docs-example.headers.json"), &h); err != nil {
		t.Fatal(err)
	}
	docsHeaders := []string{"Retry-After", h["Retry-After"].(string)}
	for _, v := range h["x-ms-ratelimit-remaining-resource"].([]any) {
		docsHeaders = append(docsHeaders, "x-ms-ratelimit-remaining-resource", v.(string))
	}
	// A failed operation: the recorded Succeeded status turned Failed, with
	// the real SkuNotAvailable error object as its error (Azure reports an
	// allocation that fails after acceptance in the operation status).
	var skuBody map[string]any
	_ = json.Unmarshal(testdata(t, skuNA), &skuBody)
	failed := withField(t, withField(t, loadRecordedLRO(t).status, []string{"status"}, "Failed"),
		[]string{"error"}, skuBody["error"])

	tests := []struct {
		name       string
		answers    []answer
		failure    []byte
		ok         bool
		retryLater bool
		after      time.Duration
		code       string
		says       []string
		patches    int
	}{
		{
			name:       "409 Conflict: another operation in progress",
			answers:    []answer{{status: 409, file: conflict}},
			retryLater: true, code: "Conflict", patches: 1,
			says: []string{"another operation is in progress", "concurrent request"},
		},
		{
			name:    "409 OperationNotAllowed: scale set marked for deletion",
			answers: []answer{{status: 409, file: notAllowed}},
			patches: 1, says: []string{"OperationNotAllowed", "marked for deletion", "does not allow"},
		},
		{
			name:    "409 SkuNotAvailable",
			answers: []answer{{status: 409, file: skuNA}},
			patches: 1, says: []string{"SkuNotAvailable", "no capacity in the region", "--max-instances"},
		},
		{
			name:    "403 AuthorizationFailed on virtualMachineScaleSets/write",
			answers: []answer{{status: 403, file: denied}},
			patches: 1, says: []string{"AuthorizationFailed", permWrite, "Virtual Machine Contributor"},
		},
		{
			name:    "403 AuthorizationFailed, other wording",
			answers: []answer{{status: 403, file: denied2}},
			patches: 1, says: []string{"AuthorizationFailed", "lacks permission"},
		},
		{
			name:       "429 with Retry-After 1200: not waited for in the HTTP layer",
			answers:    []answer{{status: 429, file: throttle, headers: docsHeaders}},
			retryLater: true, after: 20 * time.Minute, code: "TooManyRequests", patches: 1,
			says: []string{"throttling"},
		},
		{
			name: "429 with Retry-After 1: azcore retries, then the change succeeds",
			answers: []answer{
				{status: 429, file: throttleRW, headers: []string{"Retry-After", "1"}},
				{},
			},
			ok: true, patches: 2,
		},
		{
			name:       "429 with Retry-After 1 every time: retries run out, tried again later",
			answers:    []answer{{status: 429, file: throttleRW, headers: []string{"Retry-After", "1"}}},
			retryLater: true, after: time.Second, code: "TooManyRequests",
			patches: 1 + int(retryOptions().MaxRetries), says: []string{"throttling"},
		},
		{
			name:    "accepted, then the operation fails",
			answers: []answer{{}},
			failure: failed, patches: 1,
			says: []string{"accepted the change and then failed", "SkuNotAvailable", "activity log"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLROServer(t, tc.answers, tc.failure)
			err := l.scaleSet(t, nil).SetCapacity(t.Context(), 5)
			if got := l.count(http.MethodPatch, vmssPath); got != tc.patches {
				t.Errorf("%d PATCHes, want %d", got, tc.patches)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("SetCapacity: %v", err)
				}
				return
			}
			checkOutcome(t, err, tc.retryLater, tc.after, tc.code, false, "")
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// TestRetryPolicyIsConfigured checks the choices the outcome table relies
// on: 429 is retried by azcore, 409 is not (it goes to the engine), and a
// Retry-After longer than MaxRetryDelay is handed back instead of waited
// for within one decision.
func TestRetryPolicyIsConfigured(t *testing.T) {
	o := retryOptions()
	has := func(code int) bool {
		for _, c := range o.StatusCodes {
			if c == code {
				return true
			}
		}
		return false
	}
	if !has(http.StatusTooManyRequests) || !has(http.StatusServiceUnavailable) {
		t.Errorf("StatusCodes %v lack 429 or 503", o.StatusCodes)
	}
	if has(http.StatusConflict) || has(http.StatusForbidden) {
		t.Errorf("StatusCodes %v retry 409 or 403 in the HTTP layer", o.StatusCodes)
	}
	if o.MaxRetries < 1 || o.MaxRetryDelay <= 0 || o.MaxRetryDelay > time.Minute {
		t.Errorf("MaxRetries %d, MaxRetryDelay %s: want a few quick retries", o.MaxRetries, o.MaxRetryDelay)
	}
	if DefaultApplyTimeout < time.Duration(o.MaxRetries+1)*o.MaxRetryDelay {
		t.Errorf("ApplyTimeout %s is shorter than the retries it contains", DefaultApplyTimeout)
	}
}
