// Package redis is the connector to another Redis (github.com/redis/go-redis/v9).
// It registers itself as "redis".
//
// Options (see connectors/README.md):
//
//	address         host:port (default 127.0.0.1:6379)
//	username        ACL user (default none)
//	password        (default none; use ${env:NAME} or ${file:/path})
//	db              database number (default 0)
//	mode            hash or json (default hash)
//	json_fallback   error or string: what json mode does on a target
//	                without the JSON module (default error)
//	write           merge or replace (default merge)
//	key_template    the key of a row (default "{table}:{keys}")
//	ttl_seconds     expiry set on every written key; 0 means none (default 0)
//	checkpoint_key  the hash holding the checkpoints (default "cogs:checkpoints")
//	timeout_ms      dial, read and write timeout (default 10000)
//	client_name     CLIENT SETNAME of the connections (default "cogs")
//
// A batch is one MULTI/EXEC on one connection, with the checkpoint (HSET
// checkpoint_key stream "<ms>-<seq>") inside the same transaction. Before
// the MULTI, the keys of the batch are WATCHed and their types read: an op
// on a key of another type (WRONGTYPE) or an insert of an existing row is
// refused for good with its Index before anything is sent, since a
// command failing inside EXEC would not roll the others back. A WATCHed
// key changed by someone else between the check and EXEC aborts the EXEC
// (nothing applied); the batch is then checked again, up to three times.
package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

