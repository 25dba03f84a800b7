-- wrk: the same customer again and again (the hottest possible cache hit).
--   wrk -t2 -c32 -d10s --latency -s bench/wrk/one.lua http://127.0.0.1:8001
wrk.method = "GET"
wrk.path = "/customer/" .. (os.getenv("PAPI_ID") or "1885")
