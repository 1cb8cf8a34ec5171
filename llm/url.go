package llm

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Sources of the Ollama URL, as ResolveURLSource names them.
const (
	SourceFlag    = "flag --ollama-url"
	SourceEnv     = "env OLLAMA_HOST"
	SourceConfig  = "config"
	SourceDefault = "default"
)

// ResolveURL picks the Ollama server URL: the flag, then the OLLAMA_HOST
// environment variable, then the config file, then http://127.0.0.1:11434.
// Each is read as the ollama command reads OLLAMA_HOST.
func ResolveURL(flagValue, configValue string) (string, error) {
	u, _, err := ResolveURLSource(flagValue, configValue)
	return u, err
}

// ResolveURLSource is ResolveURL that also names where the value came from
// (one of the Source constants), for --print-config.
func ResolveURLSource(flagValue, configValue string) (string, string, error) {
	for _, c := range []struct{ v, src string }{
		{flagValue, SourceFlag},
		{os.Getenv("OLLAMA_HOST"), SourceEnv},
		{configValue, SourceConfig},
	} {
		// The ollama command also trims quotes from OLLAMA_HOST.
		v := strings.Trim(strings.TrimSpace(c.v), `"'`)
		if v == "" {
			continue
		}
		u, err := ParseHost(v)
		if err != nil {
			return "", c.src, fmt.Errorf("ollama url from %s: %w", c.src, err)
		}
		return u, c.src, nil
	}
	return DefaultURL, SourceDefault, nil
}

// ParseHost reads an Ollama address the way the ollama command reads
// OLLAMA_HOST: [scheme://]host[:port][/path]. Without a scheme it is http
// on port 11434; with http:// or https:// and no port, 80 or 443. An
// unspecified address (0.0.0.0, ::, empty host) means this machine.
func ParseHost(s string) (string, error) {
	const hint = "write HOST[:PORT] or http://HOST:PORT, e.g. 127.0.0.1:11434"
	scheme, hostport, ok := strings.Cut(s, "://")
	port := "11434"
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		port = "80"
	case scheme == "https":
		port = "443"
	default:
		return "", fmt.Errorf("%q: scheme %q is not http or https; %s", s, scheme, hint)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	if strings.ContainsAny(hostport, "?#@ ") || strings.ContainsAny(path, "?# ") {
		return "", fmt.Errorf("%q is not a server address; %s", s, hint)
	}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.Count(hostport, ":") == 1 && !strings.HasPrefix(hostport, "[") {
		return "", fmt.Errorf("%q: %v; %s", s, err, hint)
	}
	host = strings.Trim(host, "[]")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535; %s", s, port, hint)
	}
	switch ip := net.ParseIP(host); {
	case ip == nil && strings.Contains(host, ":"):
		return "", fmt.Errorf("%q: %q is not a host name or IP address; %s", s, host, hint)
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1" // a server listening on all addresses answers on loopback
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	if path = strings.Trim(path, "/"); path != "" {
		u.Path = "/" + path
	}
	return u.String(), nil
}
