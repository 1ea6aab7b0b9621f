-- wrk script: the "create deal with 3 product rows" iteration, as fast as the connections allow.
-- One iteration = POST /api/v1/deals {"title": "Лифты {n}"} (default pipeline, first stage),
-- then, one after the other, three POST /api/v1/deals/{id}/product-rows (bodies below).
--
-- How the chaining works: wrk keeps one Lua state per thread, not per connection, and between
-- a connection's response() and its next request() other connections of the thread may answer.
-- So the chain is kept per *deal*, not per connection: response() to a create reads the deal id
-- from the Location header and queues step 1 of that deal; response() to a row queues the next
-- step; request() sends the oldest queued step if there is one, else starts a new deal. Each
-- deal's four requests thus go strictly in order (the next one is sent only after the previous
-- answered 201), possibly on different keep-alive connections of the same thread; the number of
-- iterations in flight is at most the number of connections.
--
-- Measured here besides wrk's per-request figures: completed iterations (the third row answered
-- 201) and the iteration latency, from the moment request() built the create to the third row's
-- answer (CLOCK_MONOTONIC through LuaJIT's ffi). Iterations still in flight when wrk stops are
-- not counted. A non-2xx answer abandons its iteration (counted in `broken`).
--
-- Env: BENCH_TOKEN (access token), BENCH_SEQ_BASE (start of this run's numbers).
-- Prints WRK_RESULT (bench/wrk/report.lua) and DEAL_RESULT lines that bench/run.sh parses.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")
local ffi = require("ffi")

ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local seq_base = tonumber(os.getenv("BENCH_SEQ_BASE") or "0")

local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

-- KEEP IN SYNC with bench/sql/create_deal_with_rows.sql and the smoke check in bench/run.sh.
local rows = {
  '{"name": "Обследование лифта", "quantity": "2", "price": "15000.00", "vat_rate": "22"}',
  '{"name": "Замена тросов", "quantity": "4", "price": "8250.50", "vat_rate": "22", "discount_percent": "5"}',
  '{"name": "Выезд инженера", "quantity": "1", "price": "3000.00", "vat_rate": "none"}',
}

local threads = {}
function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

-- per-thread state (globals, so that done() can read them with thread:get)
counter = 0      -- deals started by this thread
completed = 0    -- iterations whose third row answered 201
broken = 0       -- iterations abandoned after a non-2xx answer
lat = {}         -- iteration latencies, microseconds

local started_at = {} -- n -> time the create was built
local deals = {}      -- deal id -> { step = rows added so far, t0 = start }
local queue, qhead, qtail = {}, 1, 0

function request()
  if qhead <= qtail then
    local id = queue[qhead]
    queue[qhead] = nil
    qhead = qhead + 1
    local d = deals[id]
    return wrk.format("POST", "/api/v1/deals/" .. id .. "/product-rows", headers, rows[d.step + 1])
  end
  counter = counter + 1
  -- thread_no is set by setup() in this thread's Lua state; 10^8 numbers per thread.
  local n = string.format("%.0f", seq_base + (thread_no or 0) * 100000000 + counter)
  started_at[n] = now_us()
  return wrk.format("POST", "/api/v1/deals", headers, '{"title": "Лифты ' .. n .. '"}')
end

function response(status, hdrs, body)
  if status ~= 201 then
    broken = broken + 1
    return
  end
  local loc = hdrs["location"] or hdrs["Location"] or ""
  local deal_id = loc:match("^/api/v1/deals/([^/]+)/product%-rows/")
  if deal_id then
    local d = deals[deal_id]
    if not d then return end
    d.step = d.step + 1
    if d.step == #rows then
      completed = completed + 1
      lat[#lat + 1] = now_us() - d.t0
      deals[deal_id] = nil
    else
      qtail = qtail + 1
      queue[qtail] = deal_id
    end
    return
  end
  deal_id = loc:match("^/api/v1/deals/([^/]+)$")
  local n = body:match('"title":"Лифты (%d+)"')
  if deal_id and n and started_at[n] then
    deals[deal_id] = { step = 0, t0 = started_at[n] }
    started_at[n] = nil
    qtail = qtail + 1
    queue[qtail] = deal_id
  else
    broken = broken + 1
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local i = math.ceil(p / 100 * #sorted)
  if i < 1 then i = 1 end
  return sorted[i]
end

function done(summary, latency, requests)
  report.done(summary, latency, requests)
  local all, total, broke, started = {}, 0, 0, 0
  for _, t in ipairs(threads) do
    total = total + (t:get("completed") or 0)
    broke = broke + (t:get("broken") or 0)
    started = started + (t:get("counter") or 0)
    for _, v in pairs(t:get("lat") or {}) do all[#all + 1] = v end
  end
  table.sort(all)
  io.write(string.format(
    "DEAL_RESULT iterations=%d started=%d broken=%d duration_us=%d iter_p50_us=%d iter_p90_us=%d iter_p99_us=%d iter_max_us=%d\n",
    total, started, broke, summary.duration,
    percentile(all, 50), percentile(all, 90), percentile(all, 99), all[#all] or 0))
end
