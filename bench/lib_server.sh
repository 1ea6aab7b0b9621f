# Shared by the PostgreSQL benchmark drivers (bench/integration/run.sh,
# bench/integration/webhook_backlog.sh, bench/processes.sh); sourced, not run. Expects BIN, PG,
# ADMIN_EMAIL and ADMIN_PASSWORD; gives WORK (a temporary folder, removed on exit), PIDS (the
# started servers, stopped on exit), free_port and start_server.
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
# Starts instance $1 on port $2 on the one database, with its own data folder; $3 (default
# true) says whether it runs the background workers.
start_server() {
  env -u SDELKA_SMTP_URL SDELKA_DATABASE_URL="$PG" SDELKA_DATA_DIR="$WORK/data-$1" SDELKA_BIND="127.0.0.1:$2" \
    SDELKA_ADMIN_EMAIL="$ADMIN_EMAIL" SDELKA_ADMIN_PASSWORD="$ADMIN_PASSWORD" SDELKA_JWT_SECRET="$JWT_SECRET" \
    SDELKA_RATE_LIMIT_PER_SECOND=1000000 SDELKA_RATE_LIMIT_BURST=1000000 SDELKA_LOG="${BENCH_SERVER_LOG:-warn}" \
    SDELKA_WEBHOOK_ALLOWED_TARGETS=127.0.0.0/8 SDELKA_WORKERS="${3:-true}" \
    "$BIN" serve >"$WORK/server-$1.log" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$2/health/ready" && return 0
    sleep 0.1
  done
  echo "instance $1 did not become ready:" >&2; cat "$WORK/server-$1.log" >&2; exit 1
}