func init() {
	connectors.Register("redis", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Mode is how a row is stored.
type Mode int

const (
	// ModeHash stores a row as a hash, one field per column.
	ModeHash Mode = iota
	// ModeJSON stores a row as a RedisJSON document (JSON.SET, JSON.MERGE).
	ModeJSON
	// ModeJSONString stores a row as a string holding a JSON document (SET).
	ModeJSONString
)

// Connector writes to one Redis server.
type Connector struct {
	c       goredis.UniversalClient
	cluster bool
	tmpl    template
	mode    Mode
	replace bool
	ttl     time.Duration
	cpKey   string
}

var _ connectors.Connector = (*Connector)(nil)

// watchRetries is how many times a batch whose WATCHed keys changed
// under it is checked and sent again before Apply gives up (transient).
const watchRetries = 3

// Open connects and checks the options against the server (the JSON
// module for mode json).
func Open(cfg map[string]any) (*Connector, error) {
	o := connectors.NewOptions(cfg)
	opt := &goredis.Options{
		Addr:     o.String("address", "127.0.0.1:6379"),
		Username: o.String("username", ""),
		Password: o.String("password", ""),
		DB:       o.Int("db", 0),
		// The scheduler retries batches with backoff; a retry inside the
		// client would hide a lost connection in the middle of a MULTI.
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		PoolSize:              4,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	mode := o.String("mode", "hash")
	fallback := o.String("json_fallback", "error")
	write := o.String("write", "merge")
	tmplText := o.String("key_template", "{table}:{keys}")
	ttl := o.Int("ttl_seconds", 0)
	cpKey := o.String("checkpoint_key", "cogs:checkpoints")
	timeout := o.Int("timeout_ms", 10000)
	opt.ClientName = o.String("client_name", "cogs")
	topology := o.String("topology", "single")
	if err := o.Err(); err != nil {
		return nil, err
	}
	c := &Connector{cpKey: cpKey, ttl: time.Duration(ttl) * time.Second}
	switch topology {
	case "single":
	case "cluster":
		c.cluster = true
	default:
		return nil, fmt.Errorf(`option "topology": want single or cluster, got %q`, topology)
	}
	if c.cluster && opt.DB != 0 {
		return nil, errors.New(`option "db": a Redis Cluster has only database 0`)
	}
	switch write {
	case "merge":
	case "replace":
		c.replace = true
	default:
		return nil, fmt.Errorf(`option "write": want merge or replace, got %q`, write)
	}
	switch fallback {
	case "error", "string":
	default:
		return nil, fmt.Errorf(`option "json_fallback": want error or string, got %q`, fallback)
	}
	switch mode {
	case "hash":
		c.mode = ModeHash
	case "json":
		c.mode = ModeJSON
	default:
		return nil, fmt.Errorf(`option "mode": want hash or json, got %q`, mode)
	}
	if ttl < 0 {
		return nil, errors.New(`option "ttl_seconds" must not be negative`)
	}
	if timeout < 1 {
		return nil, errors.New(`option "timeout_ms" must be at least 1`)
	}
	if opt.DB < 0 {
		return nil, errors.New(`option "db" must not be negative`)
	}
	if cpKey == "" {
		return nil, errors.New(`option "checkpoint_key" must not be empty`)
	}
	var err error
	if c.tmpl, err = parseTemplate(tmplText); err != nil {
		return nil, fmt.Errorf(`option "key_template": %w`, err)
	}
	opt.DialTimeout = time.Duration(timeout) * time.Millisecond
	opt.ReadTimeout = opt.DialTimeout
	opt.WriteTimeout = opt.DialTimeout
	if c.cluster {
		var addrs []string
		for _, a := range strings.Split(opt.Addr, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		c.c = goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: addrs, Username: opt.Username, Password: opt.Password, ClientName: opt.ClientName,
			MaxRetries: opt.MaxRetries, ContextTimeoutEnabled: true, PoolSize: opt.PoolSize, DisableIdentity: true,
			DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
			// MOVED and ASK redirections are followed, not retried.
			MaxRedirects:             3,
			MaintNotificationsConfig: opt.MaintNotificationsConfig,
		})
	} else {
		c.c = goredis.NewClient(opt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opt.DialTimeout)
	defer cancel()
	if err := c.c.Ping(ctx).Err(); err != nil {
		c.c.Close()
		return nil, fmt.Errorf("open %s: %w", opt.Addr, err)
	}
	if c.mode == ModeJSON {
		set, err := c.hasCommand(ctx, "JSON.SET")
		if err != nil {
			c.c.Close()
			return nil, fmt.Errorf("open %s: %w", opt.Addr, err)
		}
		merge, err := c.hasCommand(ctx, "JSON.MERGE")
		if err != nil {
			c.c.Close()
			return nil, fmt.Errorf("open %s: %w", opt.Addr, err)
		}
		switch {
		case set && (merge || c.replace):
		case fallback == "string":
			c.mode = ModeJSONString
		case !set:
			c.c.Close()
			return nil, fmt.Errorf("open %s: mode json needs the JSON module (RedisJSON) on the target, and it has none; load it or set json_fallback: string to store documents as JSON strings", opt.Addr)
		default:
			c.c.Close()
			return nil, fmt.Errorf("open %s: write merge in mode json needs JSON.MERGE (RedisJSON 2.6 or later); upgrade the module, use write: replace, or set json_fallback: string", opt.Addr)
		}
	}
	return c, nil
}

// Mode reports how the connector stores rows (json_fallback may have
// turned mode json into ModeJSONString).
func (c *Connector) Mode() Mode { return c.mode }

func (c *Connector) hasCommand(ctx context.Context, name string) (bool, error) {
	v, err := c.c.Do(ctx, "COMMAND", "INFO", name).Slice()
	if err != nil {
		return false, err
	}
	return len(v) == 1 && v[0] != nil, nil
}

// Close closes the connections.
func (c *Connector) Close() error { return c.c.Close() }

// Checkpoint implements connectors.Connector.
func (c *Connector) Checkpoint(ctx context.Context, stream string) (abi.StreamID, error) {
	s, err := c.c.HGet(ctx, c.cpKey, stream).Result()
	if errors.Is(err, goredis.Nil) {
		return abi.StreamID{}, nil
	}
	if err != nil {
		return abi.StreamID{}, fmt.Errorf("checkpoint %q: %w", stream, err)
	}
	id, ok := abi.ParseStreamID(s)
	if !ok {
		return abi.StreamID{}, fmt.Errorf("checkpoint %q: bad stream ID %q in %s", stream, s, c.cpKey)
	}
	return id, nil
}

// Key returns the key of the row an op writes.
func (c *Connector) Key(op *abi.RowOp) (string, error) { return c.tmpl.key(op) }

// Apply implements connectors.Connector.
func (c *Connector) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return &connectors.BatchError{Index: -1, Err: err}
	}
	keys := make([]string, len(ops))
	for i := range ops {
		if err := validate(&ops[i]); err != nil {
			return &connectors.BatchError{Index: i, Permanent: true, Err: err}
		}
		k, err := c.tmpl.key(&ops[i])
		if err != nil {
			return &connectors.BatchError{Index: i, Permanent: true, Err: err}
		}
		keys[i] = k
	}
	if !c.cluster {
		return c.applyWatched(ctx, ops, keys, cp)
	}
	return c.applyCluster(ctx, ops, keys, cp)
}

// applyWatched applies ops (whose keys all live on one node, or one slot
// in a cluster) in one WATCH/MULTI/EXEC, with the checkpoint when cp has a
// stream.
func (c *Connector) applyWatched(ctx context.Context, ops []abi.RowOp, keys []string, cp connectors.Checkpoint) error {
	unique := make([]string, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, k)
		}
	}
	for attempt := 0; ; attempt++ {
		var berr *connectors.BatchError
		fn := func(tx *goredis.Tx) error {
			berr = c.applyTx(ctx, tx, ops, keys, unique, cp)
			if berr != nil {
				return berr
			}
			return nil
		}
		err := c.c.Watch(ctx, fn, unique...)
		if err == nil {
			return nil
		}
		if berr != nil {
			if errors.Is(berr.Err, goredis.TxFailedErr) && attempt+1 < watchRetries {
				continue
			}
			return berr
		}
		return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: err}
	}
}

