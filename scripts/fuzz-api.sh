#!/usr/bin/env bash
# Property-based API fuzzing with schemathesis (v4) against a freshly started debug server on
# SQLite. Exits non-zero when schemathesis reports a failure or an error.
#
# Usage: bash scripts/fuzz-api.sh
# Env (all optional):
#   FUZZ_MAX_EXAMPLES=25   test cases per operation and phase (--max-examples)
#   FUZZ_MAX_TIME=150      schemathesis time budget in seconds (--max-time); note that under a
#                          budget the fuzzing/stateful phases keep going until it is spent
#   FUZZ_WORKERS=2         schemathesis workers
#   FUZZ_SEED=N            reproduce a run (schemathesis prints the seed it used)
#   FUZZ_EXTRA_ARGS="..."  extra schemathesis arguments, e.g.
#                          "--exclude-path /api/v1/auth/logout --phases examples,coverage"
#   FUZZ_SKIP_BUILD=1      use the existing target/debug/sdelka
#   FUZZ_KEEP=1            keep the temporary folder (server log, data, junit report)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
MAX_TIME="${FUZZ_MAX_TIME:-150}"
WORKERS="${FUZZ_WORKERS:-2}"
HARD_LIMIT=$((MAX_TIME + 180)) # schemathesis is killed after this, whatever happens
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="fuzz-$(date +%s)-Passw0rd!"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/debug/sdelka"

TMP="$(mktemp -d /tmp/sdelka-fuzz.XXXXXX)"
SERVER_LOG="$TMP/server.log"
SERVER_PID=""

say() { printf '[fuzz %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f "$SERVER_LOG" ]]; then
    echo "---- last 60 lines of the server log ($SERVER_LOG) ----" >&2
    tail -n 60 "$SERVER_LOG" >&2 || true
    echo "---- end of server log ----" >&2
  fi
  if [[ "${FUZZ_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
    say "temporary folder kept: $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "[fuzz] ERROR: $*" >&2
  exit 1
}

# The run is one function called on the last line, so bash has read the whole file before
# anything runs (editing the script during a run cannot derail it).
main() {
  # --- schemathesis -------------------------------------------------------------------------------
  if ! python3 -c 'import schemathesis, sys; sys.exit(0 if int(schemathesis.__version__.split(".")[0]) >= 4 else 1)' 2>/dev/null; then
    say "installing schemathesis 4 (pip)"
    ok=0
    for attempt in 1 2 3; do
      if python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        'schemathesis>=4,<5'; then
        ok=1
        break
      fi
      say "pip install failed (attempt $attempt), retrying in $((attempt * 5)) s"
      sleep $((attempt * 5))
    done
    [[ $ok == 1 ]] || fail "could not install schemathesis"
  fi
  say "schemathesis $(python3 -m schemathesis.cli --version 2>/dev/null | awk '{print $NF}')"

  # --- server -------------------------------------------------------------------------------------
  if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
    say "cargo build -p sdelka-api"
    cargo build -p sdelka-api || fail "build failed"
  fi
  [[ -x "$BIN" ]] || fail "$BIN not found"

  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  BASE="http://127.0.0.1:$PORT"
  say "starting $BIN on $BASE (SQLite in $TMP/data)"
  env -u SDELKA_DATABASE_URL -u SDELKA_SMTP_URL \
    SDELKA_DATA_DIR="$TMP/data" \
    SDELKA_BIND="127.0.0.1:$PORT" \
    SDELKA_ADMIN_EMAIL="$ADMIN_EMAIL" \
    SDELKA_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    SDELKA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
    SDELKA_RATE_LIMIT_PER_SECOND=1000000 \
    SDELKA_RATE_LIMIT_BURST=1000000 \
    SDELKA_LOG="${SDELKA_LOG:-info}" \
    "$BIN" serve >"$SERVER_LOG" 2>&1 </dev/null &
  SERVER_PID=$!

  deadline=$((SECONDS + 60))
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/health/ready" || true)" == 200 ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited before it was ready"
    ((SECONDS < deadline)) || fail "the server was not ready after 60 s"
    sleep 0.2
  done
  say "server ready"

  code="$(curl -sS -o "$TMP/login.json" -w '%{http_code}' --max-time 30 -X POST "$BASE/api/v1/auth/login" \
    -H 'Content-Type: application/json' \
    -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}")" || fail "login request failed"
  [[ "$code" == 200 ]] || fail "login answered $code: $(head -c 500 "$TMP/login.json")"
  TOKEN="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$TMP/login.json")" ||
    fail "no access_token in the login answer"
  code="$(curl -sS -o "$TMP/openapi.json" -w '%{http_code}' --max-time 30 "$BASE/api/v1/openapi.json")" ||
    fail "could not fetch the OpenAPI document"
  [[ "$code" == 200 ]] || fail "GET /api/v1/openapi.json answered $code"
  say "logged in; OpenAPI document has $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("paths", {})))' "$TMP/openapi.json") paths"

  # --- run ----------------------------------------------------------------------------------------
  args=(
    run "$BASE/api/v1/openapi.json"
    --origin "$BASE"
    --checks "$CHECKS"
    --max-examples "$MAX_EXAMPLES"
    --max-time "$MAX_TIME"
    --workers "$WORKERS"
    --header "Authorization: Bearer $TOKEN"
    --request-timeout 30
    --suppress-health-check "too_slow,filter_too_much"
    --report junit
    --report-junit-path "$TMP/junit.xml"
    --no-color
  )
  [[ -z "${FUZZ_SEED:-}" ]] || args+=(--seed "$FUZZ_SEED")
  if [[ -n "${FUZZ_EXTRA_ARGS:-}" ]]; then
    read -r -a extra <<<"$FUZZ_EXTRA_ARGS"
    args+=("${extra[@]}")
  fi

  say "schemathesis: checks $CHECKS; --max-examples $MAX_EXAMPLES --max-time $MAX_TIME (hard limit ${HARD_LIMIT}s)"
  set +e
  # Run from the temporary folder: schemathesis and hypothesis keep caches (.schemathesis/,
  # .hypothesis/) in the working directory.
  (cd "$TMP" && timeout --kill-after=20 "$HARD_LIMIT" python3 "$ROOT/scripts/schemathesis_cli.py" "${args[@]}")
  rc=$?
  set -e
  case $rc in
    0) say "schemathesis: no failures" ;;
    124 | 137) fail "schemathesis did not finish within ${HARD_LIMIT}s" ;;
    *) fail "schemathesis reported failures or errors (exit $rc)" ;;
  esac
}

main "$@"
exit $?
