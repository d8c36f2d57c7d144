// Package mongodb is the MongoDB connector (go.mongodb.org/mongo-driver/v2).
// It registers itself as "mongodb".
//
// Options (see connectors/README.md):
//
//	uri           connection string (default mongodb://127.0.0.1:27017)
//	database      (required)
//	username      (default none: as the uri says)
//	password      (default none; use ${env:NAME} or ${file:/path})
//	auth_source   authentication database (default admin)
//	write         merge or replace (default merge)
//	key_mode      id or fields (default id)
//	transactions  auto, on or off (default auto)
//	timeout_ms    server selection and connect timeout (default 10000)
//
// A table is a collection of the database and a row a document. With
// key_mode id the document's _id is the key value (one key column) or a
// subdocument of the key columns in the op's order (several); with
// key_mode fields the key columns are matched as top-level fields (give
// the collection a unique index on them). The key columns are also stored
// as top-level fields in both modes. An upsert is an UpdateOne with
// upsert, $set of the columns and $unset of the NULL ones (write merge),
// or a ReplaceOne with upsert of the whole row without its NULL columns
// (write replace); a delete is a DeleteOne; an insert an InsertOne (a
// duplicate key, error 11000, is a permanent rejection). Values are BSON
// strings, binary (subtype 0), 64-bit integers, doubles and booleans.
//
// The ops of a batch go as ordered BulkWrites, one per run of consecutive
// ops on one collection. Where the server supports transactions (a replica
// set or a sharded cluster; transactions: auto detects it with hello), the
// BulkWrites and the checkpoint (an upsert of {_id: stream, ms, seq} in
// cogs_checkpoints) run in one session transaction: all or nothing.
// Without transactions (a standalone server, or transactions: off) the
// BulkWrites run on their own and the checkpoint is written after them: a
// failed batch may be partly applied, and the retry applies it again.
// Upserts and deletes are idempotent, so the replay converges; for the
// same reason RowInsert is then written as an upsert (a replayed insert
// would otherwise fail as a duplicate of itself).
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func init() {
	connectors.Register("mongodb", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// checkpointColl is the collection of the checkpoints.
const checkpointColl = "cogs_checkpoints"

// backend is what the connector needs of the driver; tests replace it.
type backend interface {
	// begin starts a session transaction; the returned context carries
	// it. end commits (commit true) or aborts it and ends the session.
	begin(ctx context.Context) (context.Context, func(commit bool) error, error)
	// bulkWrite runs models as one ordered BulkWrite on a collection.
	bulkWrite(ctx context.Context, coll string, models []mongo.WriteModel) error
	// checkpoint reads {ms, seq} of a stream.
	checkpoint(ctx context.Context, stream string) (ms, seq int64, found bool, err error)
	close(ctx context.Context) error
}

// Connector writes to one MongoDB database.
type Connector struct {
	b       backend
	tx      bool
	replace bool
	byID    bool
}

var _ connectors.Connector = (*Connector)(nil)

// Open connects, and with transactions: auto asks the server whether it
// supports them.
func Open(cfg map[string]any) (*Connector, error) {
	o := connectors.NewOptions(cfg)
	uri := o.String("uri", "mongodb://127.0.0.1:27017")
	dbName := o.String("database", "")
	user := o.String("username", "")
	password := o.String("password", "")
	authSource := o.String("auth_source", "admin")
	write := o.String("write", "merge")
	keyMode := o.String("key_mode", "id")
	txMode := o.String("transactions", "auto")
	timeout := o.Int("timeout_ms", 10000)
	if err := o.Err(); err != nil {
		return nil, err
	}
	if dbName == "" {
		return nil, errors.New(`option "database" is required`)
	}
	c := &Connector{}
	switch write {
	case "merge":
	case "replace":
		c.replace = true
	default:
		return nil, fmt.Errorf(`option "write": want merge or replace, got %q`, write)
	}
	switch keyMode {
	case "id":
		c.byID = true
	case "fields":
	default:
		return nil, fmt.Errorf(`option "key_mode": want id or fields, got %q`, keyMode)
	}
	switch txMode {
	case "auto", "on", "off":
	default:
		return nil, fmt.Errorf(`option "transactions": want auto, on or off, got %q`, txMode)
	}
	if timeout < 1 {
		return nil, errors.New(`option "timeout_ms" must be at least 1`)
	}
	d := time.Duration(timeout) * time.Millisecond
	co := options.Client().ApplyURI(uri).SetServerSelectionTimeout(d).SetConnectTimeout(d)
	if user != "" {
		co.SetAuth(options.Credential{Username: user, Password: password, AuthSource: authSource})
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dbName, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d)
	defer cancel()
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	db := client.Database(dbName)
	if err := db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		client.Disconnect(ctx)
		return nil, fmt.Errorf("open %s: %w", dbName, err)
	}
	supported := hello.SetName != "" || hello.Msg == "isdbgrid"
	switch txMode {
	case "auto":
		c.tx = supported
	case "on":
		if !supported {
			client.Disconnect(ctx)
			return nil, fmt.Errorf("open %s: transactions: on, but the server is a standalone (transactions need a replica set or a sharded cluster); use transactions: auto or off", dbName)
		}
		c.tx = true
	}
	c.b = &driverBackend{client: client, db: db}
	return c, nil
}

// Transactions reports whether batches run in transactions.
func (c *Connector) Transactions() bool { return c.tx }

// Close disconnects.
func (c *Connector) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.b.close(ctx)
}

