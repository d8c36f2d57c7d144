package frontend

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/cogs-dev/cogs/host/internal/resp"
)

// Admin answers the commands cogs serves itself (Config.AdminCommands,
// such as RECIPE) for an authenticated admin client.
//
// Command is called on the client's own goroutine, after the replies to
// every command the client sent before it have been sent, and before any
// command after it is looked at: a recipe that a RECIPE LOAD adds is
// watched from the next command on. args is the command, its name first,
// as the client sent it (up to Config.MaxBulk per argument); it is valid
// only until Command returns. ctx ends when the client disconnects or the
// server closes. Command returns one complete RESP reply, encoded for
// c.Proto (the Append functions of this package do that), which is sent
// to the client as the command's reply; nil or empty is sent as an error.
// It may be called from many goroutines at once, one per client.
type Admin interface {
	Command(ctx context.Context, args [][]byte, c *ClientInfo) []byte
}

// ClientInfo describes the client an admin command comes from.
type ClientInfo struct {
	// ID numbers the client connections of a Server, from 1. It is
	// cogs's own, not the upstream's CLIENT ID.
	ID uint64
	// Addr is the client's remote address.
	Addr string
	// Proto is the protocol the client speaks, 2 (RESP2) or 3 (RESP3), as
	// its last successful HELLO chose.
	Proto int
	// Admin reports whether the client authenticated as Config.AdminUser.
	// Command is only called for admins, so it is always true there.
	Admin bool
}

// The Append functions encode one reply for an Admin, for the protocol
// proto (2 or 3) where the two differ. An aggregate is its header followed
// by its elements, appended by further calls.
//
//	b := frontend.AppendMap(nil, 2, c.Proto)
//	b = frontend.AppendBulkString(b, "name")
//	b = frontend.AppendBulkString(b, "persons")
//	b = frontend.AppendBulkString(b, "version")
//	b = frontend.AppendInt(b, 3)

// AppendSimple appends the simple string "+s" (CR and LF become spaces).
func AppendSimple(b []byte, s string) []byte { return resp.AppendSimple(b, s) }

// AppendError appends the error "-s"; s starts with its code, as in
// "ERR no such recipe" (CR and LF become spaces).
func AppendError(b []byte, s string) []byte { return resp.AppendError(b, s) }

// AppendBulk appends p as a bulk string.
func AppendBulk(b, p []byte) []byte { return resp.AppendBulk(b, p) }

// AppendBulkString appends s as a bulk string.
func AppendBulkString(b []byte, s string) []byte { return resp.AppendBulkString(b, s) }

// AppendInt appends the integer n.
func AppendInt(b []byte, n int64) []byte { return resp.AppendInt(b, n) }

// AppendDouble appends f: a RESP3 double, or in RESP2 a bulk string.
func AppendDouble(b []byte, f float64, proto int) []byte { return resp.AppendDouble(b, f, proto) }

// AppendBool appends v: a RESP3 boolean, or in RESP2 the integer 1 or 0.
func AppendBool(b []byte, v bool, proto int) []byte { return resp.AppendBool(b, v, proto) }

// AppendArray appends the header of an array of n elements.
func AppendArray(b []byte, n int) []byte { return resp.AppendArrayHeader(b, n) }

// AppendMap appends the header of a map of n pairs: a RESP3 map, or in
// RESP2 a flat array of 2n elements. n keys and values follow,
// alternating.
func AppendMap(b []byte, n, proto int) []byte { return resp.AppendMapHeader(b, n, proto) }

// AppendNull appends a null: RESP3's "_", or RESP2's null bulk string.
func AppendNull(b []byte, proto int) []byte { return resp.AppendNull(b, proto) }

// AppendVerbatim appends s as a RESP3 verbatim string of format "txt",
// or in RESP2 a bulk string: what redis-server sends for text meant for
// people (INFO, CLIENT LIST).
func AppendVerbatim(b []byte, s string, proto int) []byte {
	return resp.AppendVerbatim(b, "txt", s, proto)
}

// Redis's own errors, for the admin commands and AUTH.
const (
	errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
	errNoAdmin   = "ERR cogs: %s refused: no admin password is configured (admin.password), so no client may run admin commands"
	errNoPerm    = "NOPERM this user has no permissions to run the '%s' command"
	errAdminMult = "ERR cogs: %s cannot be used inside MULTI"
)

// adminCommand reports whether name is one of Config.AdminCommands.
func (s *Server) adminCommand(name []byte) bool {
	if len(s.adminNames) == 0 {
		return false
	}
	var buf [32]byte
	if len(name) > len(buf) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := s.adminNames[string(buf[:len(name)])]
	return ok
}

