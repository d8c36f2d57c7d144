package frontend

import (
	"sync"
	"sync/atomic"
)

// Stats are a Server's counters since it started.
type Stats struct {
	// Connections is the number of client connections being served;
	// Accepted counts every connection served since the start.
	Connections int64
	Accepted    uint64
	// Commands counts the commands read from clients (but large ones
	// streamed through, which are counted in StreamedCommands).
	Commands         uint64
	StreamedCommands uint64
	// Captured counts watched writes sent upstream as a capture unit;
	// CapturedByRecipe counts them by the recipe watching their keys (a
	// command that changes keys of two recipes counts for both).
	Captured         uint64
	CapturedByRecipe map[string]uint64
	// Refused counts commands cogs answered with an error itself
	// (uncapturable writes to watched keys, backpressure, protocol
	// errors, limits); ProtocolErrors those that closed the connection.
	Refused        uint64
	ProtocolErrors uint64
}

type counters struct {
	commands, streamed, captured, refused, protocol atomic.Uint64
	byRecipe                                        sync.Map // recipe -> *atomic.Uint64
}

// countCapture counts one capture of the keys of targets.
func (s *Server) countCapture(targets []target) {
	s.stats.captured.Add(1)
	for i, t := range targets {
		dup := false
		for _, u := range targets[:i] {
			if u.w.Recipe == t.w.Recipe {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		c, ok := s.stats.byRecipe.Load(t.w.Recipe)
		if !ok {
			c, _ = s.stats.byRecipe.LoadOrStore(t.w.Recipe, new(atomic.Uint64))
		}
		c.(*atomic.Uint64).Add(1)
	}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	by := map[string]uint64{}
	s.stats.byRecipe.Range(func(k, v any) bool {
		by[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return Stats{
		CapturedByRecipe: by,
		Connections:      s.clients.Load(),
		Accepted:         s.lastID.Load(),
		Commands:         s.stats.commands.Load(),
		StreamedCommands: s.stats.streamed.Load(),
		Captured:         s.stats.captured.Load(),
		Refused:          s.stats.refused.Load(),
		ProtocolErrors:   s.stats.protocol.Load(),
	}
}
