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
# shellcheck source=bench/lib_server.sh
source "$ROOT/bench/lib_server.sh"

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
