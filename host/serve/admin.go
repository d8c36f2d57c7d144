package serve

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cogs-dev/cogs/host/frontend"
)

// admin answers the RECIPE commands on the cogs port (frontend.Admin):
//
//	RECIPE LOAD [REPLACE] [CONFIG <config>] <wasm>
//	RECIPE LIST [WITHSTATS]
//	RECIPE STATUS <name>
//	RECIPE DELETE <name> [PURGE]
//	RECIPE DLQ <name> LIST|SHOW|REPLAY|DROP ...
//	RECIPE HELP
type admin struct {
	reg *Registry
}

const recipeHelp = `RECIPE <subcommand> [<arg> ...]. Subcommands are:
LOAD [REPLACE] [CONFIG <config>] <wasm>
    Load a recipe module, or replace the loaded recipe of the same name by a higher version (any version with REPLACE). Replies with its name and version.
LIST [WITHSTATS]
    The loaded recipes, with their stream statistics WITHSTATS.
STATUS <name>
    One recipe: version, triggers, stream, lag, counters.
DELETE <name> [PURGE]
    Stop a recipe's triggers and applier; PURGE also deletes its stream and dead-letter stream.
DLQ <name> LIST [COUNT <n>] [FROM <id>]
    The recipe's dead-lettered changes: id, key, op, stage, error.
DLQ <name> SHOW <id>
    One dead-lettered change, every field.
DLQ <name> REPLAY ALL|<id> [<id> ...]
    Capture the keys of these changes again, with their current state, and remove the entries.
DLQ <name> DROP ALL|<id> [<id> ...]
    Delete these entries.
HELP
    This text.`

func (a *admin) Command(ctx context.Context, args [][]byte, c *frontend.ClientInfo) []byte {
	if len(args) < 2 {
		return frontend.AppendError(nil, "ERR wrong number of arguments for 'recipe' command")
	}
	sub := strings.ToUpper(string(args[1]))
	rest := args[2:]
	switch sub {
	case "LOAD":
		return a.load(ctx, rest, c)
	case "LIST":
		stats := false
		for _, o := range rest {
			if !strings.EqualFold(string(o), "WITHSTATS") {
				return frontend.AppendError(nil, "ERR RECIPE LIST: unknown option '"+string(o)+"'")
			}
			stats = true
		}
		list := a.reg.List()
		b := frontend.AppendArray(nil, len(list))
		for _, in := range list {
			b = a.appendInfo(ctx, b, in, stats, c.Proto)
		}
		return b
	case "STATUS":
		if len(rest) != 1 {
			return frontend.AppendError(nil, "ERR wrong number of arguments for 'recipe|status' command")
		}
		in, err := a.reg.Status(string(rest[0]))
		if err != nil {
			return replyErr(err)
		}
		return a.appendInfo(ctx, nil, in, true, c.Proto)
	case "DELETE":
		if len(rest) < 1 || len(rest) > 2 {
			return frontend.AppendError(nil, "ERR wrong number of arguments for 'recipe|delete' command")
		}
		purge := false
		if len(rest) == 2 {
			if !strings.EqualFold(string(rest[1]), "PURGE") {
				return frontend.AppendError(nil, "ERR RECIPE DELETE: unknown option '"+string(rest[1])+"'")
			}
			purge = true
		}
		if err := a.reg.Delete(ctx, string(rest[0]), purge); err != nil {
			return replyErr(err)
		}
		return frontend.AppendSimple(nil, "OK")
	case "DLQ":
		return a.dlq(ctx, rest, c)
	case "HELP":
		lines := strings.Split(recipeHelp, "\n")
		b := frontend.AppendArray(nil, len(lines))
		for _, l := range lines {
			b = frontend.AppendSimple(b, l)
		}
		return b
	}
	return frontend.AppendError(nil, "ERR unknown subcommand '"+string(args[1])+"'. Try RECIPE HELP.")
}

