-- wrk script: like post.lua, but every request is a different alert group
-- (a distinct groupKey), so nothing is superseded in the queue and every
-- accepted webhook is rendered and sent.
local path = os.getenv("PAYLOAD") or "testdata/alertmanager/am-0.25-group-1.json"
local f = assert(io.open(path, "r"))
local tmpl = f:read("*a")
f:close()
local token = os.getenv("TOKEN")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  local body = tmpl:gsub('"groupKey": *"[^\n]-",\n', '"groupKey": "bench-' .. tid .. '-' .. n .. '",\n', 1)
  local headers = {["Content-Type"] = "application/json"}
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", nil, headers, body)
end
