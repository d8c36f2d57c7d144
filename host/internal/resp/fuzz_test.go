package resp

import (
	"io"
	"reflect"
	"testing"
)

// fuzzLimits are small, so that fuzzed inputs reach them.
var fuzzLimits = Limits{MaxBulk: 1000, MaxArgs: 100, MaxInline: 200, MaxDepth: 8}

// FuzzReadCommand: whatever the input, ReadCommand and CopyCommand never
// panic, fail only with a ProtocolError or an EOF, agree with each other
// however the input is split, never read past a command (readCommands
// checks that each raw is the input just before where the Reader stopped),
// and the raw bytes of a command read alone give the same command.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
		"*1\r\n$4\r\nPING\r\nPING\r\n*0\r\n",
		"SET k \"a\\x41\\n\" 'it\\'s'\r\n",
		"*1\rX$4\r\nPINGxy",
		"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
		"*1\r\n$-1\r\n",
		"GET a\x00b\r\n",
		"\r\n\n",
		"*-1\r\n*1\r\n$0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := readCommands(t, in, modes[0], fuzzLimits)
		if !isReadError(wantErr) {
			t.Fatalf("error %T %v", wantErr, wantErr)
		}
		for _, m := range modes[1:] {
			got, err := readCommands(t, in, m, fuzzLimits)
			if !reflect.DeepEqual(got, want) || err.Error() != wantErr.Error() {
				t.Fatalf("%s: %+v %v\nwhole: %+v %v", m.name, got, err, want, wantErr)
			}
		}
		for _, m := range []mode{modes[0], modes[3]} {
			got, err := copyCommands(t, in, m, fuzzLimits)
			if len(got) != len(want) || err.Error() != wantErr.Error() {
				t.Fatalf("CopyCommand %s: %+v %v\nReadCommand: %+v %v", m.name, got, err, want, wantErr)
			}
			for i := range got {
				if got[i].raw != want[i].raw || len(got[i].args) != len(want[i].args) || got[i].end != want[i].end {
					t.Fatalf("CopyCommand %s: %+v\nReadCommand: %+v", m.name, got[i], want[i])
				}
			}
		}
		for _, it := range want {
			again, err := readCommands(t, []byte(it.raw), modes[0], fuzzLimits)
			if err != io.EOF || len(again) != 1 || !reflect.DeepEqual(again[0].args, it.args) {
				t.Fatalf("%q read alone: %+v %v, want %q", it.raw, again, err, it.args)
			}
		}
	})
}

// FuzzReadReply: the same for ReadValue and CopyReply; a reply's raw bytes
// read alone give the same Value.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n-ERR x\r\n:1\r\n$3\r\nfoo\r\n$-1\r\n*-1\r\n",
		"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
		"_\r\n#t\r\n,3.14\r\n(123\r\n!3\r\nERR\r\n=7\r\ntxt:abc\r\n",
		"%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n",
		"|1\r\n+a\r\n+b\r\n>2\r\n+message\r\n+x\r\n",
		"*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n",
		"$?\r\n;1\r\na\r\n;0\r\n",
		"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := readReplies(t, in, modes[0], fuzzLimits)
		if !isReadError(wantErr) {
			t.Fatalf("error %T %v", wantErr, wantErr)
		}
		for _, m := range modes[1:] {
			got, err := readReplies(t, in, m, fuzzLimits)
			if !reflect.DeepEqual(got, want) || err.Error() != wantErr.Error() {
				t.Fatalf("%s: %+v %v\nwhole: %+v %v", m.name, got, err, want, wantErr)
			}
		}
		for _, m := range []mode{modes[0], modes[3]} {
			got, err := copyReplies(t, in, m, fuzzLimits)
			if len(got) != len(want) || err.Error() != wantErr.Error() {
				t.Fatalf("CopyReply %s: %+v %v\nReadValue: %+v %v", m.name, got, err, want, wantErr)
			}
			for i := range got {
				if got[i].raw != want[i].raw || got[i].kind != want[i].kind || got[i].end != want[i].end {
					t.Fatalf("CopyReply %s: %+v\nReadValue: %+v", m.name, got[i], want[i])
				}
			}
		}
		for _, it := range want {
			again, err := readReplies(t, []byte(it.raw), modes[0], fuzzLimits)
			if err != io.EOF || len(again) != 1 || again[0].val != it.val {
				t.Fatalf("%q read alone: %+v %v, want %s", it.raw, again, err, it.val)
			}
		}
	})
}