func (a *admin) load(ctx context.Context, args [][]byte, c *frontend.ClientInfo) []byte {
	var opts LoadOptions
	var conf []byte
	i := 0
	for ; i < len(args)-1; i++ {
		switch strings.ToUpper(string(args[i])) {
		case "REPLACE":
			opts.Replace = true
		case "CONFIG":
			if i+2 > len(args)-1 {
				return frontend.AppendError(nil, "ERR RECIPE LOAD: CONFIG needs a value, before the module")
			}
			conf = append([]byte(nil), args[i+1]...)
			i++
		default:
			return frontend.AppendError(nil, "ERR RECIPE LOAD: unknown option '"+string(args[i])+"' (the module comes last)")
		}
	}
	if i != len(args)-1 {
		return frontend.AppendError(nil, "ERR wrong number of arguments for 'recipe|load' command")
	}
	wasm := append([]byte(nil), args[i]...)
	opts.Source = "RECIPE LOAD from " + c.Addr
	res, err := a.reg.Load(ctx, wasm, conf, opts)
	if err != nil {
		return replyErr(err)
	}
	b := frontend.AppendMap(nil, 3, c.Proto)
	b = frontend.AppendBulkString(b, "name")
	b = frontend.AppendBulkString(b, res.Recipe.Name)
	b = frontend.AppendBulkString(b, "version")
	b = frontend.AppendBulkString(b, res.Recipe.Version)
	b = frontend.AppendBulkString(b, "replaced")
	if res.Previous == "" {
		b = frontend.AppendNull(b, c.Proto)
	} else {
		b = frontend.AppendBulkString(b, res.Previous)
	}
	return b
}

