#!/usr/bin/env bash
# Runs Cairn's tests. With CAIRN_TEST_DATABASE_URL set (a PostgreSQL DSN) the
# storage tests run on PostgreSQL as well as SQLite; without it those cases
# skip with a message. Extra arguments go to `go test` (e.g. -race, -run X).
# `./test.sh -fuzz-smoke` runs each fuzz target briefly instead.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "-fuzz-smoke" ]; then
  status=0
  while read -r pkg dir; do
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
      echo "fuzz $pkg $target"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "${CAIRN_FUZZTIME:-5s}" "$pkg" || status=1
    done
  done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
  exit $status
fi
if [ -z "${CAIRN_TEST_DATABASE_URL:-}" ]; then
  # go test shows a skipped test's message only with -v: say it here, once.
  echo "CAIRN_TEST_DATABASE_URL is not set: the storage tests run on SQLite only and their PostgreSQL cases skip" >&2
  echo "(set it to a PostgreSQL DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable, to run them)" >&2
fi
go test -count=1 -timeout 20m "$@" ./...
