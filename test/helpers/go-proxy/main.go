// Decides proxies the way the kubelet does, with Go's own golang.org/x/net/http/httpproxy (the package behind
// net/http.ProxyFromEnvironment), for test/host/http/proxy-rules-go.test.ts to compare postjoin's rules with. The
// test builds it against the copy of that package inside the installed Go toolchain (GOROOT/src/vendor), as
// shipped and with upstream's later changes, so no module is downloaded.
// Input on stdin: a JSON list of {"env": {NAME: value}, "url": "..."}. Output: one JSON result per case.
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"golang.org/x/net/http/httpproxy"
)

type testCase struct {
	Env map[string]string `json:"env"`
	URL string            `json:"url"`
}

type proxy struct {
	Scheme   string  `json:"scheme"`
	Host     string  `json:"host"`
	User     *string `json:"user,omitempty"`
	Password *string `json:"password,omitempty"`
}

type result struct {
	Proxy *proxy `json:"proxy"`
	Err   string `json:"err,omitempty"`
}

var names = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"}

func decide(c testCase) result {
	// FromEnvironment reads the variables on every call (only net/http caches its answer), so each case gets
	// exactly its own environment.
	for _, n := range names {
		os.Unsetenv(n)
	}
	for k, v := range c.Env {
		os.Setenv(k, v)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return result{Err: "url: " + err.Error()}
	}
	p, err := httpproxy.FromEnvironment().ProxyFunc()(u)
	if err != nil {
		return result{Err: err.Error()}
	}
	if p == nil {
		return result{}
	}
	out := &proxy{Scheme: p.Scheme, Host: p.Host}
	if p.User != nil {
		name := p.User.Username()
		out.User = &name
		if pw, ok := p.User.Password(); ok {
			out.Password = &pw
		}
	}
	return result{Proxy: out}
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	results := make([]result, 0, len(cases))
	for _, c := range cases {
		results = append(results, decide(c))
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
