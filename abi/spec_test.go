package abi

import (
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// specNumbers maps each name of the "| name | value |" table of SPEC.md to
// the Go constant it documents.
var specNumbers = map[string]uint64{
	"ABI_VERSION_MAJOR": VersionMajor,
	"ABI_VERSION_MINOR": VersionMinor,

	"STATUS_OK":               uint64(StatusOK),
	"STATUS_NOT_FOUND":        uint64(StatusNotFound),
	"STATUS_BUFFER_TOO_SMALL": uint64(StatusBufferTooSmall),
	"STATUS_BAD_POINTER":      uint64(StatusBadPointer),
	"STATUS_BAD_ENCODING":     uint64(StatusBadEncoding),
	"STATUS_BAD_PHASE":        uint64(StatusBadPhase),
	"STATUS_LIMIT_EXCEEDED":   uint64(StatusLimitExceeded),
	"STATUS_BAD_ARGUMENT":     uint64(StatusBadArgument),
	"STATUS_RECIPE_ERROR":     uint64(StatusRecipeError),

	"LOG_TRACE": uint64(LogTrace),
	"LOG_DEBUG": uint64(LogDebug),
	"LOG_INFO":  uint64(LogInfo),
	"LOG_WARN":  uint64(LogWarn),
	"LOG_ERROR": uint64(LogError),

	"VALUE_NULL":   uint64(KindNull),
	"VALUE_STRING": uint64(KindString),
	"VALUE_BYTES":  uint64(KindBytes),
	"VALUE_INT":    uint64(KindInt),
	"VALUE_FLOAT":  uint64(KindFloat),
	"VALUE_BOOL":   uint64(KindBool),

	"CHANGE_SET":     uint64(ChangeSet),
	"CHANGE_DELETE":  uint64(ChangeDelete),
	"CHANGE_EXPIRED": uint64(ChangeExpired),

	"DATA_HASH":   uint64(DataHash),
	"DATA_JSON":   uint64(DataJSON),
	"DATA_STRING": uint64(DataString),

	"MODE_WRITE_BEHIND":  uint64(ModeWriteBehind),
	"MODE_WRITE_THROUGH": uint64(ModeWriteThrough),

	"TRIGGER_FLAG_EXPIRY_DELETES": uint64(TriggerExpiryDeletes),

	"ROW_UPSERT": uint64(RowUpsert),
	"ROW_DELETE": uint64(RowDelete),
	"ROW_INSERT": uint64(RowInsert),

	"OUTCOME_ROWS":   uint64(OutcomeRows),
	"OUTCOME_SKIP":   uint64(OutcomeSkip),
	"OUTCOME_REJECT": uint64(OutcomeReject),

	"MAX_NAME_LEN":    MaxNameLen,
	"MAX_LOG_LEN":     MaxLogLen,
	"MAX_FAIL_LEN":    MaxFailLen,
	"MAX_REASON_LEN":  MaxReasonLen,
	"MAX_RECORD_LEN":  MaxRecordLen,
	"MAX_PUSH_LEN":    MaxPushLen,
	"MAX_DECLARE_LEN": MaxDeclareLen,
}

// specStrings maps each name of the "| name | string |" table of SPEC.md
// to the Go constant it documents.
var specStrings = map[string]string{
	"IMPORT_MODULE":         ImportModule,
	"VERSION_EXPORT_PREFIX": VersionExportPrefix,
	"EXPORT_INITIALIZE":     ExportInitialize,
	"EXPORT_INIT":           ExportInit,
	"EXPORT_MAP":            ExportMap,
	"EXPORT_MEMORY":         ExportMemory,
	"FUNC_CONFIG_GET":       FuncConfigGet,
	"FUNC_DECLARE":          FuncDeclare,
	"FUNC_CHANGE_GET":       FuncChangeGet,
	"FUNC_RESULT_PUSH":      FuncResultPush,
	"FUNC_LOG":              FuncLog,
	"FUNC_FAIL":             FuncFail,
	"PARAM_BATCH_SIZE":      ParamBatchSize,
	"PARAM_BATCH_AGE_MS":    ParamBatchAgeMs,
}

// specTable returns the rows of the one table of SPEC.md whose header row
// is exactly header, as name -> cell. It fails on a missing or repeated
// table, a malformed row or a repeated name.
func specTable(t *testing.T, spec, header string) map[string]string {
	t.Helper()
	lines := strings.Split(spec, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == header {
			if start >= 0 {
				t.Fatalf("SPEC.md has two tables headed %q", header)
			}
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("SPEC.md has no table headed %q", header)
	}
	if start+1 >= len(lines) || strings.Trim(strings.TrimSpace(lines[start+1]), "|-: ") != "" {
		t.Fatalf("table %q: no separator row", header)
	}
	rows := map[string]string{}
	for _, l := range lines[start+2:] {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 2 {
			t.Errorf("table %q: row %q does not have two cells", header, l)
			continue
		}
		name, value := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])
		if strings.ContainsAny(name+value, "`") {
			t.Errorf("table %q: row %q has backquotes", header, l)
		}
		if _, dup := rows[name]; dup {
			t.Errorf("table %q: %s listed twice", header, name)
		}
		rows[name] = value
	}
	return rows
}

