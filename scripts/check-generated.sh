#!/usr/bin/env bash
# Fails when generated files are not what `go generate ./...` makes: the gqlgen
# code from schema.graphqls (graph/) and the configuration reference from the
# commands' flag sets (docs/configuration.md), so neither drifts.
set -euo pipefail
if [ ! -f gqlgen.yml ]; then echo "check-generated: no gqlgen.yml yet"; exit 0; fi
before=$(git status --porcelain -- graph docs/configuration.md 2>/dev/null || true)
go generate ./...
after=$(git status --porcelain -- graph docs/configuration.md 2>/dev/null || true)
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- graph docs/configuration.md; then
  echo "generated code is stale: run 'go generate ./...' and commit the result" >&2
  git diff --stat -- graph docs/configuration.md >&2
  exit 1
fi
if [ "$before" != "$after" ]; then
  echo "generated code is stale (new or removed files under graph/ or docs/configuration.md): run 'go generate ./...'" >&2
  exit 1
fi
echo "check-generated: up to date"
