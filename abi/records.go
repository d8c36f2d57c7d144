package abi

// ChangeOp says what happened to a watched key.
type ChangeOp uint8

const (
	ChangeSet     ChangeOp = 1 // the key was written; the record carries its post-image
	ChangeDelete  ChangeOp = 2 // the key was deleted (DEL, UNLINK, HDEL of the last field, ...)
	ChangeExpired ChangeOp = 3 // the key expired or was evicted (only for triggers with TriggerExpiryDeletes)
)

func (o ChangeOp) String() string {
	switch o {
	case ChangeSet:
		return "set"
	case ChangeDelete:
		return "delete"
	case ChangeExpired:
		return "expired"
	}
	return "op(" + utoa(uint64(o)) + ")"
}

// DataKind is the Redis type a trigger watches.
type DataKind uint8

const (
	DataHash   DataKind = 1 // a hash; the post-image is its fields
	DataJSON   DataKind = 2 // a JSON document (RedisJSON or a string holding JSON); the post-image is Doc
	DataString DataKind = 3 // a plain string; the post-image is Doc
)

func (k DataKind) String() string {
	switch k {
	case DataHash:
		return "hash"
	case DataJSON:
		return "json"
	case DataString:
		return "string"
	}
	return "data(" + utoa(uint64(k)) + ")"
}

// Mode is how a trigger's changes reach the target.
type Mode uint8

const (
	ModeWriteBehind  Mode = 1 // asynchronously, in batches, from the change stream
	ModeWriteThrough Mode = 2 // synchronously, before the Redis write is performed
)

func (m Mode) String() string {
	switch m {
	case ModeWriteBehind:
		return "write-behind"
	case ModeWriteThrough:
		return "write-through"
	}
	return "mode(" + utoa(uint64(m)) + ")"
}

// TriggerFlags are option bits of a trigger; unknown bits are refused.
type TriggerFlags uint8

const (
	// TriggerExpiryDeletes asks for ChangeExpired records when a watched
	// key expires or is evicted. Without it, a key leaving Redis that way
	// is not a change.
	TriggerExpiryDeletes TriggerFlags = 1 << 0

	triggerFlagsKnown = TriggerExpiryDeletes
)

// RowOpKind is what a row operation does to its table.
type RowOpKind uint8

const (
	RowUpsert RowOpKind = 1 // insert, or update the row with the same key columns
	RowDelete RowOpKind = 2 // delete the row with the key columns (Cols must be empty)
	RowInsert RowOpKind = 3 // insert; a duplicate key is a rejection
)

func (k RowOpKind) String() string {
	switch k {
	case RowUpsert:
		return "upsert"
	case RowDelete:
		return "delete"
	case RowInsert:
		return "insert"
	}
	return "rowop(" + utoa(uint64(k)) + ")"
}

// Outcome is what a recipe did with one change.
type Outcome uint8

const (
	OutcomeRows   Outcome = 1 // zero or more row operations
	OutcomeSkip   Outcome = 2 // nothing to write; the change is acknowledged
	OutcomeReject Outcome = 3 // the change is refused; it goes to the dead-letter stream with Reason
)

func (o Outcome) String() string {
	switch o {
	case OutcomeRows:
		return "rows"
	case OutcomeSkip:
		return "skip"
	case OutcomeReject:
		return "reject"
	}
	return "outcome(" + utoa(uint64(o)) + ")"
}

// StreamID is a Redis stream entry ID, <ms>-<seq>.
type StreamID struct {
	Ms  uint64
	Seq uint64
}

// String formats the ID as Redis does.
func (id StreamID) String() string { return utoa(id.Ms) + "-" + utoa(id.Seq) }

// Less reports whether id sorts before other.
func (id StreamID) Less(other StreamID) bool {
	return id.Ms < other.Ms || (id.Ms == other.Ms && id.Seq < other.Seq)
}

// ParseStreamID parses "<ms>-<seq>" (or "<ms>", meaning seq 0).
func ParseStreamID(s string) (StreamID, bool) {
	var id StreamID
	i := 0
	ms, i, ok := parseUint(s, i)
	if !ok {
		return id, false
	}
	id.Ms = ms
	if i == len(s) {
		return id, true
	}
	if s[i] != '-' {
		return id, false
	}
	seq, j, ok := parseUint(s, i+1)
	if !ok || j != len(s) {
		return id, false
	}
	id.Seq = seq
	return id, true
}

func parseUint(s string, i int) (uint64, int, bool) {
	start := i
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, i, false
		}
		v = v*10 + d
		i++
	}
	return v, i, i > start
}

// Field is one field of a hash post-image.
type Field struct {
	Name  string
	Value string
}

// Change is one captured change, as the host hands it to a recipe.
type Change struct {
	Op      ChangeOp
	Data    DataKind
	Trigger uint32 // index of the matching trigger in the recipe's declaration
	ID      StreamID
	Key     string
	Fields  []Field // hash post-image (Op == ChangeSet, Data == DataHash)
	Doc     string  // JSON or string post-image (Op == ChangeSet, Data != DataHash)
}

// Column is a named value of a row operation.
type Column struct {
	Name  string
	Value Value
}

// RowOp is one operation on one row of the target.
type RowOp struct {
	Op    RowOpKind
	Table string
	Keys  []Column // the columns that identify the row; at least one
	Cols  []Column // the other columns to write; empty for RowDelete
}

// Result is what a recipe produced for one change of a batch.
type Result struct {
	Change  uint32 // index of the change in the batch
	Outcome Outcome
	Rows    []RowOp // OutcomeRows
	Reason  string  // OutcomeReject
}

// Trigger is one key-prefix trigger a recipe declares.
type Trigger struct {
	Prefix     string // non-empty key prefix, e.g. "person:"
	Mode       Mode
	Data       DataKind
	Connection string // name of a target connection in the host's configuration
	Flags      TriggerFlags
}

// Param is one optional recipe parameter, such as batch_size.
type Param struct {
	Name  string
	Value Value
}

// Well-known parameters; the host refuses names it does not know.
const (
	ParamBatchSize  = "batch_size"   // int: changes per batch
	ParamBatchAgeMs = "batch_age_ms" // int: milliseconds before a partial batch closes
)

// Recipe is the metadata a recipe declares in cogs_init.
type Recipe struct {
	Name     string
	Version  string // semantic version, MAJOR.MINOR.PATCH
	Triggers []Trigger
	Params   []Param
}

// TriggerFor returns the index of the trigger whose prefix is the longest
// prefix of key (the trigger a change of key belongs to), or -1.
func (r *Recipe) TriggerFor(key string) int {
	best := -1
	for i := range r.Triggers {
		p := r.Triggers[i].Prefix
		if len(p) <= len(key) && key[:len(p)] == p && (best < 0 || len(p) > len(r.Triggers[best].Prefix)) {
			best = i
		}
	}
	return best
}
