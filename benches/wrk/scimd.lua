-- wrk script for benches/run.sh: one scenario per run, chosen by $SCENARIO.
-- $TOKEN is the bearer token; $IDS_FILE is the id list written by benches/seed.rs (line 1 the
-- 50,000-member group, lines 2..1000 the 10-member groups, then user i's id for
-- userName "user<i>@example.com"); $RUN_ID keeps created userNames unique across runs.
local scenario = os.getenv("SCENARIO")
local token = os.getenv("TOKEN")
local ids_file = os.getenv("IDS_FILE")
local run_id = os.getenv("RUN_ID") or "0"
local GROUPS = 1000
local SPARE_FROM = 50000 -- users 50,000.. are not members of the big group

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local groups, users = {}, {}
local counter = 0

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  if ids_file then
    local n = 0
    for line in io.lines(ids_file) do
      n = n + 1
      if n <= GROUPS then groups[n] = line else users[n - GROUPS] = line end
    end
  end
  wrk.headers["Authorization"] = "Bearer " .. (token or "")
  wrk.headers["Accept"] = "application/scim+json"
  wrk.headers["Content-Type"] = "application/scim+json"
end

local PATCH_OP = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['

-- A user that is in no group yet (so every member add is a real insert); threads take
-- disjoint halves of the spare range.
local function spare_user()
  local span = math.floor((#users - SPARE_FROM) / 2)
  local i = SPARE_FROM + ((tid or 1) - 1) * span + (counter % span)
  return users[i + 1]
end

function request()
  counter = counter + 1
  if scenario == "hello" then
    return wrk.format("GET", "/bench/hello")
  elseif scenario == "filter" then
    local i = math.random(0, #users - 1)
    return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22user" .. i .. "%40example.com%22")
  elseif scenario == "get" then
    return wrk.format("GET", "/scim/v2/Users/" .. users[math.random(1, #users)])
  elseif scenario == "list" then
    return wrk.format("GET", "/scim/v2/Users?startIndex=" .. math.random(1, #users - 99) .. "&count=100")
  elseif scenario == "create" then
    local name = "bench-" .. run_id .. "-" .. (tid or 0) .. "-" .. counter .. "@example.com"
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
      '","name":{"givenName":"Bench","familyName":"User"},"emails":[{"value":"' .. name ..
      '","type":"work","primary":true}],"active":true}'
    return wrk.format("POST", "/scim/v2/Users", nil, body)
  elseif scenario == "patch" then
    local body = PATCH_OP .. '{"op":"replace","value":{"displayName":"Patched ' .. counter .. '"}}]}'
    return wrk.format("PATCH", "/scim/v2/Users/" .. users[math.random(1, #users)], nil, body)
  elseif scenario == "member_add_big" or scenario == "member_add_small" then
    local group = groups[1]
    if scenario == "member_add_small" then group = groups[2 + (counter % (GROUPS - 1))] end
    local body = PATCH_OP .. '{"op":"add","path":"members","value":[{"value":"' .. spare_user() .. '"}]}]}'
    return wrk.format("PATCH", "/scim/v2/Groups/" .. group, nil, body)
  elseif scenario == "group_get" then
    return wrk.format("GET", "/scim/v2/Groups/" .. groups[1] .. "?excludedAttributes=members")
  end
  error("unknown SCENARIO " .. tostring(scenario))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"errors_status":%d,"errors_socket":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
