-- Shared by the bench's wrk scripts.
--
-- report.setup numbers the threads (`tid`) and keeps them, so report.done can read each one's
-- clock marks. report.mark_first/mark_last record, per thread, when it sent its first request
-- and when it got its last answer (CLOCK_MONOTONIC through LuaJIT's FFI): a run that stops early
-- because its pool of single-use bodies ran out is rated over the time it was active, not over
-- wrk's fixed duration.
--
-- report.done writes the run's figures as JSON to $BENCH_OUT. Latencies are wrk's own (every
-- request recorded, microseconds); errors.status counts answers that were not 2xx or 3xx.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local report = {}

function report.now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}
function report.setup(thread)
   thread:set("tid", #threads)
   threads[#threads + 1] = thread
end

first_us, last_us = nil, nil
function report.mark_first()
   if first_us == nil then first_us = report.now_us() end
end
function report.mark_last()
   last_us = report.now_us()
end

function report.done(summary, latency, requests)
   local from, to = nil, nil
   for _, t in ipairs(threads) do
      local f, l = t:get("first_us"), t:get("last_us")
      if f and (from == nil or f < from) then from = f end
      if l and (to == nil or l > to) then to = l end
   end
   local active = summary.duration
   if from and to and to > from then active = to - from end
   local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
   local e = summary.errors
   out:write(string.format(
      '{"requests": %d, "duration_us": %d, "active_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"min": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
      summary.requests, summary.duration, active, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
   out:close()
end

return report
