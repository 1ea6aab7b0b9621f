#!/usr/bin/env bash
# Sdelka benchmark: the release server on PostgreSQL and on SQLite, creates and filtered lists at
# peak (wrk), creates at half the peak rate (bench/loadgen, fixed rate), the same create
# transaction straight into PostgreSQL (pgbench), memory and time-to-ready; on PostgreSQL also
# deals: filtered lists over 100 000 seeded deals and "create a deal with 3 product rows"
# (API and pgbench); and the supplier-invoice claim race (200 concurrent claims, one winner).
# See bench/README.md for what each figure means. Usage: bash bench/run.sh
#
# Env (all optional):
#   BENCH_CASES=organizations,deal-list,deal-create,issue-invoice,register-payment,print-invoice,claim-race
#                              which cases to run (comma-separated subset; default all):
#                              organizations = the original PostgreSQL + SQLite organization runs,
#                              pgbench, memory, time to ready; deal-list = filtered deal lists over
#                              BENCH_DEALS seeded deals (PostgreSQL); deal-create = deal + 3 product
#                              rows, API and pgbench (PostgreSQL); claim-race = 200 concurrent
#                              claims of one approved supplier invoice by two accountants, per
#                              round (PostgreSQL): time until all settled, one winner, one email;
#                              issue-invoice = numbers/s issuing seeded draft invoices from one
#                              numbering template (PostgreSQL), checked gap-free afterwards;
#                              register-payment = POST /payments, API and pgbench (PostgreSQL);
#                              print-invoice = GET /invoices/{id}/print of a 10-line invoice, as
#                              PDF and as HTML (PostgreSQL)
#   BENCH_CLAIM_ROUNDS=5       invoices raced in claim-race
#   BENCH_INVOICE_DRAFTS=60000 drafts seeded for issue-invoice (one is issued per request)
#   BENCH_DEALS=100000         deals seeded for deal-list
#   BENCH_DEAL_LIST_LIGHT_RATE=100  req/s of the light fixed-rate deal-list run
#   BENCH_DURATION=15          seconds per load run
#   BENCH_THREADS=2            wrk threads
#   BENCH_CONNECTIONS=32       wrk connections and pgbench clients
#   BENCH_RATE_CONNECTIONS=64  connections of the fixed-rate run
#   BENCH_SERVER_LOG=warn      SDELKA_LOG for the server under test
#   BENCH_SKIP_BUILD=1         use the existing target/release/sdelka
#   BENCH_RESULTS_FILE=…       where the summary goes (default bench/results/latest.txt)
#   BENCH_KEEP=1               keep the work folder (server logs, raw outputs)
#   BENCH_ALLOW_ERRORS=1       exit 0 even when a load run saw non-2xx answers or socket errors
# Only 127.0.0.1 is ever targeted; PostgreSQL must answer on 127.0.0.1:5432 as user postgres.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-15}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
RATE_CONNECTIONS="${BENCH_RATE_CONNECTIONS:-64}"
SERVER_LOG_FILTER="${BENCH_SERVER_LOG:-warn}"
PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
PG_DB=sdelka_bench
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="bench-$(date +%s)-Passw0rd!"
BODY_FILE=bench/bodies/organization.json
LIST_QUERY='q=%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0&limit=50' # q=Ромашка
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/sdelka"
LOADGEN="$TARGET_DIR/bench/loadgen"
RESULTS_FILE="${BENCH_RESULTS_FILE:-$ROOT/bench/results/latest.txt}"
EXPLAIN_FILE="$ROOT/bench/results/deal-list-explain.txt"
CASES="${BENCH_CASES:-organizations,deal-list,deal-pages,deal-create,issue-invoice,register-payment,print-invoice,claim-race}"
INVOICE_DRAFTS="${BENCH_INVOICE_DRAFTS:-60000}"
PAYMENT_BODY_FILE=bench/bodies/payment.json
CLAIM_ROUNDS="${BENCH_CLAIM_ROUNDS:-5}"
CLAIMS=200
DEAL_COUNT="${BENCH_DEALS:-100000}"
DEAL_LIST_LIGHT_RATE="${BENCH_DEAL_LIST_LIGHT_RATE:-100}"
DEFAULT_PIPELINE=01930000-0000-7000-8000-00005a1e0001
STAGE_IN_WORK=01930000-0000-7000-8000-00005a1e0102 # «В работе», fixed in migrations/src/m0003_sales.rs
DEAL_LIST_AMOUNT_MIN=100000.00
PAGE_DEAL_COUNT="${BENCH_PAGE_DEALS:-1000000}"
PAGE_RATE="${BENCH_PAGE_RATE:-20}"
PAGE_TOTAL_RATE="${BENCH_PAGE_TOTAL_RATE:-2}"

[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 600 ]] ||
  { echo "BENCH_DURATION must be 1..600 seconds" >&2; exit 2; }
[[ "$DEAL_LIST_LIGHT_RATE" =~ ^[0-9]+$ && "$DEAL_LIST_LIGHT_RATE" -ge 1 ]] ||
  { echo "BENCH_DEAL_LIST_LIGHT_RATE must be a positive integer" >&2; exit 2; }
[[ "$PAGE_DEAL_COUNT" =~ ^[0-9]+$ && "$PAGE_DEAL_COUNT" -ge 1000 && "$PAGE_DEAL_COUNT" -le 10000000 ]] ||
  { echo "BENCH_PAGE_DEALS must be 1000..10000000" >&2; exit 2; }
[[ "$PAGE_RATE" =~ ^[0-9]+$ && "$PAGE_RATE" -ge 1 ]] ||
  { echo "BENCH_PAGE_RATE must be a positive integer" >&2; exit 2; }
[[ "$DEAL_COUNT" =~ ^[0-9]+$ && "$DEAL_COUNT" -ge 1000 && "$DEAL_COUNT" -le 10000000 ]] ||
  { echo "BENCH_DEALS must be 1000..10000000" >&2; exit 2; }
for c in ${CASES//,/ }; do
  case "$c" in
    organizations | deal-list | deal-pages | deal-create | claim-race) ;;
    issue-invoice | register-payment | print-invoice) ;;
    *) echo "BENCH_CASES: unknown case '$c' (known: organizations, deal-list, deal-pages, deal-create, issue-invoice, register-payment, print-invoice, claim-race)" >&2; exit 2 ;;
  esac
done
has_case() { [[ ",${CASES// /,}," == *",$1,"* ]]; }

WORK="$(mktemp -d /tmp/sdelka-bench.XXXXXX)"
SERVER_PID=""
SAMPLER_PID=""
PROBLEMS=()

