#!/usr/bin/env bash
# Reads `go test -bench` output on stdin and prints a markdown table of its
# benchmark lines: the package and benchmark name and every "value unit" pair it
# reported (ns/op, rows/s, p99-ms, ...). Lines that are not benchmark
# results are dropped. Used by `make bench` for its summary.
set -euo pipefail
echo "| benchmark | results |"
echo "|---|---|"
awk '/^pkg: / { n = split($2, parts, "/"); pkg = parts[n] }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	if (pkg != "") name = pkg ": " name
	out = ""
	for (i = 3; i + 1 <= NF; i += 2) {
		out = out (out == "" ? "" : ", ") $i " " $(i + 1)
	}
	printf "| %s | %s |\n", name, out
}'