// applyCluster applies a batch to a Redis Cluster: one WATCH/MULTI/EXEC
// per hash slot, slots in order of first appearance (the ops of one key
// share its slot, so their order holds), then the checkpoint. The types of
// every key are checked first, so an op refused for good is found before
// anything is written; a failure later (a lost node) may leave the slots
// before it applied, and the retry applies them again (idempotent).
func (c *Connector) applyCluster(ctx context.Context, ops []abi.RowOp, keys []string, cp connectors.Checkpoint) error {
	var slots [][]int
	slotIdx := map[uint16]int{}
	for i, k := range keys {
		s := Slot(k)
		n, ok := slotIdx[s]
		if !ok {
			n = len(slots)
			slotIdx[s] = n
			slots = append(slots, nil)
		}
		slots[n] = append(slots[n], i)
	}
	// Check the types of all keys before writing anything.
	if len(keys) > 0 {
		types := make(map[string]*goredis.StatusCmd, len(keys))
		_, err := c.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range keys {
				if types[k] == nil {
					types[k] = p.Type(ctx, k)
				}
			}
			return nil
		})
		if err != nil {
			return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: err}
		}
		cur := make(map[string]string, len(types))
		for k, cmd := range types {
			cur[k] = cmd.Val()
		}
		if berr := c.check(ops, keys, cur); berr != nil {
			return berr
		}
	}
	for _, idx := range slots {
		sub := make([]abi.RowOp, len(idx))
		subKeys := make([]string, len(idx))
		for j, i := range idx {
			sub[j], subKeys[j] = ops[i], keys[i]
		}
		if err := c.applyWatched(ctx, sub, subKeys, connectors.Checkpoint{}); err != nil {
			var be *connectors.BatchError
			if errors.As(err, &be) && be.Index >= 0 {
				be.Index = idx[be.Index]
			}
			return err
		}
	}
	if cp.Stream == "" {
		return nil
	}
	if err := c.c.HSet(ctx, c.cpKey, cp.Stream, cp.ID.String()).Err(); err != nil {
		return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: fmt.Errorf("checkpoint: %w", err)}
	}
	return nil
}

// keyState is what the batch knows of a key while it checks the ops.
type keyState struct {
	typ string // TYPE reply: none, hash, string, ReJSON-RL, ...
	doc *doc   // ModeJSONString merge: the document as the batch left it
}

func (c *Connector) wantType() string {
	switch c.mode {
	case ModeJSON:
		return "ReJSON-RL"
	case ModeJSONString:
		return "string"
	}
	return "hash"
}

// check checks every op against the type of its key (cur, updated) as
// the batch leaves it: an op on a key of another type, or an insert of an
// existing key, is refused for good.
func (c *Connector) check(ops []abi.RowOp, keys []string, cur map[string]string) *connectors.BatchError {
	want := c.wantType()
	for i := range ops {
		op := &ops[i]
		typ := cur[keys[i]]
		if op.Op != abi.RowDelete && typ != "none" && typ != want {
			return &connectors.BatchError{Index: i, Permanent: true,
				Err: fmt.Errorf("table %q: key %q holds a %s, not a %s (WRONGTYPE)", op.Table, keys[i], typ, want)}
		}
		if op.Op == abi.RowInsert && typ != "none" {
			return &connectors.BatchError{Index: i, Permanent: true,
				Err: fmt.Errorf("table %q: insert of existing key %q", op.Table, keys[i])}
		}
		if op.Op == abi.RowDelete {
			cur[keys[i]] = "none"
		} else {
			cur[keys[i]] = want
		}
	}
	return nil
}

