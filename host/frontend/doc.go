// Package frontend is the cogs capture front end: a Redis endpoint that
// applications use instead of their Redis, which forwards everything to an
// upstream redis-server and records every write to a watched key, in the
// same atomic unit as the write, in the change stream of the recipe that
// watches it.
//
// # Connections
//
// Every client connection gets its own upstream connection (but see
// "Shared upstream connections" below), opened when the client connects (authenticated with the configured credentials,
// switched to the configured database, and with the capture script
// loaded). Two goroutines serve the pair: the command pump reads the
// client's commands and writes them upstream, the reply pump copies the
// upstream's replies back. A command that is not a watched write is
// forwarded byte for byte; a reply is copied byte for byte and streamed,
// so that a value of tens of megabytes passes through in the memory of one
// buffer. So is a command with a bulk argument of 64 KiB or more that
// passes through; a watched write is gathered whole (up to MaxBulk per
// argument), as it must be rewritten. Nothing counts replies: pipelines,
// MULTI/EXEC, WATCH, SELECT, blocking commands, pub/sub, RESP3 push
// messages, CLIENT commands and HELLO behave exactly as they do on Redis,
// because the upstream connection is the client's own and the replies come
// back in the order it sends them. The commands of a pipeline that are
// already buffered are all forwarded before one flush, and so are the
// replies. A client's RESET is followed by the AUTH and SELECT that open
// the upstream connection, whose replies the client does not see.
//
// # Shared upstream connections
//
// With Config.SharedConns above 0, a client starts without an upstream
// connection of its own: its commands go to one of SharedConns upstream
// connections shared by all clients (mux.go). Its command pump appends
// the commands it has buffered, rewritten as usual, to the shared
// connection's write buffer, with one entry each in the connection's
// queue, saying whose reply comes back in that place. When no command is
// waiting for its reply on the connection, the command pump writes at
// once; otherwise a writer goroutine does, after yielding once, so that
// the commands of every client that arrived meanwhile go out in one write.
// The connection's reader hands each reply to its client's buffer and,
// once it has read everything the upstream sent, writes each client's
// replies itself; a client that does not take them within its write
// deadline (200ms, moved at most every 100ms), or whose unsent replies
// pass 256 KiB, gets them through a writer goroutine of its own until it
// has caught up. So a client that does not read holds up the other
// clients of its shared connection for at most 200ms, once, and then only
// if it leaves 64 MiB of replies unread (below that, cogs buffers them,
// as Redis would).
//
// Only stateless commands go to a shared connection: reads and writes of
// keys, scripts, PING, ECHO, PUBLISH, and HELLO without options. The
// shared connections speak RESP2; HELLO 3 moves a client to shared
// connections that speak RESP3 (as many, dialled when first needed), once
// the replies to its earlier commands are sent, and HELLO 2 back (go-redis
// opens every connection with HELLO). The first other command (MULTI,
// WATCH, SELECT, blocking commands, XREAD, pub/sub, HELLO with AUTH or
// SETNAME, AUTH, CLIENT (so CLIENT SETINFO, which go-redis sends unless
// told not to),
// CONFIG, SCRIPT, RESET, an admin command, an unknown command, a command
// with an argument of 64 KiB or more, ...) moves the client for good to
// an upstream connection of its own (switched to RESP3 first if the
// client is), which then serves it as described above: its command pump
// waits until every reply to its earlier commands has been sent, opens
// the connection, and goes on with that command. The replies keep their
// order. When no shared connection can be opened (an upstream that wants
// a password cogs was not given), clients get dedicated ones at once.
//
// What a client can tell: the id in the reply to a HELLO sent on a shared
// connection is that connection's, while CLIENT ID (which moves the
// client to its own connection) gives its own; CLIENT LIST, INFO clients
// and CLIENT KILL see the shared connections (named "cogs-shared"), and
// killing one ends the clients whose replies were outstanding on it (the
// others move to a new one at their next command); the shared connections
// stay open when clients leave.
//
// Serve first opens one upstream connection as a client's would be opened
// and sends PING (see CheckUpstream): an unreachable upstream, a TLS
// failure or credentials it refuses make Serve fail at once, saying which.
// With Config.TLS set every upstream connection is a TLS connection.
//
// # Admin commands
//
// The commands named in Config.AdminCommands (RECIPE, for the host) are
// answered by cogs, by Config.Admin, and never reach the upstream. Only a
// client that authenticated as the admin user may run them: AUTH
// <AdminUser> <AdminPassword>, or HELLO <2|3> AUTH <AdminUser>
// <AdminPassword> [SETNAME <name>]. cogs answers that AUTH itself ("+OK",
// or Redis's "-WRONGPASS ..." error for a wrong password); for HELLO it
// forwards HELLO <2|3> [SETNAME <name>] without the AUTH, so that the
// protocol switches upstream and the client gets Redis's HELLO reply. The
// upstream connection keeps the configured credentials either way. A
// client that has not authenticated as the admin gets Redis's "-NOPERM
// this user has no permissions to run the 'recipe' command"; with no
// AdminPassword configured, everyone gets an error saying so. RESET logs
// the admin out, as it does a Redis user.
//
// An admin command keeps its place among the replies: the command pump
// sends a marker (see "rgsync's "#" field" below) in its place, flushes,
// and waits until the reply pump reaches it, that is until the replies to
// everything before it are sent; then it calls Admin.Command, which
// replies in the client's protocol, hands the reply to the reply pump,
// and only then reads on. So a RECIPE LOAD applies to the very next
// command. Inside MULTI an admin command (and AUTH as the admin) is
// refused at queue time, so EXEC aborts. The client's protocol is known
// from its HELLOs: outside MULTI, a marker follows each HELLO with a
// protocol version, and the reply pump takes the version if the reply
// before the marker was a HELLO reply (a RESP3 map, or an array whose
// first element is "server") rather than an error.
//
// # Capture
//
// A Watcher says which keys are watched. It is asked for each command
// (never remembered per connection), so a watch that a recipe adds or
// drops at run time applies to the next command of every connection. A command that changes a watched
// key is rewritten into one EVALSHA of the capture script: the script runs
// the command with redis.pcall; if it failed, it returns the command's
// error and records nothing; otherwise it reads the post-image of each
// watched key the command changed, XADDs one entry per key to the stream
// of its watch (in the configured database, whatever database the client
// has selected), and returns the command's own reply, which reaches the
// client as Redis would have sent it. Inside MULTI the EVALSHA is queued
// like any command, so the capture is part of the transaction.
//
// Captured: HSET, HMSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT on hash
// watches; SET (with every option), SETNX, SETEX, PSETEX, GETSET, GETDEL,
// APPEND, SETRANGE, INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT, SETBIT,
// BITFIELD on string and JSON watches; the RedisJSON module's writes
// (JSON.SET, JSON.DEL, JSON.FORGET, JSON.MERGE, JSON.MSET, JSON.NUMINCRBY,
// JSON.NUMMULTBY, JSON.STRAPPEND, JSON.ARRAPPEND, JSON.ARRINSERT,
// JSON.ARRPOP, JSON.ARRTRIM, JSON.CLEAR, JSON.TOGGLE) on JSON watches, whose
// post-image is the whole document (JSON.GET of the key); DEL and UNLINK on
// all, any number of keys. A key of a JSON watch may hold a RedisJSON
// document or a string with the JSON text. A key counts as changed when the
// command succeeded, except for HDEL, HSETNX and SETNX replying 0, SET
// NX/XX and JSON.SET NX/XX not setting, and DEL, UNLINK, GETDEL, JSON.DEL
// and JSON.FORGET of a key that did not exist.
//
// Refused, with a "-COGS <COMMAND> refused: ..." error that names the key
// and the recipe, when a key they would change is watched: every other
// command that writes keys (RENAME, RENAMENX, COPY, MOVE, RESTORE, MIGRATE,
// SORT ... STORE, MSET, MSETNX, list, set, sorted set, stream, geo and
// HyperLogLog writes, *STORE commands, EVAL, EVALSHA and
// FCALL that declare a watched key), and a captured command on a watch of
// another data kind (SET on a hash watch). FLUSHDB, FLUSHALL and SWAPDB are
// refused while the Watcher watches anything (a Watcher with a Len()
// int method watches nothing while it returns 0; any other always
// watches something). EXPIRE and its kin pass: expiry
// is not a delete. Keys a script touches without declaring them cannot be
// seen.
//
// # rgsync's "#" field
//
// As in RedisGears' rgsync, an HSET or HMSET of a watched hash key may
// carry the field "#", whose value says what to do; it is never stored.
// Its first character is the operation:
//
//	=  write to Redis and replicate (what a write without "#" does)
//	+  write to Redis without replicating: no stream entry
//	-  delete the key from Redis without replicating: no stream entry
//	~  delete the key from Redis and replicate the delete
//
// The rest of the value, if any, is a uuid asking for an acknowledgement
// stream, {<key>}<uuid>, which the client may XREAD BLOCK: for "=" and "~"
// the stream entry names it (field "ack") and the applier XADDs "status
// done" to it once the change reached the target, or "status failed error
// <reason>" when the target refused it for good; for "+" and "-", which
// record nothing, the capture script XADDs "status done" at once, as
// rgsync does. Either gives it a TTL of one hour. The capture script does
// it all, the write, the delete, the entry and the acknowledgement, in its
// one atomic unit. For "-" and "~" the other fields are written and then
// the key is deleted, as rgsync does; "#" alone (HSET k # ~) is allowed,
// and with "=" it replicates the key as it is (an entry for its current
// post-image, or a delete if it does not exist).
//
// The reply is that of the command without its "#" field, for every
// operation: for HSET the number of the other fields that were new
// (0 with no other field), for HMSET OK. rgsync itself, which lets Redis
// store "#" and removes it afterwards, replies with "#" counted as a new
// field; we do not count it, as it is never stored. A key of another type
// gets Redis's WRONGTYPE error. When "#" is given more than once the last
// one counts, as the last value of a field does in HSET. A value that is
// empty or starts with another character is refused ("-COGS HSET refused:
// ..."), and so is "#" in HSETNX, HINCRBY and HINCRBYFLOAT on a watched
// key, which would store it. On a key no recipe watches, "#" is an
// ordinary field, as in Redis.
//
// The acknowledgements the script writes go to the key's database; the
// applier writes its own to the configured database (Config.DB), so a
// client that selects another database finds only the former there.
//
// A refusal keeps its place among the replies without counting them: in
// its place the command pump sends the upstream an unknown command whose
// name carries a token secret to the connection, and the reply pump
// replaces the upstream's "unknown command" error for it with the refusal.
// Inside MULTI the unknown command also makes the upstream abort the
// transaction at EXEC (EXECABORT), as Redis does for a command it refuses
// while queueing: a refused write is never executed uncaptured.
//
// A watch may carry a high-water mark (Watch.HighWater): the server polls
// the length of its stream, and while it is at or above the mark, writes
// to the recipe's keys are refused with "-COGSBACKPRESSURE ...".
//
// # Stream entries
//
// Each entry, written with an automatic ID, has these fields, in order:
//
//	op    "set" (the key exists after the command) or "delete" (it does not)
//	key   the key
//	kind  the watch's data kind: "hash", "json" or "string"
//	data  (op "set" only) the post-image:
//	        kind "string", "json": the value, as GET returns it
//	        kind "hash": every field and its value, as HGETALL returns them,
//	        each written as its length in decimal, a colon, and its bytes:
//	        {name: "Ann", age: "42"} is "4:name3:Ann3:age2:42"
//	type  (instead of data, op "set" only) the key's Redis type, when it is
//	      not the one the kind expects (a watched hash key that held a
//	      string before any recipe watched it): there is no post-image, and
//	      the applier should treat the entry as an error
//	ack   (optional, last) the key of the acknowledgement stream the
//	      writer asked for with rgsync's "#" field, {<key>}<uuid>: once the
//	      change reached the target (or was isolated as failing), the
//	      applier XADDs to it "status" "done" (or "status" "failed" "error"
//	      <reason>) and sets its TTL to one hour (EXPIRE 3600)
//
// The hash post-image is one field, rather than one entry field per hash
// field, so that hash fields can never clash with op, key or kind, and so
// that no Lua call needs more arguments than Lua can unpack. DecodeEntry
// decodes an entry into an abi.Change; DecodeEntryAck also returns its
// ack.
//
// # Known differences from Redis
//
//   - CLIENT REPLY OFF and CLIENT REPLY SKIP are refused: the front end
//     relies on a reply to every command it sends upstream.
//   - After SCRIPT FLUSH sent through cogs, captures are sent as EVAL until
//     the script is loaded again. After a SCRIPT FLUSH sent to the upstream
//     by another client, the one watched write in flight fails with
//     Redis's NOSCRIPT error (nothing written, nothing recorded) and the
//     next ones are sent as EVAL: an EVAL retry of the failed one could
//     not keep its place among the commands pipelined after it.
//   - A client that uses client-side caching (CLIENT TRACKING ON, not
//     BCAST) and writes watched keys itself receives invalidation messages
//     Redis alone would not send: Redis remembers the keys the capture
//     script reads (7.0: all the keys it declares, the stream among them)
//     for the client. They are harmless to a cache, but extra.
//   - A protocol error in the middle of a streamed command is answered
//     "-ERR Protocol error: invalid bulk length" whatever the error was.
//   - A captured command takes at most 7000 arguments (Lua's unpack
//     limit); more is refused.
//   - In RESP2 subscribed mode a watched write is refused by Redis as
//     "Can't execute 'evalsha'", not with the command's own name.
//   - A HELLO queued inside MULTI switches the protocol at EXEC, but admin
//     replies keep the protocol of the last HELLO outside MULTI.
//   - A RedisJSON write to a watched key on a Redis without the module is
//     refused by Redis inside the capture script: "ERR Unknown Redis
//     command called from script", instead of "ERR unknown command".
//
// # Write-through keys
//
// A watch with Mode abi.ModeWriteThrough is written through: for a write
// to such a key, once the replies to everything the client sent before are
// on their way, and holding a lock on the key shared by every connection,
// the session runs the command on a copy of the key in one script
// (COPY, or JSON.GET and JSON.SET for a RedisJSON document; the command;
// TYPE and HGETALL, GET or JSON.GET; DEL of the copy) to learn
// the post-image, has Config.WriteThrough apply it to the target, and only
// then sends the command itself; the client gets its reply, or
// "-COGSWRITETHROUGH <reason>" with Redis unchanged. Redis's own errors
// (WRONGTYPE) are returned before the target is asked. Write-through
// writes are refused inside MULTI, with rgsync's "#" field, and when they
// name another key; nothing of them goes to a change stream. A client on a
// shared connection moves to its own first. Writers that bypass cogs are
// not serialised with it.
//
// # rgsync's write-through convention
//
// Clients written against rgsync's write-through send HSET or HMSET to the
// temporary key __{<key>}, with the "#" field (above) whose uuid names the
// acknowledgement stream {<key>}<uuid>. When a write-through watch covers
// <key> (and only then: otherwise __{<key>} is an ordinary key), the
// session does what rgsync does, under the same barrier and key lock as
// any write-through write, and never stores the temporary key: for "="
// (also without "#") it has the target apply <key>'s post-image, its
// current fields with the command's, then writes the fields to <key>; for
// "~" it has the target delete the row, then deletes <key>; "+" writes and
// "-" deletes <key> without the target. One script does the write and the
// acknowledgement: "status done", or "status failed error <reason>" when
// the recipe, the target or Redis refused it (Redis is then unchanged),
// with a TTL of one hour. The reply is rgsync's whatever the outcome:
// what HSET of the new temporary key replies (the number of distinct
// fields, "#" counted) or OK for HMSET; the acknowledgement is how the
// client learns the outcome, as in rgsync. Without a uuid there is no
// acknowledgement, so a failure is the reply instead
// ("-COGSWRITETHROUGH <reason>", or Redis's error). A target that does not
// answer within the timeout is acknowledged as failed, with a reason that
// says the outcome is unknown, as rgsync counts such cases as failures. An
// acknowledgement key that holds something else than a stream fails the
// write before the target is asked, with an error reply. Refused inside
// MULTI, like every write-through write.
//
// Not yet: Redis Cluster (where the acknowledgement stream {<key>}<uuid>
// shares the key's slot only when the key has no hash tag of its own).
package frontend
