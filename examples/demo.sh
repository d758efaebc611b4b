#!/usr/bin/env bash
# `npm run demo`: Politburo on the example repository (examples/lamp), on this machine only: no GitHub, no remote
# hosts, no database to install (an embedded PostgreSQL starts under your data directory unless DATABASE_URL is set).
# In a terminal the controller keeps running until Ctrl-C; DEMO_EXIT=1 stops after the apply, DEMO_WAIT=1 keeps it
# running without a terminal too (stop it with SIGINT or SIGTERM), PORT picks the dashboard's port (default 8080).
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

# Whenever the demo ends (Ctrl-C included): the controller stopped, and no PostgreSQL of the demo left running.
stop_demo() {
  trap - EXIT INT TERM
  if [ -n "${SERVE_PID:-}" ]; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  # A politburo command killed by Ctrl-C leaves the embedded PostgreSQL it started running for the next one: stop it
  # now when nothing uses it any more.
  if [ -z "${DATABASE_URL:-}" ]; then
    node --import tsx --input-type=module -e "const { stopIdleEmbeddedPostgres } = await import('./store/embedded.ts');
      await stopIdleEmbeddedPostgres(undefined, (m) => console.log(m));" || true
  fi
}
trap stop_demo EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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

# The controller, in poll mode: the example as a git repository of its own, whose branch `demo` the controller
# follows. Its `demo` environment (every host is this machine; shell tasks writing under ~/.politburo-demo) is
# applied when the controller sees the commit; results go to the dashboard and the log.
# The repository is kept between runs, next to the state the controller records about it: every commit that state
# names stays in it. A run brings the example in as a new commit only when it differs from the repository's files.
REPO_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/politburo/demo-repository"
demo_git() { git -C "$REPO_DIR" -c user.name=demo -c user.email=demo@example.invalid "$@"; }
if [ ! -d "$REPO_DIR/.git" ]; then
  rm -rf "$REPO_DIR" && mkdir -p "$REPO_DIR" && git -C "$REPO_DIR" init -q -b demo
fi
demo_git checkout -q demo 2>/dev/null || demo_git checkout -q -b demo
find "$REPO_DIR" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
cp -R "$EXAMPLE"/. "$REPO_DIR"/
demo_git add -A
if ! demo_git diff --cached --quiet || ! demo_git rev-parse -q --verify HEAD >/dev/null; then
  demo_git commit -qm "Demo environment"
fi
REPO_DIR="$(cd "$REPO_DIR" && pwd -P)"
PORT="${PORT:-8080}"
LOG="${TMPDIR:-/tmp}/politburo-demo-serve.log"

step "politburo serve   (poll mode: POLITBURO_REPOS=$REPO_DIR#demo; dashboard on http://localhost:$PORT/)"
# (The controller and the CLI commands below share one database: DATABASE_URL, or the same embedded PostgreSQL.)
# In a process group of its own (job control on for this one command): Ctrl-C reaches only this script, which then
# stops the controller with one SIGTERM and waits for it to close (a second signal would make it exit at once,
# leaving the embedded PostgreSQL running).
set -m
POLITBURO_REPOS="$REPO_DIR#demo" POLITBURO_POLL_INTERVAL=5s POLITBURO_DASHBOARD_PUBLIC=true PORT="$PORT" HOST=127.0.0.1 \
  node --import tsx cli/bin.ts serve >"$LOG" 2>&1 &
SERVE_PID=$!
set +m
for _ in $(seq 1 120); do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$PORT/readyz" && break
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "the controller stopped; its log:"; cat "$LOG"; exit 1; }
  sleep 1
done
echo "controller ready (log: $LOG)"

step "waiting for the controller to apply the demo environment"
applied=""
for _ in $(seq 1 60); do
  if politburo status demo --dir "$REPO_DIR" --json 2>/dev/null | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const doc = JSON.parse(s); const nodes = doc.nodes ?? doc[0]?.nodes ?? [];
        process.exit(nodes.length > 0 && nodes.every((n) => n.state === "ready") ? 0 : 1);
      });'; then applied=yes; break; fi
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "the controller stopped; its log:"; cat "$LOG"; exit 1; }
  sleep 2
done
[ -n "$applied" ] || { echo "the demo environment was not applied in time; the controller's log:"; tail -n 40 "$LOG"; exit 1; }

step "politburo status demo   (the state the controller recorded)"
politburo status demo --dir "$REPO_DIR"

step "the dashboard"
echo "environments:  http://localhost:$PORT/"
echo "this one:      http://localhost:$PORT/environments/$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$REPO_DIR")/demo"
echo "runs:          http://localhost:$PORT/runs"
echo "Try it: change a file under ~/.politburo-demo by hand and watch the drift schedule (every 5 minutes) heal it,"
echo "or commit a change to $REPO_DIR (branch demo) and watch it being applied."
if { [ -t 0 ] || [ -n "${DEMO_WAIT:-}" ]; } && [ -z "${DEMO_EXIT:-}" ]; then
  echo; echo "The controller keeps running; Ctrl-C stops it."
  wait "$SERVE_PID"
fi
