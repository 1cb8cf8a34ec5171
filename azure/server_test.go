package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// This file holds the loopback Azure used by the HTTP-level tests: a TLS
// httptest server that plays Resource Manager and Azure Monitor, reached
// through a custom cloud whose endpoint is the server's URL, with a fake
// credential. The SDK insists on https before it sends a bearer token, hence
// TLS. A transport guard fails the test if the SDK tries any other host.

const (
	testSub   = "00000000-0000-0000-0000-000000000000"
	testGroup = "rg1"
	testVMSS  = "web"
)

// Paths the SDK asks for, relative to the server.
var (
	vmssPath      = "/subscriptions/" + testSub + "/resourceGroups/" + testGroup + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + testVMSS
	opPath        = "/subscriptions/" + testSub + "/providers/Microsoft.Compute/locations/westus/operations/op-1"
	metricsPath   = vmssPath + "/providers/Microsoft.Insights/metrics"
	skusPath      = "/subscriptions/" + testSub + "/providers/Microsoft.Compute/skus"
	autoscalePath = "/subscriptions/" + testSub + "/providers/Microsoft.Insights/autoscalesettings"
)

// fakeCredential hands out a fixed token and records the scopes it was
// asked for. It never talks to Microsoft Entra ID.
type fakeCredential struct {
	mu     sync.Mutex
	scopes []string
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.scopes = append(c.scopes, o.Scopes...)
	c.mu.Unlock()
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) scopeList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scopes...)
}

// loopbackOnly sends requests to the test server and refuses, failing the
// test, any request for another host (a real Azure endpoint, IMDS, Entra).
type loopbackOnly struct {
	t    *testing.T
	host string
	next *http.Client
}

func (l loopbackOnly) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host != l.host {
		l.t.Errorf("request left the test server: %s %s", req.Method, req.URL)
		return nil, fmt.Errorf("test transport: refused %s", req.URL)
	}
	return l.next.Do(req)
}

// call is one request the server received.
type call struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Auth   string
}

// azureServer is the loopback Azure. handle answers each request; the
// server records every call first.
type azureServer struct {
	t      *testing.T
	srv    *httptest.Server
	cred   *fakeCredential
	mu     sync.Mutex
	calls  []call
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newAzureServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *azureServer {
	t.Helper()
	a := &azureServer{t: t, cred: &fakeCredential{}, handle: handle}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.calls = append(a.calls, call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Body: body, Auth: r.Header.Get("Authorization")})
		a.mu.Unlock()
		a.handle(w, r, body)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// config is a Config that reaches this server only. Retry is left nil: the
// tests run azcore's retry policy as production configures it.
func (a *azureServer) config(t *testing.T) Config {
	u, _ := url.Parse(a.srv.URL)
	return Config{
		SubscriptionID: testSub,
		ResourceGroup:  testGroup,
		VMSSName:       testVMSS,
		Cloud:          a.srv.URL,
		Credential:     a.cred,
		Transport:      loopbackOnly{t: t, host: u.Host, next: a.srv.Client()},
		PollFrequency:  time.Millisecond,
		ApplyTimeout:   30 * time.Second,
		CallTimeout:    30 * time.Second,
	}
}

func (a *azureServer) scaleSet(t *testing.T, mod func(*Config)) *ScaleSet {
	t.Helper()
	cfg := a.config(t)
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// count is how many calls had method and path.
func (a *azureServer) count(method, path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.calls {
		if c.Method == method && c.Path == path {
			n++
		}
	}
	return n
}

func (a *azureServer) callsTo(method, path string) []call {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []call
	for _, c := range a.calls {
		if c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// url is the server's absolute URL for path.
func (a *azureServer) url(path string) string { return a.srv.URL + path }

// testdata reads a file under testdata/.
func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// specBody extracts responses.<status>.body from an Azure REST spec example.
func specBody(t *testing.T, name, status string) json.RawMessage {
	t.Helper()
	var ex struct {
		Responses map[string]struct {
			Body json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(testdata(t, name), &ex); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	r, ok := ex.Responses[status]
	if !ok {
		t.Fatalf("%s has no %s response", name, status)
	}
	return r.Body
}

// recordedEntry is one interaction of a test-proxy JSON recording.
type recordedEntry struct {
	RequestURI      string                     `json:"RequestUri"`
	RequestMethod   string                     `json:"RequestMethod"`
	StatusCode      int                        `json:"StatusCode"`
	ResponseHeaders map[string]json.RawMessage `json:"ResponseHeaders"`
	ResponseBody    json.RawMessage            `json:"ResponseBody"`
}

func recording(t *testing.T, name string) []recordedEntry {
	t.Helper()
	var rec struct {
		Entries []recordedEntry `json:"Entries"`
	}
	if err := json.Unmarshal(testdata(t, name), &rec); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	for i := range rec.Entries {
		rec.Entries[i].ResponseBody = reencode(t, rec.Entries[i].ResponseBody)
	}
	return rec.Entries
}

// reencode writes a recorded body as Azure sends it. The test proxy stored
// "+" in times as \u002B; the SDK reads times from the raw bytes and cannot
// decode that escape, which Azure itself never sends.
func reencode(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	if len(raw) == 0 {
		return raw
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("recorded body: %v", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("recorded body: %v", err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// writeJSON answers status with body and the given headers.
func writeJSON(w http.ResponseWriter, status int, body []byte, headers ...string) {
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Add(headers[i], headers[i+1])
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// withField returns the JSON object body with key set to value (a shallow
// edit of a recorded body, for a variant the recordings do not have).
func withField(t *testing.T, body []byte, path []string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("withField: %v", err)
	}
	cur := m
	for _, k := range path[:len(path)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("withField: no object at %q", k)
		}
		cur = next
	}
	cur[path[len(path)-1]] = value
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("withField: %v", err)
	}
	return out
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %q: %v", b, err)
	}
	return buf.String()
}

// unexpected fails the test for a request the handler does not expect and
// answers 400, which neither the SDK nor classify retries.
func (a *azureServer) unexpected(w http.ResponseWriter, r *http.Request) {
	a.t.Errorf("unexpected request %s %s", r.Method, r.URL)
	writeJSON(w, http.StatusBadRequest, []byte(`{"error":{"code":"UnexpectedInTest","message":"not expected"}}`))
}