// Checkpoint implements connectors.Connector.
func (c *Connector) Checkpoint(ctx context.Context, stream string) (abi.StreamID, error) {
	ms, seq, found, err := c.b.checkpoint(ctx, stream)
	if err != nil {
		return abi.StreamID{}, fmt.Errorf("checkpoint %q: %w", stream, err)
	}
	if !found {
		return abi.StreamID{}, nil
	}
	return abi.StreamID{Ms: uint64(ms), Seq: uint64(seq)}, nil
}

// run is consecutive ops on one collection.
type run struct {
	coll   string
	first  int // index in the batch of models[0]'s op
	models []mongo.WriteModel
}

// Apply implements connectors.Connector.
func (c *Connector) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return &connectors.BatchError{Index: -1, Err: err}
	}
	runs, err := c.plan(ops)
	if err != nil {
		return err
	}
	var cpModel mongo.WriteModel
	if cp.Stream != "" {
		cpModel = CheckpointModel(cp)
	}
	if !c.tx {
		if err := c.write(ctx, runs); err != nil {
			return err
		}
		if cpModel != nil {
			if err := c.b.bulkWrite(ctx, checkpointColl, []mongo.WriteModel{cpModel}); err != nil {
				return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: fmt.Errorf("checkpoint: %w", err)}
			}
		}
		return nil
	}
	tctx, end, err := c.b.begin(ctx)
	if err != nil {
		return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: fmt.Errorf("start transaction: %w", err)}
	}
	if err := c.write(tctx, runs); err != nil {
		end(false)
		return err
	}
	if cpModel != nil {
		if err := c.b.bulkWrite(tctx, checkpointColl, []mongo.WriteModel{cpModel}); err != nil {
			end(false)
			return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: fmt.Errorf("checkpoint: %w", err)}
		}
	}
	if err := end(true); err != nil {
		return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: fmt.Errorf("commit: %w", err)}
	}
	return nil
}

func (c *Connector) write(ctx context.Context, runs []run) error {
	for _, r := range runs {
		if err := c.b.bulkWrite(ctx, r.coll, r.models); err != nil {
			idx := -1
			var bwe mongo.BulkWriteException
			if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 {
				idx = r.first + bwe.WriteErrors[0].Index
			}
			return &connectors.BatchError{Index: idx, Permanent: Permanent(err), Err: fmt.Errorf("collection %q: %w", r.coll, err)}
		}
	}
	return nil
}

