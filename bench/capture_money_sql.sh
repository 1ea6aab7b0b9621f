#!/usr/bin/env bash
# Prints the SQL the release server sends to PostgreSQL for one "register a payment" request of
# bench/run.sh (case register-payment) — the source bench/sql/register_payment.sql was
# transcribed from — and for one "issue an invoice" (case issue-invoice), for reference.
# Re-run it after changing api/src/routes/payments.rs or api/src/routes/invoices.rs and compare.
#
# It DROPS AND RECREATES the database sdelka_bench on 127.0.0.1:5432 (user postgres), sets
# log_statement=all for that database only (reset at the end), starts target/release/sdelka on a
# free 127.0.0.1 port, sends the requests with curl and prints the new lines of the server log
# of PostgreSQL (/var/log/postgresql/postgresql-*-main.log, readable by the caller).
# Usage: bash bench/capture_money_sql.sh [OUTPUT_FILE]
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

api() { # NAME BODY PATH — POST, 201 expected; the body lands in $WORK/NAME.json
  code="$(req -X POST "$BASE$3" --data-binary "$2")"
  [[ $code == 201 ]] || { echo "$1: $code" >&2; cat "$WORK/body.json" >&2; exit 1; }
  cp "$WORK/body.json" "$WORK/$1.json"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/$1.json" "$2"; }
api org "$(sed 's/{n}/1/g' bench/bodies/organization.json)" /api/v1/organizations
ORG="$(field org id)"
api template "{\"organization_id\": \"$ORG\", \"document_type\": \"invoice\", \"template\": \"СЧ-{YYYY}-{N:8}\", \"reset\": \"yearly\"}" /api/v1/numbering-templates
api company '{"name": "ТСЖ Берёзка"}' /api/v1/companies
api buyer "{\"company_id\": \"$(field company id)\", \"kind\": \"legal_entity\", \"full_name\": \"ТСЖ Берёзка\", \"short_name\": \"Берёзка\", \"inn\": \"7707083893\", \"kpp\": \"773601001\"}" /api/v1/legal-entities
api invoice "{\"organization_id\": \"$ORG\", \"buyer_legal_entity_id\": \"$(field buyer id)\", \"lines\": [{\"name\": \"Монтаж\", \"price\": \"1245.50\", \"vat_rate\": \"none\"}]}" /api/v1/invoices
mark "POST /api/v1/invoices/{id}/actions/issue"
code="$(req -X POST "$BASE/api/v1/invoices/$(field invoice id)/actions/issue" --data-binary '{}')"
[[ $code == 200 ]] || { cat "$WORK/body.json" >&2; exit 1; }
mark "POST /api/v1/payments"
code="$(req -X POST "$BASE/api/v1/payments" --data-binary "$(sed 's/{n}/1/g' bench/bodies/payment.json)")"
[[ $code == 201 ]] || { cat "$WORK/body.json" >&2; exit 1; }
mark "end"
sleep 0.5
tail -c +"$START" "$PGLOG" | grep -v 'LOG:  statement: SELECT .CAPTURE: end' >"$OUT"
