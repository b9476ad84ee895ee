-- wrk script: POST the Alertmanager payload named by PAYLOAD (default: the
-- captured three-alert group) to the path wrk is pointed at.
local path = os.getenv("PAYLOAD") or "testdata/alertmanager/am-0.25-group-1.json"
local f = assert(io.open(path, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