log() { printf '\n[bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '\n[bench] ERROR: %s\n' "$*" >&2
  if [[ -n "${SERVER_LOG:-}" && -f "${SERVER_LOG:-}" ]]; then
    echo "---- last 40 lines of $SERVER_LOG ----" >&2
    tail -n 40 "$SERVER_LOG" >&2 || true
  fi
  exit 1
}

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do # up to 10 s for a graceful shutdown
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
  stop_server
  if [[ "${BENCH_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
    echo "[bench] work folder kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# json_get FILE EXPR — EXPR is a Python expression over `d` (the parsed JSON).
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------------------------
ensure_tools() {
  log "checking tools"
  for t in curl python3 rustc cargo; do
    command -v "$t" >/dev/null || die "$t is required"
  done
  if ! command -v wrk >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "wrk is missing: apt-get install -y wrk"
    log "installing wrk (apt-get)"
    apt-get install -y -qq wrk >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || die "could not install wrk"
  fi
  for t in psql pgbench pg_isready; do
    command -v "$t" >/dev/null || die "$t is required (Debian: postgresql-client)"
  done
  pg_isready -h "$PG_HOST" -p "$PG_PORT" -t 5 >/dev/null ||
    die "PostgreSQL does not answer on $PG_HOST:$PG_PORT (start it: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)"

  log "building bench/loadgen (fixed-rate load generator, std only)"
  mkdir -p "$(dirname "$LOADGEN")"
  if [[ ! -x "$LOADGEN" || bench/loadgen/main.rs -nt "$LOADGEN" ]]; then
    rustc --edition 2021 -C opt-level=3 -o "$LOADGEN" bench/loadgen/main.rs ||
      die "could not build bench/loadgen"
  fi

  if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release -p sdelka-api"
    cargo build --release -p sdelka-api || die "release build failed"
  fi
  [[ -x "$BIN" ]] || die "$BIN not found"
  echo "wrk: $(wrk --version 2>&1 | head -n 1)"
  echo "pgbench: $(pgbench --version)"
}

# ---------------------------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------------------------
# start_server NAME DATABASE_URL DATA_DIR — starts the release binary, waits for /health/ready
# (polling every 10 ms, at most 60 s) and sets SERVER_PID, BASE, READY_MS, SERVER_LOG.
start_server() {
  local name=$1 db_url=$2 data_dir=$3 port t0 code
  port="$(free_port)"
  BASE="http://127.0.0.1:$port"
  SERVER_LOG="$WORK/server-$name.log"
  mkdir -p "$data_dir"
  # SQLite: SDELKA_DATABASE_URL unset (the default database in the data folder); mail always goes
  # to the data folder (SDELKA_SMTP_URL unset).
  local -a db_env=(-u SDELKA_DATABASE_URL)
  [[ -z "$db_url" ]] || db_env=("SDELKA_DATABASE_URL=$db_url")
  t0="$(now_ms)"
  env -u SDELKA_SMTP_URL "${db_env[@]}" \
    SDELKA_DATA_DIR="$data_dir" \
    SDELKA_BIND="127.0.0.1:$port" \
    SDELKA_ADMIN_EMAIL="$ADMIN_EMAIL" \
    SDELKA_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    SDELKA_JWT_SECRET="$JWT_SECRET" \
    SDELKA_RATE_LIMIT_PER_SECOND=1000000 \
    SDELKA_RATE_LIMIT_BURST=1000000 \
    SDELKA_LOG="$SERVER_LOG_FILTER" \
    "$BIN" serve >>"$SERVER_LOG" 2>&1 </dev/null &
  SERVER_PID=$!
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/health/ready" || true)"
    if [[ "$code" == 200 ]]; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "server ($name) exited before it was ready; log: $SERVER_LOG"
    (($(now_ms) - t0 < 60000)) || die "server ($name) not ready after 60 s (last /health/ready: $code)"
    sleep 0.01
  done
  READY_MS=$(($(now_ms) - t0))
  echo "server ($name) pid $SERVER_PID ready on $BASE after $READY_MS ms"
}

login() {
  local out="$WORK/login.json" code
  code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 -X POST "$BASE/api/v1/auth/login" \
    -H 'Content-Type: application/json' \
    -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}")" || die "login request failed"
  [[ "$code" == 200 ]] || die "login answered $code: $(head -c 500 "$out")"
  TOKEN="$(json_get "$out" 'd["access_token"]')" || die "no access_token in: $(head -c 500 "$out")"
}

# Checks that one create answers 201 and one list 200 before any load is sent.
smoke_check() {
  local out="$WORK/smoke.json" code
  sed 's/{n}/0/g' "$BODY_FILE" >"$WORK/smoke-body.json"
  code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 -X POST "$BASE/api/v1/organizations" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data-binary "@$WORK/smoke-body.json")" || die "create request failed"
  [[ "$code" == 201 ]] || die "POST /api/v1/organizations answered $code (expected 201): $(head -c 800 "$out")"
  code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 \
    -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/organizations?$LIST_QUERY")" || die "list request failed"
  [[ "$code" == 200 ]] || die "GET /api/v1/organizations?$LIST_QUERY answered $code (expected 200): $(head -c 800 "$out")"
}

start_sampler() {
  local pid=$1 out=$2 limit_s=$3
  rm -f "$WORK/sampler.stop"
  echo 0 >"$out"
  (
    deadline=$(($(date +%s) + limit_s))
    max=0
    while [[ ! -e "$WORK/sampler.stop" ]] && (($(date +%s) < deadline)) && kill -0 "$pid" 2>/dev/null; do
      kb="$(rss_kb "$pid")"
      kb="${kb:-0}"
      if ((kb > max)); then
        max=$kb
        echo "$max" >"$out"
      fi
      sleep 0.2
    done
  ) &
  SAMPLER_PID=$!
}

stop_sampler() {
  touch "$WORK/sampler.stop"
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
}

# ---------------------------------------------------------------------------------------------
# load runs; each sets R_RPS R_P50 R_P99 R_BAD (non-2xx + socket errors) R_NOTE
# ---------------------------------------------------------------------------------------------
wrk_field() { sed -n 's/.*[[:space:]]'"$2"'=\([0-9]*\).*/\1/p' <<<"$1"; }

