-- Form POSTs to the token endpoint, each body used once: the lines of $BENCH_POOL (for
-- example authorization_code requests, one per single-use code). Thread k of $BENCH_THREADS
-- takes every line whose number is k modulo the thread count, and stops while it still holds
-- one unused body per connection, so no body is ever sent twice.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")

setup = report.setup

local bodies, sent, reserve = {}, 0, 0
local headers = { ["content-type"] = "application/x-www-form-urlencoded" }

function init(args)
   local n = tonumber(os.getenv("BENCH_THREADS"))
   reserve = math.ceil(tonumber(os.getenv("BENCH_CONNECTIONS")) / n)
   local line_no = 0
   for line in io.lines(os.getenv("BENCH_POOL")) do
      if line_no % n == tid then
         bodies[#bodies + 1] = line
      end
      line_no = line_no + 1
   end
end

-- wrk builds one request on thread 0 before the run to check it; that one is never sent, so
-- it must not spend a body.
local checked = false

function request()
   if tid == 0 and not checked then
      checked = true
      return wrk.format("POST", nil, headers, bodies[1])
   end
   report.mark_first()
   sent = sent + 1
   return wrk.format("POST", nil, headers, bodies[sent])
end

function response(status, headers, body)
   report.mark_last()
   if sent + reserve >= #bodies then
      wrk.thread:stop()
   end
end

done = report.done
