package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
)

const (
	abiMajor = abi.VersionMajor
	abiMinor = abi.VersionMinor
)

// changeLine is one line of a --changes file.
type changeLine struct {
	ID     string            `json:"id"`     // stream ID, default <line>-0
	Key    string            `json:"key"`    // required
	Op     string            `json:"op"`     // set (default), delete, expired
	Fields map[string]string `json:"fields"` // hash post-image
	Doc    json.RawMessage   `json:"doc"`    // JSON post-image (a JSON value) or string post-image (a JSON string)
}

func recipeTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cogs recipe test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "file with the recipe's load-time configuration (as CONFIG of RECIPE LOAD)")
	changesFile := fs.String("changes", "", "JSON Lines file of changes, one per line: "+
		`{"key": "person:1", "fields": {"age": "42"}}, {"key": "person:1", "op": "delete"}, {"key": "movie:1", "doc": {...}}; "-" reads standard input`)
	asJSON := fs.Bool("json", false, "print one JSON object per change instead of text")
	batch := fs.Int("batch", 1000, "changes per map call")
	timeout := fs.Duration("timeout", 5*time.Second, "deadline of one map call")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cogs recipe test FILE.wasm --changes FILE.jsonl [--config FILE] [--json]\n\n"+
			"Runs the recipe over the changes with no Redis and no database and prints, per change,\n"+
			"the row operations it would write, or that it skipped or rejected the change.\n"+
			"Exit status: 0 the recipe ran (rejections included), 1 it failed to load or map, 2 usage.\n\n")
		fs.PrintDefaults()
	}
	// Accept the file before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if file == "" || *changesFile == "" || *batch < 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cogs recipe test: %v\n", err)
		return 1
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	var config []byte
	if *configFile != "" {
		if config, err = os.ReadFile(*configFile); err != nil {
			return fail(err)
		}
	}
	changes, err := readChanges(*changesFile)
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{MapTimeout: *timeout, PoolSize: 1})
	if err != nil {
		return fail(err)
	}
	defer e.Close(ctx)
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	r, err := e.Load(ctx, name, wasm, config)
	if err != nil {
		return fail(err)
	}
	meta := r.Meta()
	if !*asJSON {
		fmt.Fprintln(stdout, abi.RecipeText(&meta))
	}
	for i := range changes {
		if err := resolveTrigger(&meta, &changes[i]); err != nil {
			return fail(err)
		}
	}
	for start := 0; start < len(changes); start += *batch {
		end := min(start+*batch, len(changes))
		results, err := r.Map(ctx, changes[start:end])
		if err != nil {
			return fail(err)
		}
		for i := range results {
			c := &changes[start+i]
			results[i].Change = uint32(start + i)
			if *asJSON {
				printJSON(stdout, c, &results[i])
			} else {
				text := abi.ResultText(&results[i])
				fmt.Fprintf(stdout, "%s %s: %s\n", c.ID, quote(c.Key), text[strings.Index(text, "outcome="):])
			}
		}
	}
	return 0
}

func quote(s string) string { return string(abi.AppendQuoted(nil, s)) }

// resolveTrigger sets the change's trigger, the one whose prefix is the
// longest that the key has (as the host picks it), and its data kind.
func resolveTrigger(meta *abi.Recipe, c *abi.Change) error {
	i := meta.TriggerFor(c.Key)
	if i < 0 {
		return fmt.Errorf("change %s: key %q matches no trigger of recipe %q", c.ID, c.Key, meta.Name)
	}
	t := &meta.Triggers[i]
	c.Trigger = uint32(i)
	c.Data = t.Data
	if c.Op == abi.ChangeSet && t.Data != abi.DataHash && len(c.Fields) > 0 {
		return fmt.Errorf("change %s of key %q has fields, but trigger %q watches %s keys (give doc instead)", c.ID, c.Key, t.Prefix, t.Data)
	}
	return nil
}

func readChanges(path string) ([]abi.Change, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	var changes []abi.Change
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var cl changeLine
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cl); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		c, err := cl.change(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		changes = append(changes, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(changes) == 0 {
		return nil, fmt.Errorf("%s: no changes", path)
	}
	return changes, nil
}

func (cl *changeLine) change(line int) (abi.Change, error) {
	c := abi.Change{Key: cl.Key, Data: abi.DataHash}
	if cl.Key == "" {
		return c, errors.New(`"key" is required`)
	}
	switch cl.Op {
	case "", "set":
		c.Op = abi.ChangeSet
	case "delete":
		c.Op = abi.ChangeDelete
	case "expired":
		c.Op = abi.ChangeExpired
	default:
		return c, fmt.Errorf(`"op" must be set, delete or expired, not %q`, cl.Op)
	}
	if cl.ID == "" {
		c.ID = abi.StreamID{Ms: uint64(line)}
	} else {
		id, ok := abi.ParseStreamID(cl.ID)
		if !ok {
			return c, fmt.Errorf(`"id" %q is not a stream ID (<ms>-<seq>)`, cl.ID)
		}
		c.ID = id
	}
	names := make([]string, 0, len(cl.Fields))
	for n := range cl.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.Fields = append(c.Fields, abi.Field{Name: n, Value: cl.Fields[n]})
	}
	if len(cl.Doc) > 0 {
		var s string
		if json.Unmarshal(cl.Doc, &s) == nil {
			c.Doc = s // a string post-image, or a JSON document given as a string
		} else {
			c.Doc = string(cl.Doc)
		}
	}
	if c.Op != abi.ChangeSet && (len(c.Fields) > 0 || c.Doc != "") {
		return c, fmt.Errorf("a %s change carries no fields or doc", cl.Op)
	}
	return c, nil
}

type jsonColumn struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Value any    `json:"value"`
}

type jsonRow struct {
	Op    string       `json:"op"`
	Table string       `json:"table"`
	Keys  []jsonColumn `json:"keys"`
	Cols  []jsonColumn `json:"cols"`
}

func jsonColumns(cols []abi.Column) []jsonColumn {
	out := make([]jsonColumn, len(cols))
	for i, c := range cols {
		out[i] = jsonColumn{Name: c.Name, Kind: c.Value.Kind().String()}
		switch c.Value.Kind() {
		case abi.KindString:
			out[i].Value = c.Value.Str()
		case abi.KindBytes:
			out[i].Value = []byte(c.Value.Str())
		case abi.KindInt:
			out[i].Value = c.Value.Int()
		case abi.KindFloat:
			out[i].Value = c.Value.Float()
		case abi.KindBool:
			out[i].Value = c.Value.Bool()
		}
	}
	return out
}

func printJSON(w io.Writer, c *abi.Change, r *abi.Result) {
	v := struct {
		ID      string    `json:"id"`
		Key     string    `json:"key"`
		Outcome string    `json:"outcome"`
		Rows    []jsonRow `json:"rows,omitempty"`
		Reason  string    `json:"reason,omitempty"`
	}{ID: c.ID.String(), Key: c.Key, Outcome: r.Outcome.String(), Reason: r.Reason}
	for _, op := range r.Rows {
		v.Rows = append(v.Rows, jsonRow{Op: op.Op.String(), Table: op.Table, Keys: jsonColumns(op.Keys), Cols: jsonColumns(op.Cols)})
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only a NaN or infinite float can fail; say so rather than drop the line.
		b, _ = json.Marshal(map[string]string{"id": v.ID, "key": v.Key, "error": err.Error()})
	}
	fmt.Fprintf(w, "%s\n", b)
}
