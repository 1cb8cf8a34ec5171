package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/scalepilot/scalepilot/engine"
)

// ErrStillRunning is wrapped when a capacity change did not finish within
// Config.ApplyTimeout. Azure goes on with it; the scale set's state shows
// it as updating until it ends.
var ErrStillRunning = errors.New("capacity change still running")

// ErrOutcomeUnknown is wrapped when Azure accepted a capacity change and
// polling its progress then failed: the change may or may not be made.
var ErrOutcomeUnknown = errors.New("capacity change outcome unknown")

// APIError is an error answer from Azure, parsed from the ARM error
// envelope. It unwraps to the SDK's *azcore.ResponseError.
type APIError struct {
	Status     int           // HTTP status; 200 for a failed long-running operation
	Code       string        // ARM error code, e.g. Conflict, SkuNotAvailable
	Message    string        // ARM error message
	Detail     string        // first detail's code, when there is one
	RetryAfter time.Duration // from the Retry-After header; 0 when absent
	Err        *azcore.ResponseError
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	code := e.Code
	if code == "" {
		code = "UnknownError"
	}
	return fmt.Sprintf("%s (HTTP %d): %s", code, e.Status, msg)
}

func (e *APIError) Unwrap() error { return e.Err }

// armEnvelope is ARM's error body, with or without the "error" wrapper.
type armEnvelope struct {
	Error *armErrorBody `json:"error"`
	armErrorBody
}

type armErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Code string `json:"code"`
	} `json:"details"`
}

// asAPIError extracts Azure's answer from err, or returns nil when err is
// not an HTTP error answer (a network failure, a cancelled context).
func asAPIError(err error) *APIError {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return nil
	}
	ae := &APIError{Status: re.StatusCode, Code: re.ErrorCode, Err: re}
	if re.RawResponse == nil {
		return ae
	}
	ae.RetryAfter = retryAfter(re.RawResponse.Header)
	body, _ := runtime.Payload(re.RawResponse)
	var env armEnvelope
	if json.Unmarshal(body, &env) == nil {
		b := env.armErrorBody
		if env.Error != nil {
			b = *env.Error
		}
		if ae.Code == "" {
			ae.Code = b.Code
		}
		ae.Message = b.Message
		if len(b.Details) > 0 {
			ae.Detail = b.Details[0].Code
		}
	}
	return ae
}

// retryAfter reads the wait Azure asks for, in the order azcore's retry
// policy reads it: retry-after-ms, x-ms-retry-after-ms, then Retry-After as
// seconds or an HTTP date (relative to the response's Date header, so no
// clock is read here; without Date the date form is ignored).
func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if ms, err := strconv.Atoi(strings.TrimSpace(h.Get(k))); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0
	}
	if d := at.Sub(date); d > 0 {
		return d
	}
	return 0
}

// Error codes that say the request can never succeed as it is: quota, SKU
// capacity and state errors. They are not retried even when Azure sends
// them with 409.
var permanentCodes = map[string]bool{
	"OperationNotAllowed":              true,
	"SkuNotAvailable":                  true,
	"QuotaExceeded":                    true,
	"AllocationFailed":                 true,
	"ZonalAllocationFailed":            true,
	"OverconstrainedAllocationRequest": true,
	"InvalidParameter":                 true,
	"BadRequest":                       true,
}

// what says what the failed call was doing, for messages and hints.
type what struct {
	op    string // "read scale set", "change capacity", ...
	write bool   // a write needs .../write permission
	perm  string // the permission a 403 lacks
}

