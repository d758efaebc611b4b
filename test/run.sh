#!/usr/bin/env bash
# Runs the whole test suite with Node's test runner. Uses DATABASE_URL when set, else the PostgreSQL on
# 127.0.0.1:5432 when one answers, else Politburo's embedded PostgreSQL (started once for the whole run).
# A test that has not finished after 15 minutes (TEST_TIMEOUT_MS) fails instead of holding the run up. A file whose
# tests have all finished ends even when a library left a timer behind (--test-force-exit): a graphile-worker pool
# whose connections a test cut mid-completion never finishes deactivating, and its reset-locked timer then keeps the
# file's process alive for minutes. The controller itself ends with process.exit (controller/shutdown.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DATABASE_URL:-}" ]; then
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
  fi
fi
mapfile -t files < <(if [ "$#" -gt 0 ]; then printf '%s\n' "$@"; else find test -name '*.test.ts' | sort; fi)
if [ -z "${DATABASE_URL:-}" ]; then
  # No server around: one embedded PostgreSQL for the whole run.
  exec node --import tsx test/helpers/with-embedded-postgres.ts node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout="${TEST_TIMEOUT_MS:-900000}" --test-force-exit "${files[@]}"
fi
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout="${TEST_TIMEOUT_MS:-900000}" --test-force-exit "${files[@]}"
