#!/usr/bin/env bash
# `npm run demo`: Politburo on the example repository (examples/lamp), on this machine only: no GitHub, no remote
# hosts, no database to install (an embedded PostgreSQL starts under your data directory unless DATABASE_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  echo "==> Installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

EXAMPLE=examples/lamp
politburo() { node --import tsx cli/bin.ts "$@"; }
if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=''; N=''; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
# plan exits 2 when there are changes: that is an answer, not a failure.
plan() { politburo plan "$@" || { rc=$?; [ "$rc" -eq 2 ] || exit "$rc"; }; }

if [ -z "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL is not set: using Politburo's embedded PostgreSQL (the first start takes a few seconds)."
fi

step "politburo validate --dir $EXAMPLE"
politburo validate --dir "$EXAMPLE"

step "politburo plan production --dir $EXAMPLE   (static: contacts no host)"
plan production --dir "$EXAMPLE"

step "politburo plan demo --dir $EXAMPLE   (the demo environment: every host is this machine)"
plan demo --dir "$EXAMPLE"

step "politburo graph production --format mermaid --dir $EXAMPLE   (paste into any Mermaid viewer)"
politburo graph production --format mermaid --dir "$EXAMPLE"

step "politburo graph production --format svg > /tmp/politburo-production.svg"
politburo graph production --format svg --dir "$EXAMPLE" > "${TMPDIR:-/tmp}/politburo-production.svg"
echo "wrote ${TMPDIR:-/tmp}/politburo-production.svg"

# (apply of the demo environment and the controller in poll mode follow here)
