-- One authenticated MCP request, the same every time: $BENCH_BODY (a JSON-RPC request) with
-- bearer $BENCH_TOKEN under protocol revision $BENCH_MCP_VERSION.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
wrk.headers["mcp-protocol-version"] = os.getenv("BENCH_MCP_VERSION")
wrk.headers["authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

done = report.done
