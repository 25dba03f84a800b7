-- wrk script for bench/redis_run: one random customer id (1..PAPI_BENCH_IDS, default 10000) a request.
local ids = tonumber(os.getenv("PAPI_BENCH_IDS") or "10000")
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(os.time() * 100 + (seed or 0))
end
request = function()
  return wrk.format("GET", "/customer/" .. math.random(1, ids))
end
