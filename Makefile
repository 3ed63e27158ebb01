# The targets the README names. Nothing here is needed to build: `go run ./cmd/election up` works alone.
.PHONY: run test test-all lint bench scale board-cost services services-stop

run:
	go run ./cmd/election up

# Hermetic tests (SQLite, embedded broker); the PostgreSQL and real-Kafka suites run too when
# ELECTION_TEST_POSTGRES / ELECTION_TEST_KAFKA are set (see `make test-all`).
test:
	go test ./...

# Start PostgreSQL and Kafka, then run every suite against them as CI does.
test-all:
	bash .ci/run

# gofmt, go vet, staticcheck; ESLint and Node's test runner on the page's JavaScript (as CI runs them).
lint:
	scripts/lint.sh

# Throughput, freshness and raw limits, embedded and (when services run) PostgreSQL + Kafka. -p 1: one
# package's benchmarks at a time; by default go test runs packages side by side, and they would share
# (and skew) the machine's cores.
bench:
	eval "$$(scripts/services.sh)"; go test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

# The scale curve: the main command at each size in SIZES (default 1M and 10M voters), with wall time,
# rates, peak RSS, disk per part, and the audit's and the verifier's verdicts (see scripts/scale.sh).
scale:
	scripts/scale.sh

# What the bulletin board costs the embedded pipeline: alternated pairs of board-on and board-off runs,
# and the median of their ratios (see scripts/board-cost.sh).
board-cost:
	scripts/board-cost.sh

services:
	scripts/services.sh

services-stop:
	scripts/services.sh --stop
