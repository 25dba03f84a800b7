-- wrk: POST /customer with 100 ids a call, the lines of bench/data/customer_batches.txt in turn
-- (each thread from its own offset): the batch callers' scenario.
--   wrk -t1 -c16 -d10s --latency -s bench/wrk/post.lua http://127.0.0.1:8001
-- Env: PAPI_BATCHES (the batch file), PAPI_DATASET (default customer). As ids.lua, the requests
-- are formatted once in init(), so no Lua runs per request beyond picking the next one.
local batches = {}
for line in io.lines(os.getenv("PAPI_BATCHES") or "bench/data/customer_batches.txt") do
  batches[#batches + 1] = line
end
local dataset = os.getenv("PAPI_DATASET") or "customer"
local counter = 0
local reqs = {}
local pos = 0

function setup(thread)
  thread:set("offset", counter * 37)
  counter = counter + 1
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for r = 1, #batches do
    local b = batches[((offset or 0) + r - 1) % #batches + 1]
    reqs[r] = wrk.format("POST", "/" .. dataset, headers, '{"ids": [' .. b .. ']}')
  end
end

function request()
  pos = pos % #reqs + 1
  return reqs[pos]
end
