# make bench-capture: the capture front end against the redis-server behind
# it, in one interleaved run (see host/frontend/internal/benchcapture). It
# starts its own redis-server and cogs; needs redis-server and
# redis-benchmark on PATH. Results go to BENCHMARKS.md ("## Capture") by hand.
BENCH_CAPTURE_FLAGS ?=

.PHONY: bench-capture
bench-capture: check-go
	$(GO) build -o $(BIN)/benchcapture ./host/frontend/internal/benchcapture
	$(BIN)/benchcapture $(BENCH_CAPTURE_FLAGS)
