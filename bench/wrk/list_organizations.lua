-- wrk script: GET the URL given on the command line (the filtered organization list) with the
-- bearer token. Env: BENCH_TOKEN.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"

done = report.done