# run_wrk CASE SCRIPT URL SEQ_BASE
run_wrk() {
  local case=$1 script=$2 url=$3 seq_base=$4 out line requests dur p50 p99 bad
  out="$WORK/wrk-$case.txt"
  log "$case: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s ($script)"
  BENCH_TOKEN="$TOKEN" BENCH_BODY_FILE="$BODY_FILE" BENCH_SEQ_BASE="$seq_base" \
    timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s "$script" --latency "$url" | tee "$out" || die "wrk failed ($case)"
  line="$(grep '^WRK_RESULT' "$out" || true)"
  [[ -n "$line" ]] || die "wrk printed no WRK_RESULT line ($case)"
  requests="$(wrk_field "$line" requests)"
  dur="$(wrk_field "$line" duration_us)"
  p50="$(wrk_field "$line" p50_us)"
  p99="$(wrk_field "$line" p99_us)"
  bad=$(($(wrk_field "$line" status_errors) + $(wrk_field "$line" connect_errors) + $(wrk_field "$line" read_errors) + $(wrk_field "$line" write_errors) + $(wrk_field "$line" timeouts)))
  R_OK_RPS="$(awk -v r="$requests" -v e="$(wrk_field "$line" status_errors)" -v d="$dur" 'BEGIN {printf "%.1f", (r - e) / (d / 1e6)}')"
  R_RPS="$(awk -v r="$requests" -v d="$dur" 'BEGIN {printf "%.1f", r / (d / 1e6)}')"
  R_P50="$(awk -v v="$p50" 'BEGIN {printf "%.2f", v / 1000}')"
  R_P99="$(awk -v v="$p99" 'BEGIN {printf "%.2f", v / 1000}')"
  R_BAD=$bad
  R_NOTE=""
  if ((bad > 0)); then
    R_NOTE="$bad non-2xx/socket errors"
    PROBLEMS+=("$case: $R_NOTE (see $out)")
  fi
}

# run_fixed CASE RATE SEQ_START [URL METHOD] — default: the organization create; with
# METHOD GET no body is sent.
run_fixed() {
  local case=$1 rate=$2 seq=$3 url=${4:-$BASE/api/v1/organizations} method=${5:-POST} out not_sent
  local -a body=(--header 'Content-Type: application/json' --body-file "$BODY_FILE")
  [[ $method != GET ]] || body=(--header 'Accept: application/json')
  out="$WORK/loadgen-$case.json"
  log "$case: bench/loadgen $method --rate $rate --connections $RATE_CONNECTIONS --duration $DURATION"
  timeout $((DURATION + 60)) "$LOADGEN" --url "$url" --method "$method" \
    --header "Authorization: Bearer $TOKEN" "${body[@]}" --seq-start "$seq" --rate "$rate" \
    --connections "$RATE_CONNECTIONS" --duration "$DURATION" --timeout 10 --label "$case" \
    >"$out" || die "loadgen failed ($case)"
  cat "$out"
  R_RPS="$(json_get "$out" '"%.1f" % d["rps"]')"
  R_P50="$(json_get "$out" '"%.2f" % d["latency_ms"]["p50"]')"
  R_P99="$(json_get "$out" '"%.2f" % d["latency_ms"]["p99"]')"
  R_BAD="$(json_get "$out" 'd["non_2xx"] + d["errors"]')"
  not_sent="$(json_get "$out" 'd["not_sent"]')"
  R_NOTE=""
  if ((R_BAD > 0)); then
    R_NOTE="$R_BAD non-2xx/socket errors"
    PROBLEMS+=("$case: $R_NOTE (see $out)")
  fi
  if ((not_sent > 0)); then
    R_NOTE="${R_NOTE:+$R_NOTE; }$not_sent never sent: rate not sustained"
    PROBLEMS+=("$case: $not_sent scheduled requests never sent - the server could not sustain $rate req/s")
  fi
}

ROWS=()
PAGE_ROWS=()
declare -A CREATE_RPS=() RSS_IDLE=() RSS_PEAK=() READY=()
add_row() { # backend case
  local row
  row="$(printf '%-8s %-38s %10s %9s %9s %8s  %s' "$1" "$2" "$R_RPS" "$R_P50" "$R_P99" "$R_BAD" "$R_NOTE")"
  ROWS+=("${row%"${row##*[![:space:]]}"}")
}

# bench_backend NAME DATABASE_URL DATA_DIR — fills CREATE_RPS[NAME], RSS_IDLE/RSS_PEAK[NAME], READY[NAME].
bench_backend() {
  local name=$1 db_url=$2 data_dir=$3 idle peak create_rps half
  log "=== $name ==="
  start_server "$name" "$db_url" "$data_dir"
  READY[$name]=$READY_MS
  sleep 1
  idle="$(rss_kb "$SERVER_PID")"
  login
  smoke_check
  start_sampler "$SERVER_PID" "$WORK/rss-peak-$name" $((3 * DURATION + 240))

  run_wrk "$name-create" bench/wrk/create_organization.lua "$BASE/api/v1/organizations" 100000000
  add_row "$name" "create (wrk, peak)"
  create_rps=$R_OK_RPS
  CREATE_RPS[$name]=$create_rps

  if [[ $name == pg ]]; then
    # The create run has just inserted tens of thousands of rows in seconds, faster than
    # autovacuum re-analyses the table; without statistics the planner sorts a full scan
    # instead of walking the (created_at, id) index. Analyse, as autovacuum soon would.
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -qc 'ANALYZE' >/dev/null
  fi
  run_wrk "$name-list" bench/wrk/list_organizations.lua "$BASE/api/v1/organizations?$LIST_QUERY" 0
  add_row "$name" "filtered list, limit=50 (wrk, peak)"

  half="$(awk -v r="$create_rps" 'BEGIN {printf "%d", r / 2}')"
  if ((half < 1)); then
    die "$name: peak create rate $create_rps req/s is too low to run at half of it"
  fi
  run_fixed "$name-create-half" "$half" 9000000000
  add_row "$name" "create @ $half req/s (fixed, half peak)"

  stop_sampler
  peak="$(cat "$WORK/rss-peak-$name")"
  ((peak >= idle)) || peak=$idle
  RSS_IDLE[$name]="$(awk -v k="$idle" 'BEGIN {printf "%.1f", k / 1024}')"
  RSS_PEAK[$name]="$(awk -v k="$peak" 'BEGIN {printf "%.1f", k / 1024}')"
  stop_server
}

# run_pgbench SQL_FILE MIRRORED_RUST_CODE [PGBENCH_ARGS...] — sets PGBENCH_TPS.
run_pgbench() {
  local sql=$1 mirrors=$2 out failed
  shift 2
  out="$WORK/pgbench-$(basename "$sql" .sql).txt"
  log "pgbench -n -f $sql $* -c $CONNECTIONS -j $THREADS -T $DURATION $PG_DB"
  if ! timeout $((DURATION + 60)) pgbench -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -n \
    -f "$sql" "$@" -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" "$PG_DB" \
    >"$out" 2>&1; then
    cat "$out" >&2
    die "pgbench failed — $sql probably no longer matches the schema (KEEP IN SYNC with $mirrors)"
  fi
  cat "$out"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")"
  [[ "${failed:-0}" == 0 ]] || die "pgbench: $failed failed transactions"
  PGBENCH_TPS="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$out")"
  PGBENCH_TPS="$(awk -v t="$PGBENCH_TPS" 'BEGIN {if (t != "") printf "%.1f", t}')"
  [[ -n "$PGBENCH_TPS" ]] || die "could not read tps from pgbench output"
}

# ---------------------------------------------------------------------------------------------
# deals (PostgreSQL only)
# ---------------------------------------------------------------------------------------------
psql_bench() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 "$@"; }

