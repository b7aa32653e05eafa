-- The refresh grant with real rotation: every request spends a refresh token never used before.
-- Each thread starts from its share of the seed tokens in $BENCH_POOL (one per connection, each
-- from its own grant); every answer's new refresh token goes back on the thread's queue, so a
-- connection always has a fresh token to send. Only the client id is fixed ($BENCH_CLIENT_ID).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")

setup = report.setup

local queue, head, tail = {}, 1, 0
local client_id
local headers = { ["content-type"] = "application/x-www-form-urlencoded" }

function init(args)
   client_id = os.getenv("BENCH_CLIENT_ID")
   local n = tonumber(os.getenv("BENCH_THREADS"))
   local line_no = 0
   for line in io.lines(os.getenv("BENCH_POOL")) do
      if line_no % n == tid then
         tail = tail + 1
         queue[tail] = line
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
      return wrk.format("POST", nil, headers, "grant_type=refresh_token")
   end
   local token = queue[head]
   if token == nil then
      -- Only after failed refreshes (counted as status errors): nothing fresh is left to send.
      wrk.thread:stop()
      return wrk.format("GET", "/.well-known/oauth-authorization-server")
   end
   report.mark_first()
   queue[head] = nil
   head = head + 1
   return wrk.format("POST", nil, headers,
      "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

function response(status, headers, body)
   report.mark_last()
   local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
   if token then
      tail = tail + 1
      queue[tail] = token
   end
end

done = report.done
