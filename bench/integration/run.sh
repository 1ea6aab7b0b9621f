#!/usr/bin/env bash
# INT benchmarks on PostgreSQL (database sdelka_bench, dropped and recreated), against the release
# server: bulk upsert of BENCH_BULK_ITEMS companies in batches of 1 000, a read of the whole
# change feed (BENCH_BULK_ITEMS + events), the feed lag under BENCH_LAG_RATE writes/s, and
# webhook deliveries/s of BENCH_WEBHOOK_EVENTS events to a local receiver with BENCH_INSTANCES
# server instances on the one database.
# Usage: bash bench/integration/run.sh   (see bench/README.md, "Integration")
#   BENCH_BULK_ITEMS=100000  BENCH_LAG_RATE=1000  BENCH_DURATION=15  BENCH_SKIP_BUILD=1
#   BENCH_WEBHOOK_EVENTS=20000  BENCH_INSTANCES=3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ITEMS="${BENCH_BULK_ITEMS:-100000}"
RATE="${BENCH_LAG_RATE:-1000}"
DURATION="${BENCH_DURATION:-15}"
WEBHOOK_EVENTS="${BENCH_WEBHOOK_EVENTS:-20000}"
INSTANCES="${BENCH_INSTANCES:-3}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${SDELKA_BIN:-$TARGET_DIR/release/sdelka}"
LOADGEN="$TARGET_DIR/bench/loadgen"
OUT="${BENCH_RESULTS_FILE:-$ROOT/bench/results/integration.txt}"
DB="${BENCH_DATABASE:-sdelka_bench}"
PG="postgres://postgres@127.0.0.1:5432/$DB"
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="bench-$(date +%s)-Passw0rd!"
# shellcheck source=bench/lib_server.sh
source "$ROOT/bench/lib_server.sh"

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then cargo build --release -p sdelka-api; fi
mkdir -p "$(dirname "$LOADGEN")"
[[ -x "$LOADGEN" && "$LOADGEN" -nt bench/loadgen/main.rs ]] ||
  rustc --edition 2021 -C opt-level=3 -o "$LOADGEN" bench/loadgen/main.rs

psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
start_server 1 "$PORT"
TOKEN="$(curl -sS -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

echo "[bench] bulk upsert: $ITEMS companies in batches of 1000"
BULK="$(python3 bench/integration/client.py bulk "$BASE" "$TOKEN" "$ITEMS" 1000)"
echo "$BULK"
echo "[bench] feed read from the start, 1000 per page"
FEED="$(python3 bench/integration/client.py feed-read "$BASE" "$TOKEN" 1000)"
echo "$FEED"
echo "[bench] feed lag: POST /companies at $RATE/s for ${DURATION}s while following the feed"
python3 bench/integration/client.py feed-lag "$BASE" "$TOKEN" "$((DURATION + 2))" >"$WORK/lag.json" &
LAG_PID=$!
printf '{"name": "Лаг {n}"}' >"$WORK/company.json"
"$LOADGEN" --url "$BASE/api/v1/companies" --method POST --header "Authorization: Bearer $TOKEN" \
  --header 'Content-Type: application/json' --body-file "$WORK/company.json" --seq-start 1 \
  --rate "$RATE" --connections 64 --duration "$DURATION" --timeout 10 --label feed-lag-writes >"$WORK/writes.json"
wait "$LAG_PID"
WRITES="$(cat "$WORK/writes.json")"
LAG="$(cat "$WORK/lag.json")"
echo "$WRITES"
echo "$LAG"
echo "[bench] webhooks: $WEBHOOK_EVENTS company.created events to a local receiver, $INSTANCES instances"
for i in $(seq 2 "$INSTANCES"); do start_server "$i" "$(free_port)"; done
RX_PORT="$(free_port)"
python3 bench/integration/client.py receive "$RX_PORT" "$WEBHOOK_EVENTS" 600 >"$WORK/webhooks.json" &
RX_PID=$!
sleep 1
curl -sS -o /dev/null -X POST "$BASE/api/v1/webhooks" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$RX_PORT/hook\", \"event_types\": [\"company.created\"]}"
python3 bench/integration/client.py bulk "$BASE" "$TOKEN" "$WEBHOOK_EVENTS" 1000 1 >"$WORK/webhook-bulk.json"
wait "$RX_PID"
WEBHOOKS="$(cat "$WORK/webhooks.json")"
echo "$WEBHOOKS"
{
  echo "# bash bench/integration/run.sh  ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version'))"
  echo "# BENCH_BULK_ITEMS=$ITEMS BENCH_LAG_RATE=$RATE BENCH_DURATION=$DURATION BENCH_WEBHOOK_EVENTS=$WEBHOOK_EVENTS BENCH_INSTANCES=$INSTANCES"
  echo "bulk-upsert  $BULK"
  echo "feed-read    $FEED"
  echo "lag-writes   $WRITES"
  echo "feed-lag     $LAG"
  echo "webhooks     $WEBHOOKS"
} | tee "$OUT"
