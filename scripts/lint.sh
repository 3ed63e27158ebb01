#!/usr/bin/env bash
# Formatting and lint, as CI runs them: gofmt, go vet and staticcheck on the Go code; ESLint and Node's own
# test runner on the page's JavaScript (ESLint is fetched by npx at a pinned version; nothing is installed
# in the repository, and the page keeps no build step). Installs Node from Debian when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "-- gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "-- go vet"
go vet ./...
echo "-- staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

if ! command -v node >/dev/null 2>&1 || ! command -v npx >/dev/null 2>&1; then
  echo "-- installing Node.js from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
echo "-- eslint (the page's JavaScript)"
(cd internal/web && npx --yes eslint@9.39.1 --no-warn-ignored static/js jstest)
echo "-- node --test (the page's pure functions)"
node --test internal/web/jstest/