# api_call NAME EXPECTED_CODE CURL_ARGS... — authenticated request; the body lands in
# $WORK/NAME.json and the headers in $WORK/NAME.headers; dies on another status.
api_call() {
  local name=$1 expected=$2 code
  shift 2
  code="$(curl -sS -o "$WORK/$name.json" -D "$WORK/$name.headers" -w '%{http_code}' --max-time 30 \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@")" ||
    die "request failed ($name)"
  [[ "$code" == "$expected" ]] || die "$name answered $code (expected $expected): $(head -c 800 "$WORK/$name.json")"
}

# The row bodies of one iteration — KEEP IN SYNC with bench/wrk/create_deal_with_rows.lua.
DEAL_ROWS=(
  '{"name": "Обследование лифта", "quantity": "2", "price": "15000.00", "vat_rate": "22"}'
  '{"name": "Замена тросов", "quantity": "4", "price": "8250.50", "vat_rate": "22", "discount_percent": "5"}'
  '{"name": "Выезд инженера", "quantity": "1", "price": "3000.00", "vat_rate": "none"}'
)

# One iteration with curl before any load: create answers 201 with a Location, each row 201.
deal_smoke_check() {
  local id i=0
  api_call deal-smoke 201 -X POST "$BASE/api/v1/deals" --data-binary '{"title": "Лифты 0"}'
  id="$(sed -n 's|^[Ll]ocation: /api/v1/deals/\([0-9a-f-]*\).*|\1|p' "$WORK/deal-smoke.headers")"
  [[ -n "$id" ]] || die "POST /api/v1/deals: no Location header"
  for row in "${DEAL_ROWS[@]}"; do
    i=$((i + 1))
    api_call "deal-smoke-row$i" 201 -X POST "$BASE/api/v1/deals/$id/product-rows" --data-binary "$row"
  done
  api_call deal-smoke-get 200 "$BASE/api/v1/deals/$id"
  echo "smoke deal $id: amount $(json_get "$WORK/deal-smoke-get.json" 'd["amount"]') after 3 rows"
}

