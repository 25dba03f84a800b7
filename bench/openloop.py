#!/usr/bin/python3
"""Open-loop HTTP load at a fixed rate (what `wrk -R` of wrk2 does; Debian has no wrk2).

Request i is due at start + i/rate whether or not earlier answers came back, and its latency is
measured from that due time, so a stall shows up in the percentiles instead of slowing the
generator down (no coordinated omission). Keep-alive connections are reused when idle; a new one
is opened when every connection is busy.

  openloop.py --url http://127.0.0.1:8001 --rate 200 --seconds 20 --ids bench/data/customer_ids.txt
Prints one JSON object: sent, ok, errors, achieved rate, p50/p90/p99/max in ms, connections.
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


async def one(pool, host, path):
    reader, writer = await pool.get()
    try:
        writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
        await writer.drain()
        status_line = await reader.readline()
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
    kinds = {}  # what each error was, so a bad figure says whose fault it is
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def fire(i, due):
        sel = [ids[(i * per + k) % len(ids)] for k in range(per)]
        try:
            st = await one(pool, host, "/%s/%s" % (args.dataset, ",".join(sel)))
            if st == 200:
                lat.append(loop.time() - due)
            else:
                errors[0] += 1
                kinds["HTTP %d" % st] = kinds.get("HTTP %d" % st, 0) + 1
        except Exception as e:
            errors[0] += 1
            k = "%s: %s" % (type(e).__name__, str(e)[:80])
            kinds[k] = kinds.get(k, 0) + 1

    tasks = []
    for i in range(n):
        due = start + i / args.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fire(i, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for r, w in pool.idle:
        w.close()
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000, 3) if lat else None

    return {"sent": n, "ok": len(lat), "errors": errors[0], "rate": round(len(lat) / elapsed, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "max_ms": round(lat[-1] * 1000, 3) if lat else None, "connections": pool.opened, "error_kinds": kinds}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--ids", default="bench/data/customer_ids.txt")
    ap.add_argument("--ids-per-request", type=int, default=1)
    ap.add_argument("--dataset", default="customer")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
