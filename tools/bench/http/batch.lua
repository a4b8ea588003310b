-- wrk: POST /v1/batch of BATCH (100) messages in cdp-bench ingest's mix over random people of
-- the loaded store, every messageId new (a counter behind a per-run prefix), so nothing is
-- deduplicated. Environment: CDP_BENCH_KEY (ingest key), CDP_BENCH_PEOPLE, CDP_BENCH_BATCH.
local messages = require "messages"

local people = tonumber(os.getenv("CDP_BENCH_PEOPLE"))
local batch = tonumber(os.getenv("CDP_BENCH_BATCH") or "100")
local counter = 0
local prefix

-- Each wrk thread gets its number (the global thread_number in its own Lua state).
local threads_made = 0
function setup(thread)
   threads_made = threads_made + 1
   thread:set("thread_number", threads_made)
end

function init(args)
   local number = thread_number or 0
   math.randomseed(os.time() * 1000 + number)
   prefix = string.format("http-%x-%d-%x", os.time(), number, math.random(0, 0xffffff))
   wrk.method = "POST"
   wrk.path = "/v1/batch"
   wrk.headers["Authorization"] = "Bearer " .. os.getenv("CDP_BENCH_KEY")
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local parts = {}
   for i = 1, batch do
      counter = counter + 1
      local p = math.random(0, people - 1)
      parts[i] = messages.message(p, counter, prefix .. "-" .. counter, math.random(0, 99))
   end
   return wrk.format(nil, nil, nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end

done = messages.report
