# cogs — build, test and benchmark. See README.md.
#
#   make build           bin/cogs
#   make test            go vet + go test -race -count=1 ./... (never cached; builds the recipes the tests need and
#                        makes sure redis-server, MariaDB and PostgreSQL are installed and up)
#   make recipes         every Go recipe in recipes/ and examples/ -> bin/recipes/<name>.wasm
#   make recipes-tinygo  the same with TinyGo, when tinygo is on PATH
#   make bench           the whole benchmark suite and a summary table (bin/bench/summary.md)
#   make demo            cogs + redis-server + the persons recipe into SQLite, end to end
#   make demo-dry        dry-run the persons recipe over sample changes (no Redis, no database)

GO        ?= go
SHELL     := /bin/bash
BIN       := bin
RECIPES   := $(BIN)/recipes
# Every directory under recipes/ and examples/ whose main package registers a
# Go recipe.
GO_RECIPE_DIRS := $(patsubst %/,%,$(dir $(shell grep -l 'cogs.Register' recipes/*/main.go examples/*/main.go 2>/dev/null)))
GOTESTFLAGS ?=

.PHONY: all build test vet services recipes recipes-tinygo bench demo demo-dry check-go clean fmt

all: build

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "go is not installed: cogs needs Go 1.26 or later (https://go.dev/doc/install)"; exit 1; }
	@$(GO) version | awk '{ split($$3, v, "."); sub("go", "", v[1]); if (v[1] < 1 || (v[1] == 1 && v[2] < 26)) { print "go " $$3 " is too old: cogs needs Go 1.26 or later"; exit 1 } }'

build: check-go
	$(GO) build -o $(BIN)/cogs ./host/cmd/cogs

fmt:
	gofmt -w abi sdk host connectors recipes examples

vet: check-go
	@test -z "$$(gofmt -l abi sdk host connectors recipes examples)" || { echo "gofmt needed:"; gofmt -l abi sdk host connectors recipes examples; exit 1; }
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./abi/... ./sdk/go/... ./recipes/...

# The servers the integration tests need (installed with apt-get and started
# when missing; see scripts/services.sh).
services:
	bash scripts/services.sh

test: vet recipes services
	$(GO) test -race -count=1 -timeout 30m $(GOTESTFLAGS) ./...

recipes: check-go
	@mkdir -p $(RECIPES)
	@for d in $(GO_RECIPE_DIRS); do \
		n=$$(basename $$d); \
		echo "recipe $$d -> $(RECIPES)/$$n.wasm"; \
		( cd $$d && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(CURDIR)/$(RECIPES)/$$n.wasm . ) || exit 1; \
	done

recipes-tinygo:
	@command -v tinygo >/dev/null 2>&1 || { echo "tinygo is not on PATH; skipping TinyGo builds"; exit 0; }; \
	mkdir -p $(RECIPES)/tinygo; \
	for d in $(GO_RECIPE_DIRS); do \
		n=$$(basename $$d); \
		echo "tinygo recipe $$d -> $(RECIPES)/tinygo/$$n.wasm"; \
		( cd $$d && tinygo build -target=wasip1 -buildmode=c-shared -scheduler=none -o $(CURDIR)/$(RECIPES)/tinygo/$$n.wasm . ) || exit 1; \
	done

# The whole benchmark suite: engine cost per change, RESP parsing, capture
# through cogs vs direct Redis (bench-capture), apply rows/s per connector,
# capture-to-commit lag under a steady rate and the RedisGears burst
# scenario (host/e2e). Raw output in bin/bench/, and a short table of every
# result in bin/bench/summary.md (printed at the end). Numbers go to
# BENCHMARKS.md by hand, with the machine they ran on.
bench: check-go services
	@mkdir -p $(BIN)/bench
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 2s ./host/engine/ ./host/engine/internal/instrument/ ./host/internal/resp/ | tee $(BIN)/bench/engine.txt
	set -o pipefail; COGS_REQUIRE_INTEGRATION=1 $(GO) test -run XXX -bench IntegrationApply -benchtime 2s ./connectors/mysql/ ./connectors/postgres/ ./connectors/sqlite/ ./connectors/redis/ | tee $(BIN)/bench/connectors.txt
	set -o pipefail; COGS_REQUIRE_INTEGRATION=1 $(GO) test -run '^$$' -bench ApplyPrefilled -benchtime 200000x ./host/e2e/ | tee $(BIN)/bench/apply.txt
	set -o pipefail; COGS_REQUIRE_INTEGRATION=1 $(GO) test -run '^$$' -bench 'LagSteady|Burst' -benchtime 1x -timeout 30m ./host/e2e/ | tee $(BIN)/bench/e2e.txt
	set -o pipefail; $(MAKE) --no-print-directory bench-capture | tee $(BIN)/bench/capture.txt
	cat $(BIN)/bench/engine.txt $(BIN)/bench/connectors.txt $(BIN)/bench/apply.txt $(BIN)/bench/e2e.txt | bash scripts/bench-table.sh > $(BIN)/bench/summary.md
	@echo; echo "Capture (make bench-capture):"; grep -E '^\|' $(BIN)/bench/capture.txt || true
	@echo; cat $(BIN)/bench/summary.md

# The demo: a throwaway redis-server, cogs in front of it with the persons
# recipe writing behind to an embedded SQLite database, a few persons
# written through cogs, and the resulting table (examples/demo).
demo: check-go
	@command -v redis-server >/dev/null 2>&1 || { echo "installing redis-server with apt-get"; \
		S=""; [ "$$(id -u)" = 0 ] || S=sudo; $$S apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq redis-server >/dev/null; }
	@mkdir -p $(RECIPES)
	cd examples/persons && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(CURDIR)/$(RECIPES)/persons.wasm .
	$(GO) run ./examples/demo -recipe $(RECIPES)/persons.wasm

# The recipe dry run: the persons recipe over sample changes, no Redis and
# no database.
demo-dry: build recipes
	$(BIN)/cogs recipe test $(RECIPES)/persons.wasm --changes examples/persons/testdata/changes.jsonl

clean:
	rm -rf $(BIN)

# Fragments of other areas (Rust recipes, benchmarks, ...): see mk/README.md.
-include $(wildcard mk/*.mk)
