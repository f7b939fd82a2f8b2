# spendgate: one binary, one machine. `make run` runs the product, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin/spendgate

.PHONY: all build run test test-go test-portal lint check-generated generate bench filter services clickhouse portal portal-check clean

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
## NATS, ClickHouse, Chromium), portal unit tests and built assets up to date.
test: services lint check-generated test-go test-portal

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

check-generated:
	@./scripts/check-generated.sh

test-go:
	$(GO) test -count=1 -timeout 30m ./...

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

## filter: build the proxy-wasm filter with TinyGo (not available on every machine).
filter:
	@if command -v tinygo >/dev/null 2>&1; then \
	  tinygo build -o filter/filter.wasm -scheduler=none -target=wasi ./filter && echo "built filter/filter.wasm"; \
	else \
	  echo "make filter: TinyGo is needed to build filter/filter.wasm and is not installed on this machine."; \
	  echo "  Install TinyGo >= 0.33 (https://tinygo.org) and run 'make filter' again."; \
	  echo "  The filter's logic is still tested natively: go test ./filter/... ./meter/..."; \
	  exit 1; \
	fi

clean:
	rm -rf bin bench.txt