// plan builds the write model of each op and groups them in runs.
func (c *Connector) plan(ops []abi.RowOp) ([]run, error) {
	var runs []run
	for i := range ops {
		op := &ops[i]
		if err := validate(op); err != nil {
			return nil, &connectors.BatchError{Index: i, Permanent: true, Err: err}
		}
		m := c.Model(op)
		if len(runs) == 0 || runs[len(runs)-1].coll != op.Table {
			runs = append(runs, run{coll: op.Table, first: i})
		}
		r := &runs[len(runs)-1]
		r.models = append(r.models, m)
	}
	return runs, nil
}

// CheckpointModel is the write of a checkpoint: an upsert of {_id: stream,
// ms, seq} in cogs_checkpoints.
func CheckpointModel(cp connectors.Checkpoint) mongo.WriteModel {
	return mongo.NewUpdateOneModel().
		SetFilter(bson.D{{Key: "_id", Value: cp.Stream}}).
		SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "ms", Value: int64(cp.ID.Ms)}, {Key: "seq", Value: int64(cp.ID.Seq)}}}}).
		SetUpsert(true)
}

// Model returns the write model of one (valid) op.
func (c *Connector) Model(op *abi.RowOp) mongo.WriteModel {
	filter := c.filter(op)
	kind := op.Op
	if kind == abi.RowInsert && !c.tx {
		kind = abi.RowUpsert
	}
	switch kind {
	case abi.RowDelete:
		return mongo.NewDeleteOneModel().SetFilter(filter)
	case abi.RowInsert:
		return mongo.NewInsertOneModel().SetDocument(c.document(op))
	}
	if c.replace {
		return mongo.NewReplaceOneModel().SetFilter(filter).SetReplacement(c.document(op)).SetUpsert(true)
	}
	set := make(bson.D, 0, len(op.Keys)+len(op.Cols))
	var unset bson.D
	for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
		for _, col := range cols {
			if c.byID && col.Name == "_id" {
				continue
			}
			if col.Value.IsNull() {
				unset = append(unset, bson.E{Key: col.Name, Value: ""})
				continue
			}
			set = append(set, bson.E{Key: col.Name, Value: Value(col.Value)})
		}
	}
	update := bson.D{}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if len(update) == 0 {
		// Only an _id key: create the document, leave an existing one.
		update = bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: Value(op.Keys[0].Value)}}}}
	}
	return mongo.NewUpdateOneModel().SetFilter(filter).SetUpdate(update).SetUpsert(true)
}

// id is the _id of an op's document.
func id(op *abi.RowOp) any {
	if len(op.Keys) == 1 {
		return Value(op.Keys[0].Value)
	}
	d := make(bson.D, len(op.Keys))
	for i, k := range op.Keys {
		d[i] = bson.E{Key: k.Name, Value: Value(k.Value)}
	}
	return d
}

func (c *Connector) filter(op *abi.RowOp) bson.D {
	if c.byID {
		return bson.D{{Key: "_id", Value: id(op)}}
	}
	d := make(bson.D, len(op.Keys))
	for i, k := range op.Keys {
		d[i] = bson.E{Key: k.Name, Value: Value(k.Value)}
	}
	return d
}

// document is the whole row: _id (key_mode id), the key columns, the
// columns that are not NULL.
func (c *Connector) document(op *abi.RowOp) bson.D {
	d := make(bson.D, 0, 1+len(op.Keys)+len(op.Cols))
	if c.byID {
		d = append(d, bson.E{Key: "_id", Value: id(op)})
	}
	for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
		for _, col := range cols {
			if col.Value.IsNull() || (c.byID && col.Name == "_id") {
				continue
			}
			d = append(d, bson.E{Key: col.Name, Value: Value(col.Value)})
		}
	}
	return d
}

