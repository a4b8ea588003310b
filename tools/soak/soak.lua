-- wrk script for the soak (tools/soak/run.sh): a mix of Segment batches (30 %) and profile
-- reads (70 %) over the people run.sh seeded (user_id:soak-1 .. soak-$SOAK_PEOPLE).
-- Keys and sizes come from the environment; every messageId is new, so each batch is stored.
local ingest_key = os.getenv("SOAK_INGEST_KEY")
local read_key = os.getenv("SOAK_READ_KEY")
local people = tonumber(os.getenv("SOAK_PEOPLE") or "100")
local counter = 0
local thread_tag = ""

function setup(thread)
  thread:set("thread_tag", tostring(math.random(1, 1e9)))
end

function init(args)
  math.randomseed(os.time() + (tonumber(thread_tag) or 0))
end

local function batch_body(user)
  local events = {}
  for i = 1, 5 do
    counter = counter + 1
    events[i] = string.format(
      '{"type":"track","event":"Product Viewed","userId":"soak-%d","messageId":"soak-%s-%d",' ..
      '"context":{"location":{"country":"DE"}},"properties":{"sku":"sku-%d","price":%d}}',
      user, thread_tag, counter, counter % 97, counter % 500)
  end
  return '{"batch":[' .. table.concat(events, ",") .. ']}'
end

function request()
  local user = math.random(1, people)
  if math.random() < 0.3 then
    return wrk.format("POST", "/v1/batch",
      {["Authorization"] = "Bearer " .. ingest_key, ["Content-Type"] = "application/json"},
      batch_body(user))
  end
  local path = "/v1/profiles/user_id:soak-" .. user
  if math.random() < 0.3 then path = path .. "/events?limit=20" end
  return wrk.format("GET", path,
    {["Authorization"] = "Bearer " .. read_key, ["X-CDP-Purpose"] = "legal_obligation"})
end

local bad = 0
function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("soak: HTTP " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end