# Creates the sales managers the seeded deals are spread over; sets DEAL_USERS (array literal
# for PostgreSQL) and DEAL_USER2 (a manager's id for the responsible filter).
create_sales_managers() {
  local ids=("$ADMIN_ID") i
  for i in 1 2 3 4; do
    api_call "deal-user$i" 201 -X POST "$BASE/api/v1/users" --data-binary \
      "{\"email\": \"manager$i-$(date +%s)@example.com\", \"name\": \"Менеджер $i\", \"password\": \"$ADMIN_PASSWORD\", \"roles\": [\"sales_manager\"]}"
    ids+=("$(json_get "$WORK/deal-user$i.json" 'd["id"]')")
  done
  DEAL_USERS="{$(IFS=,; echo "${ids[*]}")}"
  DEAL_USER_COUNT=${#ids[@]}
  DEAL_USER2="${ids[2]}"
}

# Issue 10 item 19: every kind of deal-list page at BENCH_PAGE_DEALS (1 000 000) deals on
# PostgreSQL at a fixed, light BENCH_PAGE_RATE (20 req/s): the first page, a cursor in the middle
# (created_at and -amount), the filters, a rare and a common q, and include_total. Cursors in the
# middle are built from the row at half the list the way the server builds them
# (persistence/src/pagination.rs: base64url of {"s": sort, "k": {"t", "v"}, "id"}).
bench_deal_pages() {
  local n t0 mid_created mid_amount rare common label query p99 over=()
  [[ -n "${DEAL_USERS:-}" ]] || create_sales_managers
  psql_bench -qAtc "DELETE FROM product_rows WHERE document_type = 'deal'" \
    -c "DELETE FROM deal_stage_changes" -c "DELETE FROM deals" >/dev/null
  log "deal-pages: seeding $PAGE_DEAL_COUNT deals with bench/sql/seed_deals.sql (+ VACUUM ANALYZE)"
  t0="$(now_ms)"
  psql_bench -q -v count="$PAGE_DEAL_COUNT" -v users="$DEAL_USERS" -f bench/sql/seed_deals.sql >/dev/null ||
    die "seeding deals failed — bench/sql/seed_deals.sql no longer matches the deals table?"
  psql_bench -qc "VACUUM ANALYZE deals" >/dev/null
  n="$(psql_bench -qAtc 'SELECT count(*) FROM deals')"
  [[ "$n" == "$PAGE_DEAL_COUNT" ]] || die "expected $PAGE_DEAL_COUNT deals after seeding, found $n"
  echo "seeded $n deals in $(($(now_ms) - t0)) ms"
  mid_created="$(psql_bench -qAtc "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || ' ' || id FROM deals WHERE deleted_at IS NULL ORDER BY created_at, id OFFSET $((n / 2)) LIMIT 1")"
  mid_amount="$(psql_bench -qAtc "SELECT amount_minor || ' ' || id FROM deals WHERE deleted_at IS NULL ORDER BY amount_minor DESC, id DESC OFFSET $((n / 2)) LIMIT 1")"
  mid_created="$(python3 -c 'import base64,json,sys; v,i=sys.argv[1].split(); print(base64.urlsafe_b64encode(json.dumps({"s":"created_at","k":{"t":"time","v":v},"id":i}).encode()).decode().rstrip("="))' "$mid_created")"
  mid_amount="$(python3 -c 'import base64,json,sys; v,i=sys.argv[1].split(); print(base64.urlsafe_b64encode(json.dumps({"s":"-amount","k":{"t":"int","v":int(v)},"id":i}).encode()).decode().rstrip("="))' "$mid_amount")"
  # seed titles are «Сделка N — лифтовое оборудование»: one deal holds «сделка 424242 », all hold «лифтов»
  rare="$(python3 -c 'import urllib.parse; print(urllib.parse.quote("сделка 424242 "))')"
  common="$(python3 -c 'import urllib.parse; print(urllib.parse.quote("лифтов"))')"
  local -a cases=(
    "first page, created_at|sort=created_at&limit=50"
    "middle cursor, created_at|sort=created_at&limit=50&cursor=$mid_created"
    "first page, -amount|sort=-amount&limit=50"
    "middle cursor, -amount|sort=-amount&limit=50&cursor=$mid_amount"
    "stage|stage_id=$STAGE_IN_WORK&limit=50"
    "responsible|responsible_id=$DEAL_USER2&limit=50"
    "amount 100000..200000|amount_min=100000&amount_max=200000&limit=50"
    "q rare (1 match)|q=$rare&limit=50"
    "q common (every deal)|q=$common&limit=50"
    "q common, -amount|q=$common&sort=-amount&limit=50"
  )
  for c in "${cases[@]}"; do
    label="${c%%|*}"
    query="${c#*|}"
    login # a fresh token for every run (access tokens live 15 minutes)
    api_call deal-pages-smoke 200 "$BASE/api/v1/deals?$query"
    [[ "$(json_get "$WORK/deal-pages-smoke.json" 'len(d["items"])')" -ge 1 ]] ||
      die "GET /api/v1/deals?$query returned no deals"
    run_fixed "pg-deal-pages-${#PAGE_ROWS[@]}" "$PAGE_RATE" 0 "$BASE/api/v1/deals?$query" GET
    add_row pg "1M: $label"
    PAGE_ROWS+=("$label: p99 $R_P99 ms")
    p99="${R_P99%.*}"
    ((p99 < 20)) || over+=("$label ($R_P99 ms)")
  done
  # include_total counts every matching row (README: ask for it once, not on every page); it
  # runs at its own rate, BENCH_PAGE_TOTAL_RATE (2 req/s), and is not held to the page target
  login
  run_fixed pg-deal-pages-total "$PAGE_TOTAL_RATE" 0 "$BASE/api/v1/deals?stage_id=$STAGE_IN_WORK&include_total=true&limit=50" GET
  add_row pg "1M: stage + include_total @ $PAGE_TOTAL_RATE/s"
  PAGE_TOTAL="p50 $R_P50 ms, p99 $R_P99 ms at $PAGE_TOTAL_RATE req/s"
  PAGE_INFO="$n deals, $PAGE_RATE req/s per case (bench/loadgen, fixed rate), $DURATION s each"
  PAGE_OVER="${over[*]:-none}"
}

bench_deals() {
  log "=== pg deals ==="
  start_server pg-deals "$PG_URL" "$WORK/data-pg-deals"
  login
  api_call deal-me 200 "$BASE/api/v1/me"
  ADMIN_ID="$(json_get "$WORK/deal-me.json" 'd["id"]')"

  if has_case deal-list; then
    local n t0 q1 q2 half matches1 matches2
    create_sales_managers
    psql_bench -qAtc "DELETE FROM product_rows WHERE document_type = 'deal'" \
      -c "DELETE FROM deal_stage_changes" -c "DELETE FROM deals" >/dev/null
    log "deal-list: seeding $DEAL_COUNT deals with bench/sql/seed_deals.sql (+ ANALYZE)"
    t0="$(now_ms)"
    psql_bench -q -v count="$DEAL_COUNT" -v users="$DEAL_USERS" -f bench/sql/seed_deals.sql >/dev/null ||
      die "seeding deals failed — bench/sql/seed_deals.sql no longer matches the deals table?"
    n="$(psql_bench -qAtc 'SELECT count(*) FROM deals')"
    [[ "$n" == "$DEAL_COUNT" ]] || die "expected $DEAL_COUNT deals after seeding, found $n"
    echo "seeded $n deals in $(($(now_ms) - t0)) ms"
    q1="stage_id=$STAGE_IN_WORK&amount_min=$DEAL_LIST_AMOUNT_MIN&limit=50"
    q2="responsible_id=$DEAL_USER2&sort=-amount&limit=50"
    matches1="$(psql_bench -qAtc "SELECT count(*) FROM deals WHERE stage_id = '$STAGE_IN_WORK' AND amount_minor >= ${DEAL_LIST_AMOUNT_MIN/./} AND deleted_at IS NULL")"
    matches2="$(psql_bench -qAtc "SELECT count(*) FROM deals WHERE responsible_id = '$DEAL_USER2' AND deleted_at IS NULL")"
    for q in "$q1" "$q2"; do
      api_call deal-list-smoke 200 "$BASE/api/v1/deals?$q"
      [[ "$(json_get "$WORK/deal-list-smoke.json" 'len(d["items"])')" == 50 ]] ||
        die "GET /api/v1/deals?$q did not return a full page of 50"
    done

    login # a fresh token for every run (access tokens live 15 minutes)
    run_wrk pg-deal-list-stage bench/wrk/list_organizations.lua "$BASE/api/v1/deals?$q1" 0
    add_row pg "deals: stage+amount_min (wrk, peak)"
    DEAL_LIST_PEAK_P99=$R_P99
    half="$(awk -v r="$R_OK_RPS" 'BEGIN {printf "%d", r / 2}')"
    ((half >= 1)) || die "deal list peak rate $R_OK_RPS req/s is too low to run at half of it"
    login # a fresh token for every run (access tokens live 15 minutes)
    run_wrk pg-deal-list-responsible bench/wrk/list_organizations.lua "$BASE/api/v1/deals?$q2" 0
    add_row pg "deals: responsible,-amount (wrk, peak)"
    login # a fresh token for every run (access tokens live 15 minutes)
    run_fixed pg-deal-list-stage-half "$half" 0 "$BASE/api/v1/deals?$q1" GET
    add_row pg "deals: stage+amount_min @ $half/s, fixed"
    DEAL_LIST_FIXED_P99=$R_P99
    login # a fresh token for every run (access tokens live 15 minutes)
    run_fixed pg-deal-list-stage-light "$DEAL_LIST_LIGHT_RATE" 0 "$BASE/api/v1/deals?$q1" GET
    add_row pg "deals: stage+amount_min @ $DEAL_LIST_LIGHT_RATE/s, fixed"
    DEAL_LIST_LIGHT_P99=$R_P99

    log "deal-list: EXPLAIN ANALYZE of the two list queries -> ${EXPLAIN_FILE#"$ROOT"/}"
    mkdir -p "$(dirname "$EXPLAIN_FILE")"
    {
      echo "-- EXPLAIN (ANALYZE, BUFFERS) of the SQL the server runs for the two filtered deal lists"
      echo "-- (bench/sql/explain_deal_list.sql), $DEAL_COUNT seeded deals, after the wrk runs;"
      echo "-- bench/run.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
      echo "-- matching rows: stage+amount_min $matches1, responsible $matches2"
      psql_bench -q -v stage="$STAGE_IN_WORK" -v amount_min="${DEAL_LIST_AMOUNT_MIN/./}" \
        -v responsible="$DEAL_USER2" -f bench/sql/explain_deal_list.sql
    } >"$WORK/explain.txt" 2>&1 || { cat "$WORK/explain.txt" >&2; die "EXPLAIN ANALYZE failed"; }
    cp "$WORK/explain.txt" "$EXPLAIN_FILE"
    DEAL_LIST_INFO="$DEAL_COUNT seeded deals over $DEAL_USER_COUNT responsible users; matching: stage+amount_min $matches1, responsible $matches2"
  fi

  if has_case deal-pages; then
    bench_deal_pages
  fi

  if has_case deal-create; then
    local line requests dur
    deal_smoke_check
    login # a fresh token for every run (access tokens live 15 minutes)
    run_wrk pg-deal-create bench/wrk/create_deal_with_rows.lua "$BASE" 100000000
    add_row pg "deal + 3 rows: requests (wrk, peak)"
    line="$(grep '^DEAL_RESULT' "$WORK/wrk-pg-deal-create.txt" || true)"
    [[ -n "$line" ]] || die "wrk printed no DEAL_RESULT line (pg-deal-create)"
    dur="$(wrk_field "$line" duration_us)"
    DEAL_ITERATIONS="$(wrk_field "$line" iterations)"
    DEAL_BROKEN="$(wrk_field "$line" broken)"
    R_RPS="$(awk -v n="$DEAL_ITERATIONS" -v d="$dur" 'BEGIN {printf "%.1f", n / (d / 1e6)}')"
    R_P50="$(awk -v v="$(wrk_field "$line" iter_p50_us)" 'BEGIN {printf "%.2f", v / 1000}')"
    R_P99="$(awk -v v="$(wrk_field "$line" iter_p99_us)" 'BEGIN {printf "%.2f", v / 1000}')"
    R_BAD=$DEAL_BROKEN
    R_NOTE=""
    if ((DEAL_BROKEN > 0)); then
      R_NOTE="$DEAL_BROKEN iterations abandoned"
      PROBLEMS+=("pg-deal-create: $R_NOTE after a non-2xx answer")
    fi
    add_row pg "deal + 3 rows: iterations = deals/s"
    DEAL_RPS=$R_RPS
    stop_server
    run_pgbench bench/sql/create_deal_with_rows.sql "api/src/routes/deals.rs" -D "actor=$ADMIN_ID"
    DEAL_PGBENCH_TPS=$PGBENCH_TPS
  fi
  stop_server
}

# ---------------------------------------------------------------------------------------------
# money documents (PostgreSQL only)
# ---------------------------------------------------------------------------------------------
# seller_and_buyer PREFIX N TEMPLATE RESET BUYER_NAME — an own organisation (the organization
# body with {n}=N) with an invoice numbering template, and a buyer legal entity; sets org and
# buyer (the caller's locals).
seller_and_buyer() {
  local prefix=$1 n=$2 template=$3 reset=$4 name=$5 company
  sed "s/{n}/$n/g" "$BODY_FILE" >"$WORK/$prefix-org-body.json"
  api_call "$prefix-org" 201 -X POST "$BASE/api/v1/organizations" --data-binary "@$WORK/$prefix-org-body.json"
  org="$(json_get "$WORK/$prefix-org.json" 'd["id"]')"
  api_call "$prefix-template" 201 -X POST "$BASE/api/v1/numbering-templates" --data-binary \
    "{\"organization_id\": \"$org\", \"document_type\": \"invoice\", \"template\": \"$template\", \"reset\": \"$reset\"}"
  api_call "$prefix-company" 201 -X POST "$BASE/api/v1/companies" --data-binary "{\"name\": \"$name\"}"
  company="$(json_get "$WORK/$prefix-company.json" 'd["id"]')"
  api_call "$prefix-buyer" 201 -X POST "$BASE/api/v1/legal-entities" --data-binary \
    "{\"company_id\": \"$company\", \"kind\": \"legal_entity\", \"full_name\": \"$name\", \"short_name\": \"$name\", \"inn\": \"7707083893\", \"kpp\": \"773601001\"}"
  buyer="$(json_get "$WORK/$prefix-buyer.json" 'd["id"]')"
}

bench_money() {
  local org buyer first line
  log "=== pg money ==="
  start_server pg-money "$PG_URL" "$WORK/data-pg-money"
  login
  api_call money-me 200 "$BASE/api/v1/me"
  ADMIN_ID="$(json_get "$WORK/money-me.json" 'd["id"]')"

  if has_case issue-invoice; then
    seller_and_buyer money 770000001 'СЧ-{YYYY}-{N:8}' yearly 'ТСЖ Берёзка'
    log "issue-invoice: seeding $INVOICE_DRAFTS draft invoices with bench/sql/seed_invoice_drafts.sql"
    psql_bench -q -v count="$INVOICE_DRAFTS" -v org="$org" -v buyer="$buyer" -v actor="$ADMIN_ID" \
      -v date=2026-06-15 -f bench/sql/seed_invoice_drafts.sql >/dev/null ||
      die "seeding drafts failed — bench/sql/seed_invoice_drafts.sql no longer matches the invoices table?"
    psql_bench -qAtc "SELECT id FROM invoices WHERE status = 'draft' ORDER BY random()" >"$WORK/drafts-all.txt"
    first="$(head -n 1 "$WORK/drafts-all.txt")"
    api_call money-issue-smoke 200 -X POST "$BASE/api/v1/invoices/$first/actions/issue" --data-binary '{}'
    echo "smoke issue: number $(json_get "$WORK/money-issue-smoke.json" 'd["number"]')"
    tail -n +2 "$WORK/drafts-all.txt" >"$WORK/drafts.txt"
    login # a fresh token for every run (access tokens live 15 minutes)
    export BENCH_IDS_FILE="$WORK/drafts.txt" BENCH_THREADS="$THREADS"
    run_wrk pg-issue-invoice bench/wrk/issue_invoice.lua "$BASE" 0
    unset BENCH_IDS_FILE BENCH_THREADS
    add_row pg "issue invoice: numbers/s (wrk, peak)"
    ISSUE_RPS=$R_OK_RPS
    line="$(psql_bench -qAtc "SELECT count(*) || ' ' || count(DISTINCT number) || ' ' || coalesce(min(numbering_counter), 0) || ' ' || coalesce(max(numbering_counter), 0) FROM invoices WHERE number IS NOT NULL")"
    read -r ISSUED ISSUED_DISTINCT ISSUED_MIN ISSUED_MAX <<<"$line"
    if [[ "$ISSUED" == "$ISSUED_DISTINCT" && "$ISSUED_MIN" == 1 && "$ISSUED_MAX" == "$ISSUED" ]]; then
      ISSUE_CHECK="$ISSUED numbers issued, all distinct, counters 1..$ISSUED_MAX without a gap"
    else
      ISSUE_CHECK="NOT gap-free: $ISSUED issued, $ISSUED_DISTINCT distinct, counters $ISSUED_MIN..$ISSUED_MAX"
      PROBLEMS+=("pg-issue-invoice: $ISSUE_CHECK")
    fi
  fi

  if has_case print-invoice; then
    local inv lines i
    seller_and_buyer print 770000002 'П-{N:5}' never 'ТСЖ Рябинка'
    lines=""
    for i in $(seq 1 10); do
      lines+="${lines:+,}{\"name\": \"Монтаж видеокамеры в подъезде $i с прокладкой кабеля\", \"quantity\": \"$i\", \"price\": \"1020.90\", \"vat_rate\": \"22\"}"
    done
    api_call print-invoice 201 -X POST "$BASE/api/v1/invoices" --data-binary \
      "{\"organization_id\": \"$org\", \"buyer_legal_entity_id\": \"$buyer\", \"date\": \"2026-11-20\", \"lines\": [$lines]}"
    inv="$(json_get "$WORK/print-invoice.json" 'd["id"]')"
    api_call print-issue 200 -X POST "$BASE/api/v1/invoices/$inv/actions/issue" --data-binary '{}'
    curl -sS -o "$WORK/invoice.pdf" --max-time 30 -H "Authorization: Bearer $TOKEN" \
      "$BASE/api/v1/invoices/$inv/print?format=pdf" || die "print smoke failed"
    [[ "$(head -c 5 "$WORK/invoice.pdf")" == "%PDF-" ]] || die "print smoke: not a PDF"
    PRINT_PDF_BYTES="$(stat -c %s "$WORK/invoice.pdf")"
    login # a fresh token for every run (access tokens live 15 minutes)
    run_wrk pg-print-invoice-pdf bench/wrk/list_organizations.lua "$BASE/api/v1/invoices/$inv/print?format=pdf" 0
    add_row pg "print invoice, 10 lines: PDF (wrk, peak)"
    run_wrk pg-print-invoice-html bench/wrk/list_organizations.lua "$BASE/api/v1/invoices/$inv/print?format=html" 0
    add_row pg "print invoice, 10 lines: HTML (wrk, peak)"
  fi

  if has_case register-payment; then
    local saved_body=$BODY_FILE
    api_call money-pay-smoke 201 -X POST "$BASE/api/v1/payments" --data-binary "$(sed 's/{n}/0/g' "$PAYMENT_BODY_FILE")"
    login # a fresh token for every run (access tokens live 15 minutes)
    BODY_FILE=$PAYMENT_BODY_FILE
    run_wrk pg-register-payment bench/wrk/create_organization.lua "$BASE/api/v1/payments" 100000000
    BODY_FILE=$saved_body
    add_row pg "register payment (wrk, peak)"
    PAYMENT_RPS=$R_OK_RPS
    stop_server
    run_pgbench bench/sql/register_payment.sql "api/src/routes/payments.rs (register_payment)" -D "actor=$ADMIN_ID"
    PAYMENT_PGBENCH_TPS=$PGBENCH_TPS
  fi
  stop_server
}

# ---------------------------------------------------------------------------------------------
# claim-race (PostgreSQL): WF-INV-4, two accountants racing for one invoice
# ---------------------------------------------------------------------------------------------
bench_claim_race() {
  local out="$WORK/claim-race.json" emails expected
  log "=== pg claim-race: $CLAIM_ROUNDS rounds x $CLAIMS concurrent claims (bench/claim_race.py) ==="
  start_server pg-claim "$PG_URL" "$WORK/data-pg-claim"
  timeout 600 python3 bench/claim_race.py "$BASE" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$CLAIM_ROUNDS" "$CLAIMS" >"$out" ||
    die "bench/claim_race.py failed: $(head -c 800 "$out")"
  cat "$out"
  # The supplier's email is queued in the claim's transaction: one outbox row per invoice.
  emails="$(psql_bench -qAtc "SELECT count(*) FROM outbox_messages WHERE payload LIKE '%$(json_get "$out" 'd["supplier_email"]')%'")"
  expected="$CLAIM_ROUNDS"
  CLAIM_SETTLED="$(json_get "$out" '" / ".join("%.0f" % r["settled_ms"] for r in d["rounds"])')"
  CLAIM_MAX="$(json_get "$out" '"%.0f" % max(r["settled_ms"] for r in d["rounds"])')"
  CLAIM_MEDIAN="$(json_get "$out" '"%.0f" % sorted(r["settled_ms"] for r in d["rounds"])[len(d["rounds"]) // 2]')"
  CLAIM_WINNERS="$(json_get "$out" '",".join(str(r["ok"]) for r in d["rounds"])')"
  CLAIM_CONFLICTS="$(json_get "$out" '",".join(str(r["conflict"]) for r in d["rounds"])')"
  CLAIM_OTHER="$(json_get "$out" 'sum(r["other"] for r in d["rounds"])')"
  CLAIM_EMAILS="$emails of $expected"
  [[ "$(json_get "$out" 'all(r["ok"] == 1 for r in d["rounds"])')" == True ]] ||
    PROBLEMS+=("claim-race: a round did not have exactly one winner ($CLAIM_WINNERS)")
  ((CLAIM_OTHER == 0)) || PROBLEMS+=("claim-race: $CLAIM_OTHER answers were neither 200 nor 409")
  [[ "$emails" == "$expected" ]] || PROBLEMS+=("claim-race: $emails supplier emails queued for $expected invoices")
  stop_server
}

# ---------------------------------------------------------------------------------------------
# The whole run is one function, called on the last line: bash has read the entire file before
# anything runs, so editing this script while a benchmark is running cannot derail it.
main() {
  ensure_tools
  JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"

  # --- PostgreSQL
  log "cases: $CASES"
  log "creating a fresh database $PG_DB on $PG_HOST:$PG_PORT"
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -q \
    -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" ||
    die "could not (re)create database $PG_DB"
  PG_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
  SDELKA_DATABASE_URL="$PG_URL" SDELKA_DATA_DIR="$WORK/data-pg" SDELKA_LOG="$SERVER_LOG_FILTER" \
    "$BIN" migrate >"$WORK/migrate-pg.log" 2>&1 || { cat "$WORK/migrate-pg.log" >&2; die "sdelka migrate failed on $PG_URL"; }
  if has_case organizations; then
    bench_backend pg "$PG_URL" "$WORK/data-pg"
    run_pgbench bench/sql/create_organization.sql "persistence/src/records.rs and persistence/src/journal.rs"
    ORG_PGBENCH_TPS=$PGBENCH_TPS
  fi
  if has_case deal-list || has_case deal-pages || has_case deal-create; then
    bench_deals
  fi
  if has_case issue-invoice || has_case register-payment || has_case print-invoice; then
    bench_money
  fi
  if has_case claim-race; then
    bench_claim_race
  fi

  if has_case organizations; then
    # --- SQLite (fresh data folder: time to ready includes creating the database and the admin)
    bench_backend sqlite "" "$WORK/data-sqlite"
    log "sqlite: restart on the existing data folder to time a warm start"
    start_server sqlite-restart "" "$WORK/data-sqlite"
    READY_WARM=$READY_MS
    stop_server
  fi

  # ---------------------------------------------------------------------------------------------
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
  {
    echo "Sdelka benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "runs: ${DURATION} s each; wrk $THREADS threads x $CONNECTIONS connections; fixed rate: bench/loadgen, $RATE_CONNECTIONS connections;"
    echo "      server SDELKA_LOG=$SERVER_LOG_FILTER, rate limits off (1000000/s); client and server share the machine"
    echo "cases: $CASES"
    echo
    printf '%-8s %-38s %10s %9s %9s %8s\n' backend case "req/s" "p50 ms" "p99 ms" "errors"
    printf '%s\n' "${ROWS[@]}"
    if has_case organizations; then
      echo
      echo "pgbench create_organization.sql (-c $CONNECTIONS -j $THREADS): $ORG_PGBENCH_TPS tps"
      echo "API creates / pgbench tps (PostgreSQL): ${CREATE_RPS[pg]} / $ORG_PGBENCH_TPS = $(ratio "${CREATE_RPS[pg]}" "$ORG_PGBENCH_TPS")"
    fi
    if has_case deal-list; then
      echo
      echo "deal list: $DEAL_LIST_INFO"
      echo "deal list p99, target <= 20 ms: ${DEAL_LIST_LIGHT_P99} ms at $DEAL_LIST_LIGHT_RATE req/s, ${DEAL_LIST_FIXED_P99} ms at half the peak rate (fixed rate);"
      echo "  ${DEAL_LIST_PEAK_P99} ms at peak (wrk, $CONNECTIONS connections, closed loop)"
      echo "plans: bench/results/deal-list-explain.txt"
    fi
    if has_case deal-pages; then
      echo
      echo "deal pages: $PAGE_INFO; target p99 <= 20 ms for every page; over it: $PAGE_OVER"
      echo "include_total (counts the ~250 000 deals of the stage): $PAGE_TOTAL"
    fi
    if has_case deal-create; then
      echo
      echo "deal + 3 rows: 'requests' row = all 4 kinds of request (per-request latency), 'iterations' row ="
      echo "  complete iterations per second (deals/s) and latency of the whole iteration (create .. 3rd row answered)"
      echo "pgbench create_deal_with_rows.sql (-c $CONNECTIONS -j $THREADS): $DEAL_PGBENCH_TPS tps"
      echo "API deals/s / pgbench tps (PostgreSQL): $DEAL_RPS / $DEAL_PGBENCH_TPS = $(ratio "$DEAL_RPS" "$DEAL_PGBENCH_TPS") (target >= 0.5)"
    fi
    if has_case issue-invoice; then
      echo
      echo "issue invoice: $ISSUE_RPS numbers/s from one template (target >= 300); $ISSUE_CHECK"
    fi
    if has_case print-invoice; then
      echo
      echo "print invoice: one issued 10-line invoice read again and again; the PDF is $PRINT_PDF_BYTES bytes"
    fi
    if has_case register-payment; then
      echo
      echo "pgbench register_payment.sql (-c $CONNECTIONS -j $THREADS): $PAYMENT_PGBENCH_TPS tps"
      echo "API payments/s / pgbench tps (PostgreSQL): $PAYMENT_RPS / $PAYMENT_PGBENCH_TPS = $(ratio "$PAYMENT_RPS" "$PAYMENT_PGBENCH_TPS") (target >= 0.5)"
    fi
    if has_case claim-race; then
      echo
      echo "claim-race (PostgreSQL): $CLAIM_ROUNDS invoices, each claimed by $CLAIMS concurrent requests from 2 accountants"
      echo "  time until all $CLAIMS answers are in, per round (ms): $CLAIM_SETTLED; median $CLAIM_MEDIAN, max $CLAIM_MAX (target <= 1000)"
      echo "  200s per round: $CLAIM_WINNERS; 409s per round: $CLAIM_CONFLICTS; other answers: $CLAIM_OTHER"
      echo "  supplier emails queued: $CLAIM_EMAILS"
    fi
    if has_case organizations; then
      echo
      printf '%-8s %12s %12s\n' backend "RSS idle MB" "RSS peak MB"
      printf '%-8s %12s %12s\n' pg "${RSS_IDLE[pg]}" "${RSS_PEAK[pg]}"
      printf '%-8s %12s %12s\n' sqlite "${RSS_IDLE[sqlite]}" "${RSS_PEAK[sqlite]}"
      echo
      echo "time to ready (SQLite): fresh data folder ${READY[sqlite]} ms; existing data folder $READY_WARM ms"
    fi
    if ((${#PROBLEMS[@]} > 0)); then
      echo
      echo "PROBLEMS (figures above are not trustworthy):"
      printf '  - %s\n' "${PROBLEMS[@]}"
    fi
  } >"$WORK/summary.txt"
  mkdir -p "$(dirname "$RESULTS_FILE")"
  cp "$WORK/summary.txt" "$RESULTS_FILE"
  log "summary (also in bench/results/latest.txt)"
  cat "$RESULTS_FILE"

  if ((${#PROBLEMS[@]} > 0)) && [[ "${BENCH_ALLOW_ERRORS:-0}" != 1 ]]; then
    echo "[bench] load runs saw errors; failing (BENCH_ALLOW_ERRORS=1 to accept)" >&2
    exit 1
  fi
}

main "$@"
exit $?
