#!/usr/bin/env bash
# INT-1 webhook throughput against a backlog, on PostgreSQL (database sdelka_bench_hooks, dropped
# and recreated), with the release server: one instance without background workers
# (SDELKA_WORKERS=false) takes a subscription to `company.created` and BENCH_WEBHOOK_EVENTS
# companies by bulk upsert, so every event waits; then BENCH_INSTANCES instances with their
# workers start on the same database and drain it — numbering the events in the feed,
# dispatching them to the subscription and delivering them — to a local receiver answering 204.
# The figure: distinct `webhook-id`s per second from the first arrival to the last.
# Usage: BENCH_SKIP_BUILD=1 bash bench/integration/webhook_backlog.sh
#   BENCH_WEBHOOK_EVENTS=20000  BENCH_INSTANCES=3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
EVENTS="${BENCH_WEBHOOK_EVENTS:-20000}"
INSTANCES="${BENCH_INSTANCES:-3}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${SDELKA_BIN:-$TARGET_DIR/release/sdelka}"
OUT="${BENCH_RESULTS_FILE:-$ROOT/bench/results/webhook-backlog.txt}"
DB="${BENCH_DATABASE:-sdelka_bench_hooks}"
PG="postgres://postgres@127.0.0.1:5432/$DB"
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="bench-$(date +%s)-Passw0rd!"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
# Starts instance $1 on port $2; $3 says whether it runs the background workers.
start_server() {
  env -u SDELKA_SMTP_URL SDELKA_DATABASE_URL="$PG" SDELKA_DATA_DIR="$WORK/data-$1" SDELKA_BIND="127.0.0.1:$2" \
    SDELKA_ADMIN_EMAIL="$ADMIN_EMAIL" SDELKA_ADMIN_PASSWORD="$ADMIN_PASSWORD" SDELKA_JWT_SECRET="$JWT_SECRET" \
    SDELKA_RATE_LIMIT_PER_SECOND=1000000 SDELKA_RATE_LIMIT_BURST=1000000 SDELKA_LOG="${BENCH_SERVER_LOG:-warn}" \
    SDELKA_WEBHOOK_ALLOWED_TARGETS=127.0.0.0/8 SDELKA_WORKERS="$3" \
    "$BIN" serve >"$WORK/server-$1.log" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$2/health/ready" && return 0
    sleep 0.1
  done
  echo "instance $1 did not become ready:" >&2; cat "$WORK/server-$1.log" >&2; exit 1
}

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then cargo build --release -p sdelka-api; fi
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
start_server 0 "$PORT" false
TOKEN="$(curl -sS -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
RX_PORT="$(free_port)"
curl -sS -o /dev/null -X POST "$BASE/api/v1/webhooks" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$RX_PORT/hook\", \"event_types\": [\"company.created\"]}"
echo "[bench] webhook backlog: $EVENTS company.created events written with no worker running"
BULK="$(python3 bench/integration/client.py bulk "$BASE" "$TOKEN" "$EVENTS" 1000 1)"
echo "$BULK"
PENDING="$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT count(*) FROM domain_events WHERE event_type = 'company.created'")"
echo "[bench] $PENDING events wait; the receiver listens and $INSTANCES instances with workers start"
python3 bench/integration/client.py receive "$RX_PORT" "$EVENTS" 900 >"$WORK/webhooks.json" &
RX_PID=$!
sleep 1
T0="$(date +%s.%N)"
for i in $(seq 1 "$INSTANCES"); do start_server "$i" "$(free_port)" true; done
wait "$RX_PID"
T1="$(date +%s.%N)"
WEBHOOKS="$(cat "$WORK/webhooks.json")"
echo "$WEBHOOKS"
{
  echo "# bash bench/integration/webhook_backlog.sh  ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version'))"
  echo "# BENCH_WEBHOOK_EVENTS=$EVENTS BENCH_INSTANCES=$INSTANCES"
  echo "backlog-writes  $BULK"
  echo "drain           $WEBHOOKS"
  echo "drain-wall      {\"from_workers_start_to_last_s\": $(python3 -c "print(round($T1 - $T0, 2))")}"
} | tee "$OUT"
