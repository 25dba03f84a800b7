-- wrk: GET /customer/<id> over bench/data/customer_ids.txt, each thread from its own offset.
--   wrk -t2 -c32 -d10s --latency -s bench/wrk/ids.lua http://127.0.0.1:8001
-- Env: PAPI_IDS (id list file), PAPI_IDS_PER_REQUEST (default 1), PAPI_DATASET (default customer),
-- PAPI_SELECT (a column list sent as ?select=, default none: every column).
-- The requests are formatted once in init() and there is no response() hook (wrk counts
-- non-2xx answers itself): the generator shares the 2 cores with the server, so every
-- microsecond of Lua per request is taken from the figures being measured.
local ids = {}
for line in io.lines(os.getenv("PAPI_IDS") or "bench/data/customer_ids.txt") do
  ids[#ids + 1] = line
end
local per = tonumber(os.getenv("PAPI_IDS_PER_REQUEST") or "1")
local dataset = os.getenv("PAPI_DATASET") or "customer"
local select = os.getenv("PAPI_SELECT")
local query = (select and select ~= "") and ("?select=" .. select) or ""
local counter = 0
local reqs = {}
local pos = 0

function setup(thread)
  thread:set("offset", counter * 997)
  counter = counter + 1
end

function init(args)
  local p = (offset or 0) % #ids
  for r = 1, #ids do
    local parts = {}
    for k = 1, per do
      p = p % #ids + 1
      parts[k] = ids[p]
    end
    reqs[r] = wrk.format("GET", "/" .. dataset .. "/" .. table.concat(parts, ",") .. query)
  end
end

function request()
  pos = pos % #reqs + 1
  return reqs[pos]
end
