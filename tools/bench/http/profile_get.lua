-- wrk: GET /v1/profiles/user_id:user-P with purpose personalization, P random over the people
-- who granted consent (CDP_BENCH_READ_PEOPLE, else every person loaded). Environment:
-- CDP_BENCH_KEY (personalization key), CDP_BENCH_READ_PEOPLE, CDP_BENCH_PEOPLE. Against the
-- trivial server the same requests go out; it answers them all alike.
local messages = require "messages"

local people = tonumber(os.getenv("CDP_BENCH_READ_PEOPLE") or os.getenv("CDP_BENCH_PEOPLE"))

function init(args)
   math.randomseed(os.time())
   wrk.headers["Authorization"] = "Bearer " .. os.getenv("CDP_BENCH_KEY")
   wrk.headers["X-CDP-Purpose"] = "personalization"
end

function request()
   return wrk.format("GET", "/v1/profiles/user_id:user-" .. math.random(0, people - 1))
end

done = messages.report
