#!/usr/bin/env bash
# INT-1C-2 benchmark on PostgreSQL (database sdelka_bench_bank, dropped and recreated): a
# statement of BENCH_PAYMENTS (10 000) incoming payments, each naming one of as many issued
# invoices (seeded with bench/sql/seed_issued_invoices.sql), posted to /api/v1/bank-statements
# of the release server; the time from the POST until the statement is `completed` (parsed,
# matched, payments registered and applied — by the statement job, as any file of more than
# SDELKA_BANK_STATEMENT_JOB_DOCUMENTS documents). Target ≤ 2 s.
# Usage: bash bench/bank_statement.sh   (BENCH_PAYMENTS=10000 BENCH_SKIP_BUILD=1)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${BENCH_PAYMENTS:-10000}"
BIN="${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sdelka}"
OUT="${BENCH_RESULTS_FILE:-$ROOT/bench/results/bank-statement.txt}"
PGDB=sdelka_bench_bank
PG="postgres://postgres@127.0.0.1:5432/$PGDB"
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
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $PGDB" -c "CREATE DATABASE $PGDB"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
env -u SDELKA_SMTP_URL SDELKA_DATABASE_URL="$PG" SDELKA_DATA_DIR="$WORK/data" SDELKA_BIND="127.0.0.1:$PORT" \
  SDELKA_ADMIN_EMAIL="$ADMIN_EMAIL" SDELKA_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SDELKA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
  SDELKA_RATE_LIMIT_PER_SECOND=1000000 SDELKA_RATE_LIMIT_BURST=1000000 SDELKA_LOG=warn \
  SDELKA_IMPORT_POLL_MS=20 SDELKA_MAX_IMPORT_BYTES=268435456 \
  "$BIN" serve >"$WORK/server.log" 2>&1 </dev/null &
SERVER_PID=$!
for _ in $(seq 1 600); do
  curl -sf -o /dev/null "$BASE/health/ready" && break
  sleep 0.1
done
RESULT="$(python3 - "$BASE" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$N" "$WORK" "$PG" <<'PY'
import json, subprocess, sys, time, urllib.request
base, email, password, n, work, pg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]

def call(method, path, body=None, token=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, json.loads(r.read() or b"null")

_, login = call("POST", "/api/v1/auth/login", {"email": email, "password": password})
token = login["access_token"]
_, org = call("POST", "/api/v1/organizations", {
    "name": "ООО «Ромашка»", "short_name": "Ромашка", "code": "RM", "inn": "7707083893",
    "kpp": "773601001", "ogrn": "1027700132195", "vat_payer": True, "legal_address": "Москва",
    "bank_accounts": [{"bank_name": "ПАО Сбербанк", "bik": "044525225",
                       "correspondent_account": "30101810400000000225",
                       "settlement_account": "40702810938000000001"}]}, token)
_, company = call("POST", "/api/v1/companies", {"name": "ТСЖ Берёзка"}, token)
_, buyer = call("POST", "/api/v1/legal-entities", {
    "company_id": company["id"], "kind": "legal_entity", "full_name": "ТСЖ «Берёзка»",
    "short_name": "Берёзка", "inn": "7707083893", "kpp": "773601001", "legal_address": "Москва"}, token)
actor = company["responsible_id"]
subprocess.run(["psql", pg, "-q", "-v", f"org={org['id']}", "-v", f"buyer={buyer['id']}",
                "-v", f"actor={actor}", "-v", "date=2026-12-01", "-v", f"count={n}",
                "-f", "bench/sql/seed_issued_invoices.sql"], check=True)
subprocess.run([sys.executable, "bench/bank_statement_gen.py", str(n), f"{work}/statement.txt"], check=True)
body = open(f"{work}/statement.txt", "rb").read()
start = time.monotonic()
status, st = call("POST", "/api/v1/bank-statements", raw=body, token=token, ctype="text/plain")
posted = time.monotonic() - start
while st["state"] not in ("completed", "failed"):
    time.sleep(0.02)
    _, st = call("GET", f"/api/v1/bank-statements/{st['id']}", token=token)
elapsed = time.monotonic() - start
print(f"bank-statement  payments={n} bytes={len(body)} answer={status} in {posted:.3f} s; "
      f"state={st['state']} applied={st['applied']} created={st['created']} "
      f"duplicate={st['duplicate']} not_imported={st['not_imported']} total={elapsed:.3f} s "
      f"({n / elapsed:.0f} payments/s)")
PY
)"
{
  echo "# bash bench/bank_statement.sh  ($(date -u +%FT%TZ), $(nproc) cores, PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version'))"
  echo "# BENCH_PAYMENTS=$N"
  echo "$RESULT"
} | tee "$OUT"
