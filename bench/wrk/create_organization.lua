-- wrk script: POST /api/v1/organizations as fast as the connections allow.
-- Env: BENCH_TOKEN (access token), BENCH_BODY_FILE (JSON template, every "{n}" becomes a unique
-- number: organizations.code is UNIQUE), BENCH_SEQ_BASE (start of this run's numbers, so runs
-- against the same database never collide).
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local body_file = os.getenv("BENCH_BODY_FILE") or "bench/bodies/organization.json"
local seq_base = tonumber(os.getenv("BENCH_SEQ_BASE") or "0")

local f = assert(io.open(body_file, "r"), "cannot open " .. body_file)
local template = f:read("*a"):gsub("%s+$", "")
f:close()

local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

local counter = 0
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

function request()
  counter = counter + 1
  -- thread_no is set by setup() in this thread's Lua state; 10^8 numbers per thread.
  local n = string.format("%.0f", seq_base + thread_no * 100000000 + counter)
  local body = template:gsub("{n}", n)
  return wrk.format("POST", nil, headers, body)
end

done = report.done