func readSpec(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestSpecConstants checks the constants tables of SPEC.md against the
// package, in both directions.
func TestSpecConstants(t *testing.T) {
	spec := readSpec(t)

	nums := specTable(t, spec, "| name | value |")
	for _, name := range sortedKeys(nums) {
		want, ok := specNumbers[name]
		if !ok {
			t.Errorf("SPEC.md lists %s = %s, which has no Go constant", name, nums[name])
			continue
		}
		got, err := strconv.ParseUint(nums[name], 10, 64)
		if err != nil || strconv.FormatUint(got, 10) != nums[name] {
			t.Errorf("SPEC.md: %s = %q is not a plain decimal number", name, nums[name])
			continue
		}
		if got != want {
			t.Errorf("SPEC.md: %s = %d, Go constant = %d", name, got, want)
		}
	}
	for _, name := range sortedKeys(specNumbers) {
		if _, ok := nums[name]; !ok {
			t.Errorf("SPEC.md does not list %s = %d", name, specNumbers[name])
		}
	}

	strs := specTable(t, spec, "| name | string |")
	for _, name := range sortedKeys(strs) {
		want, ok := specStrings[name]
		if !ok {
			t.Errorf("SPEC.md lists %s = %q, which has no Go constant", name, strs[name])
			continue
		}
		if strs[name] != want {
			t.Errorf("SPEC.md: %s = %q, Go constant = %q", name, strs[name], want)
		}
	}
	for _, name := range sortedKeys(specStrings) {
		if _, ok := strs[name]; !ok {
			t.Errorf("SPEC.md does not list %s = %q", name, specStrings[name])
		}
	}
}

// TestSpecStatusNames checks that each STATUS_<X> constant is the status
// whose String is X, so the names in SPEC.md are those the host prints.
func TestSpecStatusNames(t *testing.T) {
	n := 0
	for name, v := range specNumbers {
		if rest, ok := strings.CutPrefix(name, "STATUS_"); ok {
			n++
			if got := Status(v).String(); got != rest {
				t.Errorf("%s: Status(%d).String() = %q", name, v, got)
			}
		}
	}
	if n != 9 {
		t.Errorf("%d statuses, want 9", n)
	}
}

// TestSpecMentionsEveryFunction checks that SPEC.md has a section for every
// host function and recipe export.
func TestSpecMentionsEveryFunction(t *testing.T) {
	spec := readSpec(t)
	for _, name := range []string{FuncConfigGet, FuncDeclare, FuncChangeGet, FuncResultPush, FuncLog, FuncFail, ExportInitialize, ExportInit, ExportMap} {
		if !strings.Contains(spec, "\n### `"+name+"`\n") {
			t.Errorf("SPEC.md has no section \"### `%s`\"", name)
		}
	}
}

// goConstToSpec names, for every exported constant of the package, the
// row of SPEC.md that documents it. TestSpecCoversEveryConstant keeps it
// complete, so a constant added to the package without a row fails.
var goConstToSpec = map[string]string{
	"VersionMajor": "ABI_VERSION_MAJOR", "VersionMinor": "ABI_VERSION_MINOR",

	"ImportModule": "IMPORT_MODULE", "VersionExportPrefix": "VERSION_EXPORT_PREFIX",
	"ExportInitialize": "EXPORT_INITIALIZE", "ExportInit": "EXPORT_INIT",
	"ExportMap": "EXPORT_MAP", "ExportMemory": "EXPORT_MEMORY",
	"FuncConfigGet": "FUNC_CONFIG_GET", "FuncDeclare": "FUNC_DECLARE",
	"FuncChangeGet": "FUNC_CHANGE_GET", "FuncResultPush": "FUNC_RESULT_PUSH",
	"FuncLog": "FUNC_LOG", "FuncFail": "FUNC_FAIL",
	"ParamBatchSize": "PARAM_BATCH_SIZE", "ParamBatchAgeMs": "PARAM_BATCH_AGE_MS",

	"StatusOK": "STATUS_OK", "StatusNotFound": "STATUS_NOT_FOUND",
	"StatusBufferTooSmall": "STATUS_BUFFER_TOO_SMALL", "StatusBadPointer": "STATUS_BAD_POINTER",
	"StatusBadEncoding": "STATUS_BAD_ENCODING", "StatusBadPhase": "STATUS_BAD_PHASE",
	"StatusLimitExceeded": "STATUS_LIMIT_EXCEEDED", "StatusBadArgument": "STATUS_BAD_ARGUMENT",
	"StatusRecipeError": "STATUS_RECIPE_ERROR",

	"LogTrace": "LOG_TRACE", "LogDebug": "LOG_DEBUG", "LogInfo": "LOG_INFO",
	"LogWarn": "LOG_WARN", "LogError": "LOG_ERROR",

	"KindNull": "VALUE_NULL", "KindString": "VALUE_STRING", "KindBytes": "VALUE_BYTES",
	"KindInt": "VALUE_INT", "KindFloat": "VALUE_FLOAT", "KindBool": "VALUE_BOOL",

	"ChangeSet": "CHANGE_SET", "ChangeDelete": "CHANGE_DELETE", "ChangeExpired": "CHANGE_EXPIRED",
	"DataHash": "DATA_HASH", "DataJSON": "DATA_JSON", "DataString": "DATA_STRING",
	"ModeWriteBehind": "MODE_WRITE_BEHIND", "ModeWriteThrough": "MODE_WRITE_THROUGH",
	"TriggerExpiryDeletes": "TRIGGER_FLAG_EXPIRY_DELETES",
	"RowUpsert":            "ROW_UPSERT", "RowDelete": "ROW_DELETE", "RowInsert": "ROW_INSERT",
	"OutcomeRows": "OUTCOME_ROWS", "OutcomeSkip": "OUTCOME_SKIP", "OutcomeReject": "OUTCOME_REJECT",

	"MaxNameLen": "MAX_NAME_LEN", "MaxLogLen": "MAX_LOG_LEN", "MaxFailLen": "MAX_FAIL_LEN",
	"MaxReasonLen": "MAX_REASON_LEN", "MaxRecordLen": "MAX_RECORD_LEN",
	"MaxPushLen": "MAX_PUSH_LEN", "MaxDeclareLen": "MAX_DECLARE_LEN",
}

// TestSpecCoversEveryConstant type-checks the package's non-test files and
// checks that every exported constant has a row in SPEC.md with its exact
// value, and that the hand-written maps above agree with the source.
func TestSpecCoversEveryConstant(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("github.com/cogs-dev/cogs/abi", fset, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok || !c.Exported() {
			continue
		}
		specName, ok := goConstToSpec[name]
		if !ok {
			t.Errorf("exported constant %s has no row in SPEC.md (add it to the tables and to goConstToSpec)", name)
			continue
		}
		seen[name] = true
		switch c.Val().Kind() {
		case constant.String:
			want, ok := specStrings[specName]
			if got := constant.StringVal(c.Val()); !ok || got != want {
				t.Errorf("%s = %q, but specStrings[%s] = %q (listed %v)", name, got, specName, want, ok)
			}
		case constant.Int:
			got, exact := constant.Uint64Val(c.Val())
			want, ok := specNumbers[specName]
			if !exact || !ok || got != want {
				t.Errorf("%s = %v, but specNumbers[%s] = %d (listed %v)", name, c.Val(), specName, want, ok)
			}
		default:
			t.Errorf("%s: unexpected constant kind %v", name, c.Val().Kind())
		}
	}
	for name := range goConstToSpec {
		if !seen[name] {
			t.Errorf("goConstToSpec names %s, which is not an exported constant", name)
		}
	}
	if len(goConstToSpec) != len(specNumbers)+len(specStrings) {
		t.Errorf("%d Go constants for %d SPEC.md rows", len(goConstToSpec), len(specNumbers)+len(specStrings))
	}
}
