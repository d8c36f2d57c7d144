# cogs — build, test and benchmark. See README.md.
#
#   make build           bin/cogs
#   make test            go vet + go test -race ./... (builds the recipes the tests need and
#                        makes sure redis-server, MariaDB and PostgreSQL are installed and up)
#   make recipes         every Go recipe in recipes/ and examples/ -> bin/recipes/<name>.wasm
#   make recipes-tinygo  the same with TinyGo, when tinygo is on PATH
#   make bench           the benchmark suite (numbers go to BENCHMARKS.md by hand)
#   make demo            cogs + redis-server + the persons recipe into SQLite, end to end
#   make demo-dry        dry-run the persons recipe over sample changes (no Redis, no database)

GO        ?= go
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
	$(GO) test -race -timeout 30m $(GOTESTFLAGS) ./...

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

bench: check-go
	$(GO) test -run '^$$' -bench . -benchtime 2s ./host/engine/ ./host/engine/internal/instrument/ ./host/internal/resp/

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
