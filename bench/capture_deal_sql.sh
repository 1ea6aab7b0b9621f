#!/usr/bin/env bash
# Prints the SQL the release server sends to PostgreSQL for one "create deal with 3 product rows"
# iteration and for the two filtered deal lists of bench/run.sh — the source that
# bench/sql/create_deal_with_rows.sql and bench/sql/explain_deal_list.sql were transcribed from.
# Re-run it after changing api/src/routes/deals.rs or persistence/src/sales.rs and compare.
#
# It DROPS AND RECREATES the database sdelka_bench on 127.0.0.1:5432 (user postgres), sets
# log_statement=all for that database only (reset at the end), starts target/release/sdelka on a
# free 127.0.0.1 port, sends the requests with curl and prints the new lines of the server log
# of PostgreSQL (/var/log/postgresql/postgresql-*-main.log, readable by the caller).
# Usage: bash bench/capture_deal_sql.sh [OUTPUT_FILE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/sdelka"
OUT="${1:-/dev/stdout}"
PGLOG="$(ls -t /var/log/postgresql/postgresql-*-main.log | head -n 1)"
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -q)
WORK="$(mktemp -d /tmp/sdelka-capture.XXXXXX)"
PASSWORD="capture-$(date +%s)-Passw0rd!"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  "${PSQL[@]}" -d postgres -c "ALTER DATABASE sdelka_bench RESET log_statement" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS sdelka_bench WITH (FORCE)" -c "CREATE DATABASE sdelka_bench"
URL=postgres://postgres@127.0.0.1:5432/sdelka_bench
SDELKA_DATABASE_URL=$URL SDELKA_DATA_DIR="$WORK/data" SDELKA_LOG=warn "$BIN" migrate >/dev/null
"${PSQL[@]}" -d postgres -c "ALTER DATABASE sdelka_bench SET log_statement = 'all'"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
SDELKA_DATABASE_URL=$URL SDELKA_DATA_DIR="$WORK/data" SDELKA_BIND="127.0.0.1:$PORT" \
  SDELKA_ADMIN_EMAIL=admin@example.com SDELKA_ADMIN_PASSWORD="$PASSWORD" \
  SDELKA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
  SDELKA_LOG=warn "$BIN" serve >"$WORK/server.log" 2>&1 </dev/null &
SERVER_PID=$!
for _ in $(seq 1 600); do # at most 60 s
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/health/ready" || true)" == 200 ]] && break
  sleep 0.1
done
TOKEN="$(curl -sS --max-time 30 -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\": \"admin@example.com\", \"password\": \"$PASSWORD\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
START=$(($(wc -c <"$PGLOG") + 1))
mark() { "${PSQL[@]}" -d sdelka_bench -c "SELECT 'CAPTURE: $1'" >/dev/null; }
req() { curl -sS --max-time 30 -o "$WORK/body.json" -D "$WORK/headers.txt" -w '%{http_code}' \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

mark "POST /api/v1/deals"
code="$(req -X POST "$BASE/api/v1/deals" --data-binary '{"title": "Лифты 1"}')"
[[ $code == 201 ]] || { cat "$WORK/body.json" >&2; exit 1; }
DEAL="$(sed -n 's|^[Ll]ocation: /api/v1/deals/\([^[:space:]]*\).*|\1|p' "$WORK/headers.txt")"
i=0
for body in \
  '{"name": "Обследование лифта", "quantity": "2", "price": "15000.00", "vat_rate": "22"}' \
  '{"name": "Замена тросов", "quantity": "4", "price": "8250.50", "vat_rate": "22", "discount_percent": "5"}' \
  '{"name": "Выезд инженера", "quantity": "1", "price": "3000.00", "vat_rate": "none"}'; do
  i=$((i + 1))
  mark "POST /api/v1/deals/{id}/product-rows #$i"
  code="$(req -X POST "$BASE/api/v1/deals/$DEAL/product-rows" --data-binary "$body")"
  [[ $code == 201 ]] || { cat "$WORK/body.json" >&2; exit 1; }
done
mark "GET /api/v1/deals?stage_id=…0102&amount_min=100000.00&limit=50"
req "$BASE/api/v1/deals?stage_id=01930000-0000-7000-8000-00005a1e0102&amount_min=100000.00&limit=50" >/dev/null
mark "GET /api/v1/deals?responsible_id=…&sort=-amount&limit=50"
req "$BASE/api/v1/deals?responsible_id=01930000-0000-7000-8000-00000000beef&sort=-amount&limit=50" >/dev/null
mark "end"
sleep 0.5
tail -c +"$START" "$PGLOG" | grep -v 'LOG:  statement: SELECT .CAPTURE: end' >"$OUT"