// adminPassword reports whether user and password are the admin's.
func (s *Server) adminPassword(user, password []byte) bool {
	ok := subtle.ConstantTimeCompare(password, []byte(s.cfg.AdminPassword)) == 1
	return string(user) == s.cfg.AdminUser && ok
}

// isAdminUser reports whether an AUTH or HELLO AUTH names the admin user,
// which cogs answers itself.
func (s *Server) isAdminUser(user []byte) bool {
	return s.cfg.AdminPassword != "" && string(user) == s.cfg.AdminUser
}

// handleAdmin answers what cogs answers itself: the admin commands, AUTH
// as the admin user, and HELLO (followed, for the protocol an admin reply
// is encoded in). It reports whether it handled the command.
func (s *session) handleAdmin(args [][]byte, raw []byte) (bool, error) {
	srv := s.srv
	name := args[0]
	switch {
	case srv.adminCommand(name):
		return true, s.adminCommand(args)
	case equalFold(name, "auth") && len(args) == 3 && srv.isAdminUser(args[1]):
		if s.inMulti {
			return true, s.refuse(fmt.Sprintf(errAdminMult, "AUTH as the admin user"), false)
		}
		if !srv.adminPassword(args[1], args[2]) {
			return true, s.refuse(errWrongPass, false)
		}
		s.admin = true
		return true, s.sendLocal(local{reply: []byte("+OK\r\n")})
	case equalFold(name, "hello") && len(args) > 1:
		return true, s.hello(args, raw)
	}
	return false, nil
}

// hello forwards a HELLO with a protocol version. When it authenticates
// as the admin user, cogs checks the password and forwards it without its
// AUTH. Outside MULTI, a marker follows it, at which the reply pump learns
// whether it succeeded.
func (s *session) hello(args [][]byte, raw []byte) error {
	ver, err := strconv.Atoi(string(args[1]))
	if err != nil || ver < 2 || ver > 3 {
		_, err := s.uw.Write(raw) // Redis's error
		return err
	}
	var user, pass []byte
	auth := false
	for j := 2; j < len(args); j++ {
		switch {
		case equalFold(args[j], "auth") && j+2 < len(args):
			user, pass, auth = args[j+1], args[j+2], true
			j += 2
		case equalFold(args[j], "setname") && j+1 < len(args):
			j++
		default:
			_, err := s.uw.Write(raw) // Redis's syntax error
			return err
		}
	}
	if auth && s.srv.isAdminUser(user) {
		if s.inMulti {
			return s.refuse(fmt.Sprintf(errAdminMult, "HELLO AUTH as the admin user"), false)
		}
		if !s.srv.adminPassword(user, pass) {
			return s.refuse(errWrongPass, false)
		}
		s.admin = true
		kept := [][]byte{args[0], args[1]}
		for j := 2; j < len(args); j++ {
			if equalFold(args[j], "auth") {
				j += 2
				continue
			}
			kept = append(kept, args[j], args[j+1])
			j++
		}
		raw = resp.AppendCommand(nil, kept...)
	}
	if _, err := s.uw.Write(raw); err != nil {
		return err
	}
	if s.inMulti {
		return nil
	}
	s.hellos.Add(1)
	return s.sendLocal(local{hello: ver})
}

// adminCommand runs an admin command, or refuses it.
func (s *session) adminCommand(args [][]byte) error {
	srv := s.srv
	name := string(args[0])
	switch {
	case srv.cfg.AdminPassword == "":
		return s.refuse(fmt.Sprintf(errNoAdmin, upper(name)), false)
	case !s.admin:
		return s.refuse(fmt.Sprintf(errNoPerm, strings.ToLower(name)), false)
	case s.inMulti:
		return s.refuse(fmt.Sprintf(errAdminMult, upper(name)), false)
	}
	// Wait until the replies to everything before it are on their way.
	if err := s.sendLocal(local{admin: true}); err != nil {
		return err
	}
	if err := s.uw.Flush(); err != nil {
		return err
	}
	var proto int
	select {
	case proto = <-s.reached:
	case <-s.replyDone:
		return net.ErrClosed
	}
	info := ClientInfo{ID: s.id, Addr: s.client.RemoteAddr().String(), Proto: proto, Admin: true}
	reply := srv.cfg.Admin.Command(s.ctx, args, &info)
	if len(reply) == 0 {
		reply = resp.AppendError(nil, "ERR cogs: "+upper(name)+" gave no reply")
	}
	s.handoff <- reply
	return nil
}
