# spendgate: one binary, one machine. `make run` runs the product, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin/spendgate

.PHONY: all build run test test-unit test-go test-portal lint golangci-lint check-generated generate bench filter filter-passthrough services clickhouse portal portal-check clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/spendgate

## run: embedded defaults, demo tenant/owner/key printed on first start; gateway, API, portal.
run: services build
	./$(BIN) serve

## services: make sure Postgres, NATS and ClickHouse answer on this machine.
services:
	@./scripts/services.sh

clickhouse:
	@./scripts/clickhouse-start.sh

## test: formatting, vet, generated code up to date, all Go tests (real Postgres,
## ClickHouse, Chromium; JetStream embedded per test), portal unit tests and
## built assets up to date. A missing service fails the run; nothing is skipped.
test: services lint check-generated test-go test-portal

## test-unit: the Go tests that need no outside service (seconds once built).
## Tests asking for Postgres, ClickHouse, Chromium, node, the spendgate binary
## or the machine's nats-server skip themselves in this tier (testenv.Require).
test-unit:
	SPENDGATE_TEST_TIER=unit $(GO) test ./...

## lint: gofmt, go vet and golangci-lint (.golangci.yml: staticcheck, unused,
## errorlint, gocritic, depguard import rules), installed when missing.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(shell $(GO) env GOPATH)/bin/golangci-lint

lint: golangci-lint
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

golangci-lint:
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -qF '$(GOLANGCI_LINT_VERSION:v%=%)'; then \
	  echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) from the Go module proxy"; \
	  $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

check-generated:
	@./scripts/check-generated.sh

test-go: filter
	SPENDGATE_TEST_TIER=all SPENDGATE_FILTER_WASM=required $(GO) test -count=1 -timeout 30m ./...

test-portal:
	@if [ ! -d portal/node_modules ]; then cd portal && npm ci --no-audit --no-fund; fi
	cd portal && npm test && npm run check-dist

generate:
	$(GO) generate ./...

portal:
	cd portal && npm ci && npm run build

## bench: Go micro-benchmarks for hot paths, then load benchmarks that print ratios.
bench: services build
	$(GO) build -o bin/spendgate-bench ./cmd/spendgate-bench
	$(GO) test -run '^$$' -bench . -benchmem ./... | tee bench.txt
	./bin/spendgate-bench all

## filter: build the proxy-wasm filter with TinyGo >= 0.33 into filter/filter.wasm. TinyGo 0.33 runs
## with Go 1.23, which cannot read go.mod (go 1.26, tool directive): the build reads filter/tinygo.mod,
## which holds only the filter's requirements (filter's TestFilterModuleFile keeps it in step).
TINYGO ?= $(shell command -v tinygo 2>/dev/null || echo /opt/tinygo-0.33/bin/tinygo)
FILTER_SRC := $(shell git ls-files 'filter/*.go' 'dataplane/*.go' 'meter/*.go' 'usage/*.go' 'policy/*.go' 'event/*.go' 'money/*.go' 2>/dev/null | grep -v _test.go)
filter: filter/filter.wasm
filter/filter.wasm: $(FILTER_SRC) filter/tinygo.mod filter/tinygo.sum
	@if [ ! -x "$(TINYGO)" ]; then \
	  echo "make filter: TinyGo >= 0.33 is needed to build filter/filter.wasm (https://tinygo.org/getting-started/install/)"; \
	  echo "  or build it from source here: ../shared/tools/tinygo/install.sh (.ci/run does that)"; exit 1; \
	fi
	GOFLAGS=-modfile=filter/tinygo.mod $(TINYGO) build -o filter/filter.wasm -scheduler=none -target=wasi -no-debug ./filter
	@echo "built filter/filter.wasm"

## filter-passthrough: the benchmark fixture filter/passthrough (the filter's host calls and nothing else),
## built as make filter builds the filter; BenchmarkFilter* take it as SPENDGATE_FILTER_BASELINE_WASM.
filter-passthrough: filter/passthrough/passthrough.wasm
filter/passthrough/passthrough.wasm: filter/passthrough/main.go filter/tinygo.mod filter/tinygo.sum
	GOFLAGS=-modfile=filter/tinygo.mod $(TINYGO) build -o $@ -scheduler=none -target=wasi -no-debug ./filter/passthrough

clean:
	rm -rf bin bench.txt
