#!/usr/bin/env bash
# Fails when generated code (gqlgen) is not what `go generate ./...` makes from
# schema.graphqls, so the committed code never drifts from the schema.
set -euo pipefail
if [ ! -f gqlgen.yml ]; then echo "check-generated: no gqlgen.yml yet"; exit 0; fi
before=$(git status --porcelain -- graph 2>/dev/null || true)
go generate ./...
after=$(git status --porcelain -- graph 2>/dev/null || true)
if [ -d .git ] && ! git diff --quiet -- graph; then
  echo "generated code is stale: run 'go generate ./...' and commit the result" >&2
  git diff --stat -- graph >&2
  exit 1
fi
if [ "$before" != "$after" ]; then
  echo "generated code is stale (new or removed files under graph/): run 'go generate ./...'" >&2
  exit 1
fi
echo "check-generated: up to date"
