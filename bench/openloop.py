#!/usr/bin/python3
"""Open-loop HTTP load at a fixed rate (what `wrk -R` of wrk2 does; Debian has no wrk2).

Request i is due at start + i/rate whether or not earlier answers came back, and its latency is
measured from that due time, so a stall shows up in the percentiles instead of slowing the
generator down (no coordinated omission). Keep-alive connections are reused when idle; a new one
is opened when every connection is busy.

  openloop.py --url http://127.0.0.1:8001 --rate 200 --seconds 20 --ids bench/data/customer_ids.txt
Prints one JSON object: sent, ok, errors, achieved rate, p50/p90/p99/max in ms, connections, and
the generator's own lag (send_lag_*: how long after its due time each request was written; a large
lag means the generator, not the server, fell behind).
"""
import argparse
import asyncio
import json
import time
import urllib.parse


class Pool:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.idle = []
        self.opened = 0

    async def get(self):
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn):
        self.idle.append(conn)


async def one(pool, host, path, sent_at):
    reader, writer = await pool.get()
    try:
        writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
        sent_at.append(asyncio.get_running_loop().time())
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("closed without an answer")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "connection" and v.strip().lower() == "close":
                close = True
        if length:
            await reader.readexactly(length)
        if close:
            writer.close()
        else:
            pool.put((reader, writer))
        return status
    except Exception:
        writer.close()
        raise


async def run(args):
    u = urllib.parse.urlsplit(args.url)
    host, port = u.hostname, u.port or 80
    ids = [l.strip() for l in open(args.ids) if l.strip()]
    per = args.ids_per_request
    pool = Pool(host, port)
    n = int(args.rate * args.seconds)
    lat, errors = [], [0]
    lag = []  # how late each request left (the generator's own lag, not the server's)
    kinds = {}  # what each error was, so a bad figure says whose fault it is
    loop = asyncio.get_running_loop()
    # --start-at: a time.monotonic() value shared by the processes of one run (the same clock
    # as the loop's); each sends every K-th request of the one schedule (--shard J/K)
    start = args.start_at if args.start_at else loop.time() + 0.05
    shard, shards = (int(x) for x in args.shard.split("/"))

    async def fire(i, due):
        sel = [ids[(i * per + k) % len(ids)] for k in range(per)]
        sent_at = []
        try:
            st = await one(pool, host, "/%s/%s" % (args.dataset, ",".join(sel)), sent_at)
            if st == 200:
                lat.append(loop.time() - due)
            else:
                errors[0] += 1
                kinds["HTTP %d" % st] = kinds.get("HTTP %d" % st, 0) + 1
        except Exception as e:
            errors[0] += 1
            k = "%s: %s" % (type(e).__name__, str(e)[:80])
            kinds[k] = kinds.get(k, 0) + 1
        if sent_at:
            lag.append(sent_at[0] - due)

    tasks = []
    for i in range(n):
        if i % shards != shard:
            continue
        due = start + i / args.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fire(i, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for r, w in pool.idle:
        w.close()
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump({"sent": len(tasks), "lat": lat, "lag": lag, "errors": errors[0],
                       "error_kinds": kinds, "elapsed": elapsed, "connections": pool.opened}, f)
    lat.sort()
    lag.sort()

    def pct(p, v=lat):
        return round(v[min(len(v) - 1, int(p / 100.0 * len(v)))] * 1000, 3) if v else None

    return {"sent": len(tasks), "ok": len(lat), "errors": errors[0], "rate": round(len(lat) / elapsed, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "max_ms": round(lat[-1] * 1000, 3) if lat else None, "connections": pool.opened,
            "error_kinds": kinds, "send_lag_p50_ms": pct(50, lag), "send_lag_p99_ms": pct(99, lag),
            "send_lag_max_ms": pct(100, lag)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--ids", default="bench/data/customer_ids.txt")
    ap.add_argument("--ids-per-request", type=int, default=1)
    ap.add_argument("--dataset", default="customer")
    ap.add_argument("--shard", default="0/1", help="J/K: send requests i with i %% K == J")
    ap.add_argument("--start-at", type=float, default=0,
                    help="time.monotonic() at which request 0 is due (default: now)")
    ap.add_argument("--dump", help="also write every latency and send lag (s) to this file")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
