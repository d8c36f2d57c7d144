package frontend

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cogs-dev/cogs/host/internal/resp"
)

// streamState is what the front end knows of a stream with a high-water
// mark: its length at the last poll.
type streamState struct {
	length atomic.Int64
}

// overHighWater reports whether watched writes recorded in w's stream are
// to be refused, and registers the stream for polling.
func (s *Server) overHighWater(w Watch) (int64, bool) {
	if w.HighWater <= 0 {
		return 0, false
	}
	v, ok := s.streams.Load(w.Stream)
	if !ok {
		v, _ = s.streams.LoadOrStore(w.Stream, &streamState{})
	}
	n := v.(*streamState).length.Load()
	return n, n >= w.HighWater
}

// backpressureError is the refusal of a watched write to a stream over
// its high-water mark.
func backpressureError(w Watch, n int64) string {
	return fmt.Sprintf("COGSBACKPRESSURE stream %q of recipe %q holds %d entries, over its high-water mark of %d: watched writes are refused until the applier catches up",
		w.Stream, w.Recipe, n, w.HighWater)
}

// pollStreams reads the length of every registered stream each
// PollInterval, on a connection of its own, until Close.
func (s *Server) pollStreams() {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	var p poller
	defer p.close()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.streams.Range(func(k, v any) bool {
			n, err := p.xlen(s, k.(string))
			if err != nil {
				s.log.Debug("polling stream length", "stream", k, "error", err)
				p.close()
				return false
			}
			v.(*streamState).length.Store(n)
			return true
		})
	}
}

// poller is the connection pollStreams reads stream lengths on.
type poller struct {
	conn net.Conn
	r    *resp.Reader
	buf  []byte
}

func (p *poller) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// xlen returns the length of stream, connecting first if need be.
func (p *poller) xlen(s *Server, stream string) (int64, error) {
	cfg := &s.cfg
	var n int
	p.buf = p.buf[:0]
	if p.conn == nil {
		c, err := s.dial(s.ctx)
		if err != nil {
			return 0, err
		}
		p.conn, p.r = c, resp.NewReader(bufio.NewReader(c), resp.Limits{})
		if cfg.Password != "" {
			args := [][]byte{[]byte("AUTH"), []byte(cfg.Password)}
			if cfg.Username != "" {
				args = [][]byte{[]byte("AUTH"), []byte(cfg.Username), []byte(cfg.Password)}
			}
			p.buf = resp.AppendCommand(p.buf, args...)
			n++
		}
		p.buf = resp.AppendCommand(p.buf, []byte("SELECT"), strconv.AppendInt(nil, int64(cfg.DB), 10))
		n++
	}
	p.buf = resp.AppendCommand(p.buf, []byte("XLEN"), []byte(stream))
	p.conn.SetDeadline(time.Now().Add(cfg.DialTimeout))
	if _, err := p.conn.Write(p.buf); err != nil {
		return 0, err
	}
	var v resp.Value
	for range n + 1 {
		var err error
		if v, _, err = p.r.ReadValue(); err != nil {
			return 0, err
		}
		if v.Kind == resp.SimpleError {
			return 0, fmt.Errorf("%s", v.Str)
		}
	}
	if v.Kind != resp.Integer {
		return 0, fmt.Errorf("XLEN replied %s", v.Kind)
	}
	return v.Int, nil
}
