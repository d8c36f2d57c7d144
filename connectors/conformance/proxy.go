package conformance

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy between a connector and its server that can drop
// every connection once a given number of bytes went towards the server:
// a connection lost in the middle of a batch, at a point the test chooses.
type Proxy struct {
	// Addr is the proxy's "127.0.0.1:<port>" address.
	Addr string

	target string
	ln     net.Listener
	budget atomic.Int64 // bytes left before the cut; < 0: no cut armed
	cuts   atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to target, closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	p.budget.Store(-1)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// CutAfter arms the proxy: once n more bytes went from clients towards the
// server, every open connection is closed (new ones are accepted again).
func (p *Proxy) CutAfter(n int64) { p.budget.Store(n) }

// Cuts reports how many times the proxy dropped its connections.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, true)
		go p.pipe(c, s, false)
	}
}

// pipe copies from src to dst; upstream copies count against the budget.
func (p *Proxy) pipe(dst, src net.Conn, upstream bool) {
	defer p.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if upstream {
				if b := p.budget.Load(); b >= 0 {
					if int64(n) > b {
						// Forward what fits, then cut everything.
						dst.Write(buf[:b])
						p.budget.Store(-1)
						p.cut()
						return
					}
					p.budget.Add(-int64(n))
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) cut() {
	p.cuts.Add(1)
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