// Value converts a value to its BSON form: string, binary (subtype 0),
// int64, double, bool, or nil for NULL.
func Value(v abi.Value) any {
	switch v.Kind() {
	case abi.KindString:
		return v.Str()
	case abi.KindBytes:
		return bson.Binary{Subtype: 0, Data: []byte(v.Str())}
	case abi.KindInt:
		return v.Int()
	case abi.KindFloat:
		return v.Float()
	case abi.KindBool:
		return v.Bool()
	}
	return nil
}

// transientCodes are server error codes worth retrying: elections,
// shutdowns, network and lock trouble, write conflicts, stale routing.
var transientCodes = map[int]bool{
	6: true, 7: true, 24: true, 46: true, 50: true, 63: true, 64: true, 89: true, 91: true,
	112: true, 133: true, 150: true, 189: true, 234: true, 251: true, 262: true, 9001: true,
	10107: true, 11600: true, 11602: true, 13388: true, 13435: true, 13436: true,
}

// Permanent reports whether err will recur on retry. Errors labelled
// TransientTransactionError, RetryableWriteError, NetworkError or
// UnknownTransactionCommitResult, timeouts, network errors, cancelled
// contexts and server errors with a code of transientCodes (elections,
// shutdowns, write conflicts, a write concern timeout, 64) are transient;
// other server errors (duplicate key 11000, document validation 121, bad
// values, an unsatisfiable write concern 100) are permanent, as are
// marshalling errors. Errors of the driver that are none of these (server
// selection) are transient.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var le mongo.LabeledError
	if errors.As(err, &le) {
		for _, l := range []string{"TransientTransactionError", "RetryableWriteError", "NetworkError", "UnknownTransactionCommitResult"} {
			if le.HasErrorLabel(l) {
				return false
			}
		}
	}
	if mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		return false
	}
	var me mongo.MarshalError
	if errors.As(err, &me) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		codes := se.ErrorCodes()
		if len(codes) == 0 {
			return false
		}
		for _, code := range codes {
			if !transientCodes[code] {
				return true
			}
		}
		return false
	}
	return false
}

func validate(op *abi.RowOp) error {
	if err := connectors.ValidateOp(op); err != nil {
		return err
	}
	for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
		for _, c := range cols {
			if c.Name[0] == '$' {
				return fmt.Errorf("table %q: column %q: a field name cannot start with $", op.Table, c.Name)
			}
		}
	}
	return connectors.ValidateKeys(op)
}

// driverBackend is the backend over a real server.
type driverBackend struct {
	client *mongo.Client
	db     *mongo.Database
}

func (d *driverBackend) begin(ctx context.Context) (context.Context, func(bool) error, error) {
	sess, err := d.client.StartSession()
	if err != nil {
		return nil, nil, err
	}
	if err := sess.StartTransaction(); err != nil {
		sess.EndSession(ctx)
		return nil, nil, err
	}
	sctx := mongo.NewSessionContext(ctx, sess)
	return sctx, func(commit bool) error {
		defer sess.EndSession(ctx)
		if commit {
			return sess.CommitTransaction(sctx)
		}
		return sess.AbortTransaction(sctx)
	}, nil
}

func (d *driverBackend) bulkWrite(ctx context.Context, coll string, models []mongo.WriteModel) error {
	_, err := d.db.Collection(coll).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
	return err
}

func (d *driverBackend) checkpoint(ctx context.Context, stream string) (int64, int64, bool, error) {
	var doc struct {
		Ms  int64 `bson:"ms"`
		Seq int64 `bson:"seq"`
	}
	err := d.db.Collection(checkpointColl).FindOne(ctx, bson.D{{Key: "_id", Value: stream}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	return doc.Ms, doc.Seq, true, nil
}

func (d *driverBackend) close(ctx context.Context) error { return d.client.Disconnect(ctx) }
