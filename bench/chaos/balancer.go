package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
)

// balancer is the public callback address in front of the workers, as a load balancer
// would be: it forwards each callback to a live worker, in turn.
type balancer struct {
	srv   *http.Server
	url   string
	mu    sync.Mutex
	addrs []string // by worker slot; "" while the slot is down
	next  atomic.Uint64
}

func newBalancer() (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{url: "http://" + ln.Addr().String()}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", b.pick()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	b.srv = &http.Server{Handler: proxy}
	go func() { _ = b.srv.Serve(ln) }() // ends at Close
	return b, nil
}

// URL is CALLBACK_URL.
func (b *balancer) URL() string { return b.url }

// set records slot i's address ("" when it is down).
func (b *balancer) set(i int, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.addrs) <= i {
		b.addrs = append(b.addrs, "")
	}
	b.addrs[i] = addr
}

// pick is the next live worker's address ("127.0.0.1:1", refused, when none is up).
func (b *balancer) pick() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.addrs {
		a := b.addrs[int(b.next.Add(1))%len(b.addrs)]
		if a != "" {
			return a
		}
	}
	return "127.0.0.1:1"
}

func (b *balancer) Close() { _ = b.srv.Close() }