func (c *Connector) applyTx(ctx context.Context, tx *goredis.Tx, ops []abi.RowOp, keys, unique []string, cp connectors.Checkpoint) *connectors.BatchError {
	// Read the types (and, to merge JSON strings, the documents) of the
	// WATCHed keys.
	needDoc := c.mode == ModeJSONString && !c.replace
	state := make(map[string]*keyState, len(unique))
	if len(unique) > 0 {
		types := make([]*goredis.StatusCmd, len(unique))
		docs := make([]*goredis.StringCmd, len(unique))
		// The pipeline's error is its first command's: a GET of a missing
		// key (nil) or of a key of another type (WRONGTYPE, for check to
		// report with its op) is no failure; a TYPE failing is.
		_, _ = tx.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, k := range unique {
				types[i] = p.Type(ctx, k)
				if needDoc {
					docs[i] = p.Get(ctx, k)
				}
			}
			return nil
		})
		for _, cmd := range types {
			if err := cmd.Err(); err != nil {
				return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: err}
			}
		}
		for i, k := range unique {
			st := &keyState{typ: types[i].Val()}
			if needDoc && st.typ == "string" {
				st.doc = &doc{}
				st.doc.raw = docs[i].Val()
			}
			state[k] = st
		}
	}
	cur := make(map[string]string, len(state))
	for k, st := range state {
		cur[k] = st.typ
	}
	if berr := c.check(ops, keys, cur); berr != nil {
		return berr
	}
	type sent struct {
		cmd goredis.Cmder
		op  int
	}
	var cmds []sent
	var perr *connectors.BatchError
	_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for i := range ops {
			add := func(cmd goredis.Cmder) { cmds = append(cmds, sent{cmd, i}) }
			if err := c.queue(ctx, p, &ops[i], keys[i], state[keys[i]], add); err != nil {
				perr = &connectors.BatchError{Index: i, Permanent: true, Err: err}
				return err
			}
		}
		if cp.Stream != "" {
			cmds = append(cmds, sent{p.HSet(ctx, c.cpKey, cp.Stream, cp.ID.String()), -1})
		}
		return nil
	})
	if perr != nil {
		return perr
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, goredis.TxFailedErr) {
		return &connectors.BatchError{Index: -1, Err: err}
	}
	// A command refused while queued aborts the whole EXEC (EXECABORT,
	// nothing applied); name it when we can.
	for _, s := range cmds {
		if cerr := s.cmd.Err(); cerr != nil && !errors.Is(cerr, goredis.Nil) && !strings.HasPrefix(cerr.Error(), "EXECABORT") {
			return &connectors.BatchError{Index: s.op, Permanent: Permanent(cerr), Err: cerr}
		}
	}
	return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: err}
}

// queue adds the commands of one op to the transaction.
func (c *Connector) queue(ctx context.Context, p goredis.Pipeliner, op *abi.RowOp, key string, st *keyState, add func(goredis.Cmder)) error {
	if op.Op == abi.RowDelete {
		add(p.Del(ctx, key))
		st.typ = "none"
		st.doc = nil
		return nil
	}
	switch c.mode {
	case ModeHash:
		fields := make([]any, 0, 2*(len(op.Keys)+len(op.Cols)))
		var nulls []string
		for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
			for _, col := range cols {
				if col.Value.IsNull() {
					nulls = append(nulls, col.Name)
					continue
				}
				fields = append(fields, col.Name, HashValue(col.Value))
			}
		}
		if c.replace {
			add(p.Del(ctx, key))
		} else if len(nulls) > 0 {
			add(p.HDel(ctx, key, nulls...))
		}
		add(p.HSet(ctx, key, fields...))
	case ModeJSON:
		body, err := document(op, !c.replace)
		if err != nil {
			return err
		}
		if c.replace {
			add(p.Do(ctx, "JSON.SET", key, "$", body))
		} else {
			add(p.Do(ctx, "JSON.MERGE", key, "$", body))
		}
	case ModeJSONString:
		if c.replace || st.doc == nil {
			body, err := document(op, false)
			if err != nil {
				return err
			}
			if !c.replace {
				st.doc = &doc{raw: body}
			}
			add(p.Set(ctx, key, body, 0))
			break
		}
		if err := st.doc.merge(op); err != nil {
			return fmt.Errorf("table %q: key %q: %w", op.Table, key, err)
		}
		add(p.Set(ctx, key, st.doc.raw, 0))
	}
	if c.ttl > 0 {
		add(p.Expire(ctx, key, c.ttl))
	}
	st.typ = c.wantType()
	return nil
}

