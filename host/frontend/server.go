package frontend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("frontend: server closed")

// Server is the capture front end. Create one with New, start it with
// ListenAndServe or Serve, stop it with Close.
type Server struct {
	cfg   Config
	log   hclog.Logger
	guard StreamGuard // cfg.Watcher's, when it implements StreamGuard

	clients atomic.Int64  // connections being served
	lastID  atomic.Uint64 // the last ClientInfo.ID given
	stats   counters
	wtLocks keyLocks

	adminNames map[string]struct{} // cfg.AdminCommands, lower case
	adminOn    bool                // admin commands or the admin user are configured
	ctx        context.Context     // ends at Close
	cancel     context.CancelFunc

	mu       sync.Mutex
	ln       net.Listener
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup
	polling  bool
	stop     chan struct{} // closed by Close

	streams sync.Map // stream name -> *streamState, for high-water marks

	mux *muxPool // the shared upstream connections; nil: none
}

// New returns a Server for cfg, or an error naming the field of cfg at
// fault.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	srv := &Server{cfg: cfg, log: cfg.Logger.Named("frontend"), sessions: map[*session]struct{}{}, stop: make(chan struct{})}
	srv.guard, _ = cfg.Watcher.(StreamGuard)
	if len(cfg.AdminCommands) > 0 {
		srv.adminNames = map[string]struct{}{}
		for _, n := range cfg.AdminCommands {
			srv.adminNames[strings.ToLower(n)] = struct{}{}
		}
	}
	if cfg.SharedConns > 0 {
		srv.mux = newMuxPool(cfg.SharedConns)
	}
	srv.adminOn = len(srv.adminNames) > 0 || cfg.AdminPassword != ""
	srv.ctx, srv.cancel = context.WithCancel(context.Background())
	return srv, nil
}

// ListenAndServe listens on the configured address and serves it until
// Close.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("frontend: listen: %w", err)
	}
	return s.Serve(l)
}

// Serve serves the clients that connect to l until Close, which closes l.
// It returns ErrClosed after Close. It first checks that the upstream is
// reachable and accepts the configured credentials and database (see
// CheckUpstream), and returns that error, with l closed, if not.
func (s *Server) Serve(l net.Listener) error {
	if err := s.CheckUpstream(s.ctx); err != nil {
		l.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	s.ln = l
	if !s.polling && s.cfg.Watcher != nil {
		s.polling = true
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.pollStreams()
		}()
	}
	s.mu.Unlock()
	s.log.Info("listening", "addr", l.Addr().String(), "upstream", s.cfg.Upstream)
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("frontend: accept: %w", err)
		}
		if s.clients.Add(1) > int64(s.cfg.MaxClients) {
			s.clients.Add(-1)
			c.Write([]byte("-ERR max number of clients reached\r\n"))
			c.Close()
			continue
		}
		sess := newSession(s, c)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.clients.Add(-1)
			c.Close()
			return ErrClosed
		}
		s.sessions[sess] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sess.serve()
			s.mu.Lock()
			delete(s.sessions, sess)
			s.mu.Unlock()
			s.clients.Add(-1)
		}()
	}
}

// Addr returns the address the server listens on, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops listening, closes every client connection and its upstream
// connection, and waits until their goroutines have ended.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.cancel()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for sess := range s.sessions {
		sess.close()
	}
	s.mu.Unlock()
	s.closeMux()
	s.wg.Wait()
	s.log.Info("stopped")
	return err
}

// dial opens a connection to the upstream, over TLS if configured.
func (s *Server) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	if s.cfg.TLS != nil {
		d := tls.Dialer{Config: s.cfg.TLS}
		return d.DialContext(ctx, "tcp", s.cfg.Upstream)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.cfg.Upstream)
}

// CheckUpstream opens one upstream connection as a client's is opened
// (TLS, AUTH, SELECT, and SCRIPT LOAD when a Watcher is configured), sends
// PING, and closes it. Its error says which step failed, as in
// `frontend: upstream 127.0.0.1:6379: auth: WRONGPASS invalid
// username-password pair or user is disabled.`.
func (s *Server) CheckUpstream(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("frontend: upstream %s: %w", s.cfg.Upstream, err)
	}
	defer c.Close()
	if _, err := handshake(c, &s.cfg, true); err != nil {
		return fmt.Errorf("frontend: upstream %s: %w", s.cfg.Upstream, err)
	}
	return nil
}