// classify turns an SDK error into the engine's outcome: ErrNotFound,
// *engine.RetryLaterError, or a plain error with a hint.
func (s *ScaleSet) classify(w what, err error) error {
	if err == nil {
		return nil
	}
	target := fmt.Sprintf("scale set %s in resource group %s", s.cfg.VMSSName, s.cfg.ResourceGroup)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", w.op, target, err)
	}
	ae := asAPIError(err)
	if ae == nil {
		return fmt.Errorf("%s %s: %w (check the network and the --cloud setting)", w.op, target, err)
	}
	switch {
	case ae.Status == http.StatusNotFound || ae.Code == "ResourceNotFound" ||
		ae.Code == "ResourceGroupNotFound" || ae.Code == "NotFound":
		return fmt.Errorf("%s %s: %w: %v (check --subscription, --resource-group and --vmss-name)",
			w.op, target, engine.ErrNotFound, ae)
	case ae.Status == http.StatusTooManyRequests ||
		(ae.Status == http.StatusServiceUnavailable && ae.RetryAfter > 0):
		code := ae.Detail
		if code == "" || ae.Status != http.StatusTooManyRequests {
			code = ae.Code
		}
		if code == "" || code == "OperationNotAllowed" {
			code = "TooManyRequests"
		}
		return &engine.RetryLaterError{After: ae.RetryAfter, Code: code,
			Err: fmt.Errorf("%s %s: Azure is throttling requests: %w", w.op, target, ae)}
	case ae.Status == http.StatusConflict && !permanentCodes[ae.Code]:
		code := ae.Code
		if code == "" {
			code = "Conflict"
		}
		return &engine.RetryLaterError{After: ae.RetryAfter, Code: code,
			Err: fmt.Errorf("%s %s: another operation is in progress: %w", w.op, target, ae)}
	case ae.Status == http.StatusForbidden:
		return fmt.Errorf("%s %s: %w: the identity lacks permission: grant it %s on the scale set "+
			"(for example with the %s role)", w.op, target, ae, w.perm, roleFor(w))
	case ae.Status == http.StatusUnauthorized:
		return fmt.Errorf("%s %s: %w: the credential was rejected: sign in again (az login) or "+
			"check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or identity", w.op, target, ae)
	case ae.Code == "SkuNotAvailable":
		return fmt.Errorf("%s %s: %w: this VM size has no capacity in the region: lower "+
			"--max-instances, wait, or move the scale set to another size or region", w.op, target, ae)
	case ae.Code == "OperationNotAllowed" || ae.Code == "QuotaExceeded":
		return fmt.Errorf("%s %s: %w: Azure does not allow this change: if it is a core quota, "+
			"request more quota or lower --max-instances", w.op, target, ae)
	}
	return fmt.Errorf("%s %s: %w", w.op, target, ae)
}

// classifyOperation turns the error of a long-running operation into an
// outcome. done says whether Azure reported a final status. A failed status
// is final: the change is not made and is not retried. An error while
// polling (network, 5xx after azcore's retries, an answer from the
// operation URL) says nothing about the change itself: Azure accepted it
// and may still carry it out, so the error wraps ErrOutcomeUnknown and is
// not a retry-later (a retry would be counted as not applied while the
// first change goes on).
func (s *ScaleSet) classifyOperation(w what, done bool, err error) error {
	// A 2xx answer that is an error is Azure's report of a failed status,
	// even when a poller (armcompute's fake) returns it from Poll.
	if !done && !failedOperation(err) {
		return fmt.Errorf("%s scale set %s: Azure accepted the change, then following it failed: %w: %v "+
			"(the next reads of the scale set show whether it is still updating)",
			w.op, s.cfg.VMSSName, ErrOutcomeUnknown, err)
	}
	ae := asAPIError(err)
	if ae == nil {
		return s.classify(w, err)
	}
	return fmt.Errorf("%s scale set %s: Azure accepted the change and then failed it: %w "+
		"(see the scale set's activity log in the Azure portal for the cause)", w.op, s.cfg.VMSSName, ae)
}

func roleFor(w what) string {
	if w.write {
		return "Virtual Machine Contributor"
	}
	if strings.Contains(w.perm, "Insights") {
		return "Monitoring Reader"
	}
	return "Reader"
}
