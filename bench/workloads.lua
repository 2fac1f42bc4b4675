-- Request generators of the scimserver benchmark, for wrk.
-- BENCH_WORKLOAD names the workload; BENCH_DATA is a file with one id, name or
-- substring per line, picked at random; BENCH_TOKEN is the bearer token;
-- BENCH_GROUP is the group that add_member adds to, BENCH_QUERY a query string
-- for its path, BENCH_PREFER a Prefer header to send (RFC 7240); BENCH_RUN
-- makes the names of created users unique across runs.

local workload = os.getenv("BENCH_WORKLOAD")
local token = os.getenv("BENCH_TOKEN") or ""
local group = os.getenv("BENCH_GROUP") or ""
local run = os.getenv("BENCH_RUN") or "0"
local query = os.getenv("BENCH_QUERY") or ""
local prefer = os.getenv("BENCH_PREFER") or ""
local user_schema = "urn:ietf:params:scim:schemas:core:2.0:User"
local patch_schema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
local items = {}
local headers = {}
local counter = 0
local created_threads = 0

function setup(thread)
  created_threads = created_threads + 1
  thread:set("thread_number", created_threads)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    lines[#lines + 1] = line
  end
  return lines
end

local function pick()
  return items[math.random(#items)]
end

local function encode(text)
  return (text:gsub("[^%w%-%._~]", function(character)
    return string.format("%%%02X", string.byte(character))
  end))
end

local function filter(expression)
  return "/scim/v2/Users?filter=" .. encode(expression)
end

local function patch(operation, path, value)
  return string.format(
    '{"schemas":["%s"],"Operations":[{"op":"%s","path":"%s","value":%s}]}',
    patch_schema, operation, path, value)
end

local builders = {
  get_user = function()
    return wrk.format("GET", "/scim/v2/Users/" .. pick(), headers)
  end,
  filter_eq = function()
    return wrk.format("GET", filter('userName eq "' .. pick() .. '"'), headers)
  end,
  filter_co = function()
    return wrk.format("GET", filter('userName co "' .. pick() .. '"'), headers)
  end,
  list_page = function()
    return wrk.format("GET", "/scim/v2/Users?count=100&startIndex=1", headers)
  end,
  create_user = function()
    counter = counter + 1
    local name = string.format("new-%s-%d-%d", run, thread_number or 0, counter)
    local body = string.format(
      '{"schemas":["%s"],"userName":"%s","name":{"givenName":"New","familyName":"User"},'
      .. '"emails":[{"value":"%s@example.com","type":"work","primary":true}],"active":true}',
      user_schema, name, name)
    return wrk.format("POST", "/scim/v2/Users", headers, body)
  end,
  patch_active = function()
    local value = math.random(2) == 1 and "true" or "false"
    return wrk.format("PATCH", "/scim/v2/Users/" .. pick(), headers,
      patch("replace", "active", value))
  end,
  add_member = function()
    local member = string.format('[{"value":"%s"}]', pick())
    return wrk.format("PATCH", "/scim/v2/Groups/" .. group .. query, headers,
      patch("add", "members", member))
  end,
  baseline = function()
    return wrk.format("GET", "/items/" .. pick(), headers)
  end,
  baseline_write = function()
    counter = counter + 1
    local body = string.format('{"name":"item-%d-%d"}', thread_number or 0, counter)
    return wrk.format("PATCH", "/items/" .. pick(), headers, body)
  end,
}

function init(args)
  items = read_lines(os.getenv("BENCH_DATA"))
  math.randomseed(os.time() * 100 + (thread_number or 0))
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/scim+json",
  }
  if prefer ~= "" then
    headers["Prefer"] = prefer
  end
end

request = builders[workload]
if request == nil then
  error("unknown BENCH_WORKLOAD: " .. tostring(workload))
end
