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
# scratch path (the end-to-end tests spawn the sanitized binary built beside them). Every
# process writes its reports to .build-tsan/reports or .build-asan/reports (a server's stderr
# is a temporary file the tests delete); any report fails the target.
# A sanitizer report starts llvm-symbolizer, which keeps the test runner's output pipe open
# after the tests end: `timeout` turns that hang into a failure (each run takes ~5 minutes).
test-sanitizers:
	scripts/bootstrap.sh
	swift build --build-tests --sanitize=thread --build-path .build-tsan
	rm -rf .build-tsan/reports && mkdir -p .build-tsan/reports
	PETITION_RPC_TEST_MEMORY_FACTOR=4 TSAN_OPTIONS="second_deadlock_stack=1 log_path=$(CURDIR)/.build-tsan/reports/tsan" \
	  scripts/pg-test-run.sh timeout 2400 swift test --skip-build --sanitize=thread --build-path .build-tsan
	@if ls .build-tsan/reports/* >/dev/null 2>&1; then echo "ThreadSanitizer reports:"; ls .build-tsan/reports; exit 1; fi
	swift build --build-tests --sanitize=address --build-path .build-asan
	rm -rf .build-asan/reports && mkdir -p .build-asan/reports
	PETITION_RPC_TEST_MEMORY_FACTOR=4 ASAN_OPTIONS="detect_leaks=0 verify_asan_link_order=0 quarantine_size_mb=16 log_path=$(CURDIR)/.build-asan/reports/asan" \
	  SWIFT_BACKTRACE=enable=no scripts/pg-test-run.sh timeout 2400 swift test --skip-build --sanitize=address --build-path .build-asan
	@if ls .build-asan/reports/* >/dev/null 2>&1; then echo "AddressSanitizer reports:"; ls .build-asan/reports; exit 1; fi

# Mixed traffic from several clients on one store for SOAK_MINUTES (default 30), sampling RSS,
# open descriptors and latency each minute; fails if RSS grows more than 10% after minute 5.
soak: release
	python3 scripts/soak.py --binary .build/release/petition-rpc --minutes $${SOAK_MINUTES:-30}