func replyErr(err error) []byte {
	var re *RefusedError
	switch {
	case errors.As(err, &re):
		return frontend.AppendError(nil, "ERR recipe refused ("+re.Reason+"): "+oneLine(re.Err.Error()))
	case errors.Is(err, ErrNoRecipe):
		return frontend.AppendError(nil, "ERR "+err.Error())
	}
	return frontend.AppendError(nil, "ERR "+oneLine(err.Error()))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// pair is a key and its value in a map reply: string, int64 or []string.
type pair struct {
	k string
	v any
}

// appendInfo appends a recipe's description: a map, whose length is
// counted from the pairs it holds.
func (a *admin) appendInfo(ctx context.Context, b []byte, in Info, stats bool, proto int) []byte {
	triggers := make([]string, len(in.Triggers))
	for i, t := range in.Triggers {
		triggers[i] = t.Prefix + " " + t.Mode.String() + " " + t.Data.String() + " -> " + t.Connection
	}
	pairs := []pair{
		{"name", in.Name},
		{"version", in.Version},
		{"triggers", triggers},
		{"source", in.Source},
		{"loaded_at", in.LoadedAt.UTC().Format(time.RFC3339)},
		{"stream", in.Keys.Stream},
	}
	if stats {
		st := in.Stats
		sv := a.reg.streamView(ctx, in)
		pairs = append(pairs, []pair{
			{"state", string(st.State)},
			{"last_error", st.LastError},
			{"stream_length", sv.length},
			{"pending", sv.pending},
			{"lag_ms", sv.oldest.Milliseconds()},
			{"dlq", in.Keys.DLQ},
			{"dlq_length", sv.dlq},
			{"read", int64(st.Read)},
			{"applied", int64(st.Applied)},
			{"coalesced", int64(st.Coalesced)},
			{"skipped", int64(st.Skipped)},
			{"failed", int64(st.Failed)},
			{"rows_upserted", int64(st.Upserts)},
			{"rows_deleted", int64(st.Deletes)},
			{"last_applied", st.LastApplied.String()},
			{"rows_per_second", strconv.FormatFloat(st.RowsPerSecond, 'f', 1, 64)},
		}...)
	}
	b = frontend.AppendMap(b, len(pairs), proto)
	for _, p := range pairs {
		b = frontend.AppendBulkString(b, p.k)
		switch v := p.v.(type) {
		case string:
			b = frontend.AppendBulkString(b, v)
		case int64:
			b = frontend.AppendInt(b, v)
		case []string:
			b = frontend.AppendArray(b, len(v))
			for _, s := range v {
				b = frontend.AppendBulkString(b, s)
			}
		}
	}
	return b
}

func (a *admin) dlq(ctx context.Context, args [][]byte, c *frontend.ClientInfo) []byte {
	if len(args) < 2 {
		return frontend.AppendError(nil, "ERR wrong number of arguments for 'recipe|dlq' command")
	}
	name, op, rest := string(args[0]), strings.ToUpper(string(args[1])), args[2:]
	switch op {
	case "LIST":
		count, start := int64(100), "-"
		for i := 0; i < len(rest); i += 2 {
			if i+1 >= len(rest) {
				return frontend.AppendError(nil, "ERR RECIPE DLQ LIST: "+string(rest[i])+" needs a value")
			}
			switch strings.ToUpper(string(rest[i])) {
			case "COUNT":
				n, err := strconv.ParseInt(string(rest[i+1]), 10, 64)
				if err != nil || n <= 0 {
					return frontend.AppendError(nil, "ERR RECIPE DLQ LIST: COUNT must be a positive integer")
				}
				count = n
			case "FROM":
				start = string(rest[i+1])
			default:
				return frontend.AppendError(nil, "ERR RECIPE DLQ LIST: unknown option '"+string(rest[i])+"'")
			}
		}
		dl, err := a.reg.DeadLetters(ctx, name, start, count)
		if err != nil {
			return replyErr(err)
		}
		b := frontend.AppendArray(nil, len(dl))
		for _, d := range dl {
			b = frontend.AppendMap(b, 5, c.Proto)
			for _, kv := range [][2]string{{"id", d.ID}, {"key", d.Fields["key"]}, {"op", d.Fields["op"]}, {"stage", d.Fields["stage"]}, {"error", d.Fields["error"]}} {
				b = frontend.AppendBulkString(b, kv[0])
				b = frontend.AppendBulkString(b, kv[1])
			}
		}
		return b
	case "SHOW":
		if len(rest) != 1 {
			return frontend.AppendError(nil, "ERR wrong number of arguments for 'recipe|dlq|show' command")
		}
		dl, err := a.reg.DeadLetters(ctx, name, string(rest[0]), 1)
		if err != nil {
			return replyErr(err)
		}
		if len(dl) == 0 || dl[0].ID != string(rest[0]) {
			return frontend.AppendError(nil, "ERR no dead-lettered change "+string(rest[0])+" for recipe "+name)
		}
		keys := slices.Sorted(maps.Keys(dl[0].Fields))
		b := frontend.AppendMap(nil, len(keys)+1, c.Proto)
		b = frontend.AppendBulkString(b, "id")
		b = frontend.AppendBulkString(b, dl[0].ID)
		for _, k := range keys {
			b = frontend.AppendBulkString(b, k)
			b = frontend.AppendBulkString(b, dl[0].Fields[k])
		}
		return b
	case "REPLAY", "DROP":
		if len(rest) == 0 {
			return frontend.AppendError(nil, "ERR RECIPE DLQ "+op+": give ALL or the IDs")
		}
		var ids []string
		if !(len(rest) == 1 && strings.EqualFold(string(rest[0]), "ALL")) {
			for _, id := range rest {
				ids = append(ids, string(id))
			}
		}
		var n int64
		var err error
		if op == "REPLAY" {
			n, err = a.reg.ReplayDeadLetters(ctx, name, ids)
		} else {
			n, err = a.reg.DropDeadLetters(ctx, name, ids)
		}
		if err != nil {
			return replyErr(err)
		}
		return frontend.AppendInt(nil, n)
	}
	return frontend.AppendError(nil, "ERR RECIPE DLQ: unknown operation '"+string(args[1])+"' (LIST, SHOW, REPLAY, DROP)")
}
