# The two set-up commands (each installs what a fresh Debian machine lacks):
#   make demo   - builds release and plays a demo session on the embedded SQLite store
#   make test   - builds and runs every test (unit, end-to-end through the real binary, schema),
#                 with a throw-away PostgreSQL cluster for the PostgreSQL store's tests
#   make test-postgres - the end-to-end tests with the server on PostgreSQL
# And: make bench (benchmarks against a C reference; BENCH_ARGS=--postgres for PostgreSQL too), make lint, make schema.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: demo test test-postgres bench lint schema build release

build:
	scripts/bootstrap.sh
	swift build

# The Swift runtime is linked statically: it halves start-up (no dozen shared libraries to
# load) and the binary can be copied to another machine of the same kind.
release:
	scripts/bootstrap.sh
	swift build -c release --static-swift-stdlib

demo: release
	python3 examples/demo.py --binary .build/release/petition-rpc

test:
	scripts/bootstrap.sh --with-jsonschema
	scripts/embed-schema.sh --check
	swift build --build-tests
	if [ -f ../shared/tools/validate-openrpc.py ]; then python3 ../shared/tools/validate-openrpc.py schema/openrpc.json; \
	  else echo 'validate-openrpc.py not found beside the project: meta-schema check skipped'; fi
	python3 schema/check_examples.py --binary .build/debug/petition-rpc
	scripts/pg-test-run.sh swift test --skip-build

# The end-to-end tests again, with the server on PostgreSQL (a throw-away cluster).
test-postgres:
	scripts/bootstrap.sh
	swift build --build-tests
	PETITION_RPC_TEST_STORE=postgres scripts/pg-test-run.sh swift test --skip-build --filter EndToEndTests

# make bench BENCH_ARGS=--postgres adds the PostgreSQL store's figures (issue 8).
bench:
	benchmarks/run.sh $(BENCH_ARGS)

lint:
	swift format lint --strict --recursive Sources Tests Package.swift

# Re-embeds schema/openrpc.json into the binary after an edit.
schema:
	scripts/embed-schema.sh
