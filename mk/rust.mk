# Rust recipes: the SDK in sdk/rust and every Cargo crate under examples/
# and recipes/ that depends on it, built with the Rust Debian ships
# (rustc 1.63, the wasm32 std and lld), which `rust-toolchain` installs
# when it is missing. Always the Debian toolchain, called by its path, so
# a rustup toolchain on PATH does not get in the way.
#
#   make recipes-rust   bin/recipes/<crate>.wasm for each Rust recipe
#   make test-rust      cargo test for the SDK, its test recipes and each Rust recipe

CARGO_DEB   ?= /usr/bin/cargo
RUSTC_DEB   ?= /usr/bin/rustc
RUSTDOC_DEB ?= /usr/bin/rustdoc
RUST_TARGET := wasm32-unknown-unknown
RUST_STD    := /usr/lib/rustlib/$(RUST_TARGET)/lib
# One target directory for every crate, under bin/ (so the SDK is compiled
# once, and nothing is written in the source tree).
CARGO_RUN   = RUSTC=$(RUSTC_DEB) RUSTDOC=$(RUSTDOC_DEB) CARGO_TARGET_DIR=$(CURDIR)/$(BIN)/cargo $(CARGO_DEB)
RUST_RECIPE_DIRS := $(patsubst %/Cargo.toml,%,$(shell grep -l 'sdk/rust' examples/*/Cargo.toml recipes/*/Cargo.toml 2>/dev/null))
# Test recipes of the SDK: cargo-tested, not installed.
RUST_TEST_DIRS   := $(patsubst %/Cargo.toml,%,$(wildcard sdk/rust/testdata/*/Cargo.toml))

.PHONY: rust-toolchain recipes-rust test-rust

recipes: recipes-rust
test: test-rust

rust-toolchain:
	@if [ ! -x $(CARGO_DEB) ] || [ ! -x $(RUSTC_DEB) ] || [ ! -x $(RUSTDOC_DEB) ] || [ ! -d $(RUST_STD) ] || [ ! -e /usr/bin/rust-lld ]; then \
		echo "installing the Debian Rust toolchain (rustc cargo libstd-rust-dev-wasm32 lld-14)"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q rustc cargo libstd-rust-dev-wasm32 lld-14 || exit 1; \
	fi

recipes-rust: rust-toolchain
	@mkdir -p $(RECIPES)
	@for d in $(RUST_RECIPE_DIRS); do \
		n=$$(basename $$d); \
		echo "rust recipe $$d -> $(RECIPES)/$$n.wasm"; \
		$(CARGO_RUN) build --offline --quiet --release --target $(RUST_TARGET) --manifest-path $$d/Cargo.toml || exit 1; \
		cp $(BIN)/cargo/$(RUST_TARGET)/release/$$(echo $$n | tr - _).wasm $(RECIPES)/$$n.wasm || exit 1; \
	done

test-rust: rust-toolchain
	$(CARGO_RUN) test --offline --quiet --manifest-path sdk/rust/Cargo.toml
	$(CARGO_RUN) build --offline --quiet --target $(RUST_TARGET) --manifest-path sdk/rust/Cargo.toml
	@for d in $(RUST_RECIPE_DIRS) $(RUST_TEST_DIRS); do \
		echo "$(CARGO_DEB) test $$d"; \
		$(CARGO_RUN) test --offline --quiet --manifest-path $$d/Cargo.toml || exit 1; \
	done
