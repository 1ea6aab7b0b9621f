#!/usr/bin/env bash
# INT benchmarks on PostgreSQL (database sdelka_bench, dropped and recreated), against the release
# server: bulk upsert of BENCH_BULK_ITEMS companies in batches of 1 000, a read of the whole
# change feed (BENCH_BULK_ITEMS + events), and the feed lag under BENCH_LAG_RATE writes/s.
# Usage: bash bench/integration/run.sh   (see bench/README.md, "Integration")
#   BENCH_BULK_ITEMS=100000  BENCH_LAG_RATE=1000  BENCH_DURATION=15  BENCH_SKIP_BUILD=1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ITEMS="${BENCH_BULK_ITEMS:-100000}"
RATE="${BENCH_LAG_RATE:-1000}"
DURATION="${BENCH_DURATION:-15}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/sdelka"
LOADGEN="$TARGET_DIR/bench/loadgen"
OUT="${BENCH_RESULTS_FILE:-$ROOT/bench/results/integration.txt}"
PG="postgres://postgres@127.0.0.1:5432/sdelka_bench"
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="bench-$(date +%s)-Passw0rd!"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then cargo build --release -p sdelka-api; fi
mkdir -p "$(dirname "$LOADGEN")"
[[ -x "$LOADGEN" && "$LOADGEN" -nt bench/loadgen/main.rs ]] ||
  rustc --edition 2021 -C opt-level=3 -o "$LOADGEN" bench/loadgen/main.rs

psql -h 127.0.0.1 -U postgres -d postgres -qc 'DROP DATABASE IF EXISTS sdelka_bench' -c 'CREATE DATABASE sdelka_bench'
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
env -u SDELKA_SMTP_URL SDELKA_DATABASE_URL="$PG" SDELKA_DATA_DIR="$WORK/data" SDELKA_BIND="127.0.0.1:$PORT" \
  SDELKA_ADMIN_EMAIL="$ADMIN_EMAIL" SDELKA_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SDELKA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
  SDELKA_RATE_LIMIT_PER_SECOND=1000000 SDELKA_RATE_LIMIT_BURST=1000000 SDELKA_LOG=warn \
  "$BIN" serve >"$WORK/server.log" 2>&1 </dev/null &
SERVER_PID=$!
for _ in $(seq 1 600); do
  curl -sf -o /dev/null "$BASE/health/ready" && break
  sleep 0.1
done
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
{
  echo "# bash bench/integration/run.sh  ($(date -u +%FT%TZ), $(nproc) cores, PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version'))"
  echo "# BENCH_BULK_ITEMS=$ITEMS BENCH_LAG_RATE=$RATE BENCH_DURATION=$DURATION"
  echo "bulk-upsert  $BULK"
  echo "feed-read    $FEED"
  echo "lag-writes   $WRITES"
  echo "feed-lag     $LAG"
} | tee "$OUT"
