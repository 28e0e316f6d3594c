# The two set-up commands (each installs what a fresh Debian machine lacks):
#   make demo   - builds release and plays a demo session on the embedded SQLite store
#   make test   - builds and runs every test (unit, end-to-end through the real binary, schema),
#                 with a throw-away PostgreSQL cluster for the PostgreSQL store's tests
#   make test-postgres - the end-to-end tests with the server on PostgreSQL
# And: make bench (benchmarks against a C reference; BENCH_ARGS=--postgres for PostgreSQL too), make lint, make schema.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: demo test test-postgres bench lint schema build release fuzz test-sanitizers soak

build:
	scripts/bootstrap.sh
	swift build

# The Swift runtime is linked statically: it halves start-up (no dozen shared libraries to
# load) and the binary can be copied to another machine of the same kind.
release:
	scripts/bootstrap.sh
	swift build -c release --static-swift-stdlib --product petition-rpc

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
	@echo "make test: the end-to-end tests again, with the server on PostgreSQL"
	scripts/pg-test-run.sh sh -c 'if [ -z "$${PETITION_RPC_TEST_PG_URI:-}" ]; then echo "no PostgreSQL: skipped"; \
	  else PETITION_RPC_TEST_STORE=postgres swift test --skip-build --filter EndToEndTests; fi'

# The end-to-end tests again, with the server on PostgreSQL (a throw-away cluster).
test-postgres:
	scripts/bootstrap.sh
	swift build --build-tests
	scripts/pg-test-run.sh sh -c 'if [ -z "$${PETITION_RPC_TEST_PG_URI:-}" ]; then echo "no PostgreSQL: skipped"; \
	  else PETITION_RPC_TEST_STORE=postgres swift test --skip-build --filter EndToEndTests; fi'

# make bench BENCH_ARGS=--postgres adds the PostgreSQL store's figures (issue 8).
bench:
	benchmarks/run.sh $(BENCH_ARGS)

lint:
	swift format lint --strict --recursive Sources Tests Package.swift

# Re-embeds schema/openrpc.json into the binary after an edit.
schema:
	scripts/embed-schema.sh

# libFuzzer targets (frame decoding, request validation, params of every method, RFC 3339, CSV import),
# built with coverage and AddressSanitizer into .build-fuzz, run on Fuzz/corpus seeds for
# FUZZ_RUNS executions each (default 10 million) or FUZZ_SECONDS each. Not part of `make test`.
fuzz:
	scripts/bootstrap.sh
	Fuzz/build.sh
	Fuzz/run.sh

# The whole test suite under ThreadSanitizer, then under AddressSanitizer, each in its own
# scratch path (the end-to-end tests spawn the sanitized binary built beside them), beside a
# throw-away PostgreSQL cluster. Any sanitizer report, from the test runner or from a server it
# spawned, fails the target and is printed symbolized (scripts/sanitized-test.sh says how).
test-sanitizers:
	scripts/bootstrap.sh
	scripts/sanitized-test.sh thread
	scripts/sanitized-test.sh address

# Mixed traffic from several clients on one store for SOAK_MINUTES (default 30), sampling RSS,
# open descriptors and latency each minute; fails if RSS grows more than 10% after minute 5.
soak: release
	python3 scripts/soak.py --binary .build/release/petition-rpc --minutes $${SOAK_MINUTES:-30}
