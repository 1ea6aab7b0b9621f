-- wrk script: POST /api/v1/invoices/{id}/actions/issue, each request on another seeded draft,
-- as fast as the connections allow. Every answered 200 is one number taken from the single
-- numbering template of the run.
-- Env: BENCH_TOKEN (access token), BENCH_IDS_FILE (one draft invoice id a line),
-- BENCH_THREADS (wrk's -t): thread k of n issues lines k+1, k+1+n, k+1+2n, …, so no draft is
-- issued twice.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local ids_file = os.getenv("BENCH_IDS_FILE") or error("BENCH_IDS_FILE is not set")

local stride = tonumber(os.getenv("BENCH_THREADS") or error("BENCH_THREADS is not set"))

local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

local ids = nil
local next_index = nil
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

local function load()
  ids = {}
  for line in io.lines(ids_file) do
    if line ~= "" then ids[#ids + 1] = line end
  end
  next_index = (thread_no or 0) + 1
end

function request()
  if not ids then load() end
  local id = ids[next_index]
  if not id then
    -- Out of drafts: the run was longer than the seeded drafts allow; these answer 404 and
    -- show up as errors in the summary.
    id = "00000000-0000-0000-0000-000000000000"
  end
  next_index = next_index + stride
  return wrk.format("POST", "/api/v1/invoices/" .. id .. "/actions/issue", headers, "{}")
end

done = report.done