// HashValue is how a value is stored in a hash field: text and bytes as
// they are, integers in decimal, floats in the shortest form that reads
// back exactly ("1", "0.5", "1e+300", "NaN", "+Inf"), booleans as 1 or 0.
func HashValue(v abi.Value) string {
	switch v.Kind() {
	case abi.KindString, abi.KindBytes:
		return v.Str()
	case abi.KindInt:
		return strconv.FormatInt(v.Int(), 10)
	case abi.KindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case abi.KindBool:
		if v.Bool() {
			return "1"
		}
		return "0"
	}
	return ""
}

// appendJSON appends v as JSON: text as a string, bytes as a base64
// string (standard alphabet, padded), integers and booleans as such,
// floats always with a '.' or an exponent (so that 1.0 reads back as a
// float). NaN and infinities have no JSON form and are refused.
func appendJSON(b []byte, v abi.Value) ([]byte, error) {
	switch v.Kind() {
	case abi.KindNull:
		return append(b, "null"...), nil
	case abi.KindString:
		s, err := json.Marshal(v.Str())
		if err != nil {
			return nil, err
		}
		return append(b, s...), nil
	case abi.KindBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, []byte(v.Str()))
		return append(b, '"'), nil
	case abi.KindInt:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case abi.KindFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("float %v has no JSON form", f)
		}
		n := len(b)
		b = strconv.AppendFloat(b, f, 'g', -1, 64)
		if !strings.ContainsAny(string(b[n:]), ".e") {
			b = append(b, ".0"...)
		}
		return b, nil
	case abi.KindBool:
		return strconv.AppendBool(b, v.Bool()), nil
	}
	return nil, fmt.Errorf("unknown value kind %v", v.Kind())
}

// document encodes an op's key columns then its columns as one JSON
// object. NULL columns are left out, or written as null when withNulls
// (JSON.MERGE deletes a field merged with null, RFC 7396).
func document(op *abi.RowOp, withNulls bool) (string, error) {
	b := make([]byte, 0, 64)
	b = append(b, '{')
	first := true
	for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
		for _, col := range cols {
			if col.Value.IsNull() && !withNulls {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			name, _ := json.Marshal(col.Name)
			b = append(b, name...)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, col.Value); err != nil {
				return "", fmt.Errorf("table %q: column %q: %w", op.Table, col.Name, err)
			}
		}
	}
	return string(append(b, '}')), nil
}

// doc is a JSON object kept as its members in order, values as raw JSON.
type doc struct {
	raw    string // the encoded document
	parsed bool
	names  []string
	values []json.RawMessage
}

func (d *doc) parse() error {
	if d.parsed {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(d.raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("the stored string is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("the stored JSON object: %w", err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("the stored JSON object: %w", err)
		}
		d.names = append(d.names, name)
		d.values = append(d.values, v)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("the stored JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the stored string is not one JSON object")
	}
	d.parsed = true
	return nil
}

// merge sets the op's columns in the document (NULL removes the member)
// and re-encodes it.
func (d *doc) merge(op *abi.RowOp) error {
	if err := d.parse(); err != nil {
		return err
	}
	for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
		for _, col := range cols {
			i := 0
			for i < len(d.names) && d.names[i] != col.Name {
				i++
			}
			if col.Value.IsNull() {
				if i < len(d.names) {
					d.names = append(d.names[:i], d.names[i+1:]...)
					d.values = append(d.values[:i], d.values[i+1:]...)
				}
				continue
			}
			v, err := appendJSON(nil, col.Value)
			if err != nil {
				return fmt.Errorf("column %q: %w", col.Name, err)
			}
			if i < len(d.names) {
				d.values[i] = v
			} else {
				d.names = append(d.names, col.Name)
				d.values = append(d.values, v)
			}
		}
	}
	b := []byte{'{'}
	for i, n := range d.names {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(n)
		b = append(b, name...)
		b = append(b, ':')
		b = append(b, d.values[i]...)
	}
	d.raw = string(append(b, '}'))
	return nil
}

// Permanent reports whether err will recur on retry: WRONGTYPE and other
// command errors are permanent; LOADING, BUSY, TRYAGAIN, MASTERDOWN,
// CLUSTERDOWN, READONLY, OOM, a transaction aborted by a WATCHed key,
// connection errors and cancelled contexts are transient.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, goredis.TxFailedErr) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, goredis.ErrClosed) {
		return false
	}
	var re goredis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN", "READONLY", "OOM", "NOREPLICAS", "MOVED", "ASK"} {
		if strings.HasPrefix(msg, p+" ") || msg == p {
			return false
		}
	}
	return true
}

func validate(op *abi.RowOp) error {
	if err := connectors.ValidateOp(op); err != nil {
		return err
	}
	return connectors.ValidateKeys(op)
}
