-- A plain GET of the URL, the same every time: the floor of the HTTP stack (no token, no store).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")

done = report.done
