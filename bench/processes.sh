#!/usr/bin/env bash
# WF-BP benchmarks on PostgreSQL (database sdelka_bench_proc, dropped and recreated), against
# the release server:
#  1. BENCH_INSTANCES_N (10 000) running instances: deals created through the API, each starting
#     the default deal process (a task, a one-minute wait, a second task) — on one instance
#     without background workers (SDELKA_WORKERS=false), so no timer fires yet;
#  2. inputs/s: every first task completed through `POST /tasks/{id}/complete`
#     (BENCH_THREADS connections), each one input processed under the instance's lock, which
#     moves the instance into its wait and schedules its timer;
#  3. timer firing: once every timer is due, BENCH_WORKER_INSTANCES (3) instances with workers
#     start on the same database and fire them (each under the instance's lock, then the second
#     task); figure: timers fired per second between the first and the last `fired_at`;
#  4. the map of a 30-step instance (10 steps done): `GET /process-instances/{id}/map` and
#     `…/map.svg` at BENCH_MAP_RATE (20) requests/s for BENCH_DURATION (15) s with bench/loadgen;
#     target p99 ≤ 50 ms.
# Usage: BENCH_SKIP_BUILD=1 bash bench/processes.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${BENCH_INSTANCES_N:-10000}"
THREADS="${BENCH_THREADS:-8}"
WORKERS="${BENCH_WORKER_INSTANCES:-3}"
RATE="${BENCH_MAP_RATE:-20}"
DURATION="${BENCH_DURATION:-15}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${SDELKA_BIN:-$TARGET_DIR/release/sdelka}"
LOADGEN="$TARGET_DIR/bench/loadgen"
OUT="${BENCH_RESULTS_FILE:-$ROOT/bench/results/processes.txt}"
DB="${BENCH_DATABASE:-sdelka_bench_proc}"
PG="postgres://postgres@127.0.0.1:5432/$DB"
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="bench-$(date +%s)-Passw0rd!"
# shellcheck source=bench/lib_server.sh
source "$ROOT/bench/lib_server.sh"
sql() { psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "$1"; }
api() { # method path [json body] → body on stdout
  local args=(-sS -X "$1" "$BASE$2" -H "Authorization: Bearer $TOKEN")
  [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}
json_get() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then cargo build --release -p sdelka-api; fi
mkdir -p "$(dirname "$LOADGEN")"
[[ -x "$LOADGEN" && "$LOADGEN" -nt bench/loadgen/main.rs ]] ||
  rustc --edition 2021 -C opt-level=3 -o "$LOADGEN" bench/loadgen/main.rs

psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
start_server 0 "$PORT" false
TOKEN="$(curl -sS -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}" | json_get '["access_token"]')"

# The default deal process, and a manual one of 30 steps for the map.
publish() { # body → template id
  local id
  id="$(api POST /api/v1/process-templates "$1" | json_get '["id"]')"
  api POST "/api/v1/process-templates/$id/versions/1/publish" >/dev/null
  echo "$id"
}
publish '{"code": "bench_flow", "name": "Бенчмарк", "entity_type": "deal", "start_mode": "on_create",
  "definition": {"entity_type": "deal", "name": "Бенчмарк", "steps": [
    {"id": "first", "kind": "task", "title": "Первая задача", "assignees": [{"type": "responsible"}]},
    {"id": "pause", "kind": "wait", "until": {"type": "delay", "delay": {"minutes": 1}}},
    {"id": "second", "kind": "task", "title": "Вторая задача", "assignees": [{"type": "responsible"}]}]}}' >/dev/null
STEPS="$(python3 -c 'import json; print(json.dumps([{"id": f"s{k}", "kind": "task", "title": f"Шаг {k}", "assignees": [{"type": "responsible"}]} for k in range(1, 31)]))')"
THIRTY="$(publish "{\"code\": \"bench_thirty\", \"name\": \"30 шагов\", \"entity_type\": \"deal\",
  \"definition\": {\"entity_type\": \"deal\", \"name\": \"30 шагов\", \"steps\": $STEPS}}")"

echo "[bench] $N deals, each starting the default process (no workers running)"
SEED="$(python3 bench/processes_client.py deals "$BASE" "$TOKEN" "$N" "$THREADS")"
echo "$SEED"
RUNNING="$(sql "SELECT count(*) FROM process_instances WHERE status = 'running'")"
echo "[bench] running instances: $RUNNING; completing every first task"
INPUTS="$(python3 bench/processes_client.py complete "$BASE" "$TOKEN" "Первая задача" "$THREADS")"
echo "$INPUTS"
TIMERS="$(sql "SELECT count(*) FROM process_timers WHERE state = 'pending'")"
LAST_DUE="$(sql "SELECT extract(epoch FROM max(due_at) - now()) FROM process_timers WHERE state = 'pending'")"
echo "[bench] $TIMERS timers pending; the last is due in ${LAST_DUE%.*} s"
python3 -c "import time; time.sleep(max(0.0, $LAST_DUE + 1))"
echo "[bench] every timer due: $WORKERS instances with workers start"
for i in $(seq 1 "$WORKERS"); do start_server "$i" "$(free_port)" true; done
for _ in $(seq 1 1200); do
  [[ "$(sql "SELECT count(*) FROM process_timers WHERE state = 'pending'")" == 0 ]] && break
  sleep 0.5
done
FIRING="$(sql "SELECT json_build_object('fired', count(*), 'seconds', round(extract(epoch FROM max(fired_at) - min(fired_at))::numeric, 2),
  'per_s', round((count(*) / greatest(extract(epoch FROM max(fired_at) - min(fired_at)), 0.001))::numeric, 1),
  'pending', (SELECT count(*) FROM process_timers WHERE state = 'pending'),
  'second_tasks', (SELECT count(*) FROM tasks WHERE title = 'Вторая задача' AND state = 'open'))
  FROM process_timers WHERE fired_at IS NOT NULL")"
echo "timers: $FIRING"

echo "[bench] the map of a 30-step instance with 10 steps done"
INSTANCE="$(python3 bench/processes_client.py start "$BASE" "$TOKEN" "$THIRTY")"
STEPS_ON_MAP="$(api GET "/api/v1/process-instances/$INSTANCE/map" | json_get '["steps"].__len__()')"
MAPS=()
for what in map map.svg; do
  curl -sf -o /dev/null "$BASE/api/v1/process-instances/$INSTANCE/$what" -H "Authorization: Bearer $TOKEN"
  "$LOADGEN" --url "$BASE/api/v1/process-instances/$INSTANCE/$what" --method GET \
    --header "Authorization: Bearer $TOKEN" --rate "$RATE" --connections 16 --duration "$DURATION" \
    --timeout 10 --label "process-$what" >"$WORK/$what.json"
  MAPS+=("$(cat "$WORK/$what.json")")
done
{
  echo "# bash bench/processes.sh  ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version'))"
  echo "# BENCH_INSTANCES_N=$N BENCH_THREADS=$THREADS BENCH_WORKER_INSTANCES=$WORKERS BENCH_MAP_RATE=$RATE BENCH_DURATION=$DURATION"
  echo "seed      $SEED"
  echo "running   {\"instances\": $RUNNING}"
  echo "inputs    $INPUTS"
  echo "timers    $FIRING"
  echo "map       {\"steps\": $STEPS_ON_MAP} ${MAPS[0]}"
  echo "map.svg   ${MAPS[1]}"
} | tee "$OUT"
