-- wrk: GET /customer/<id> over bench/data/customer_ids.txt, each thread from its own offset.
--   wrk -t2 -c32 -d10s --latency -s bench/wrk/ids.lua http://127.0.0.1:8001
-- Env: PAPI_IDS (id list file), PAPI_IDS_PER_REQUEST (default 1), PAPI_DATASET (default customer).
local ids = {}
for line in io.lines(os.getenv("PAPI_IDS") or "bench/data/customer_ids.txt") do
  ids[#ids + 1] = line
end
local per = tonumber(os.getenv("PAPI_IDS_PER_REQUEST") or "1")
local dataset = os.getenv("PAPI_DATASET") or "customer"
local counter = 0
local pos = 0

function setup(thread)
  thread:set("offset", counter * 997)
  counter = counter + 1
end

function init(args)
  pos = (offset or 0) % #ids
end

function request()
  local parts = {}
  for k = 1, per do
    pos = pos % #ids + 1
    parts[k] = ids[pos]
  end
  return wrk.format("GET", "/" .. dataset .. "/" .. table.concat(parts, ","))
end

function response(status, headers, body)
  if status ~= 200 then
    errors = (errors or 0) + 1
  end
end
