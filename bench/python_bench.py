#!/usr/bin/python3
"""Cost of one cache-hit lookup from Python (the papi package over ctypes) against the same
lookup from C (bench/python_bench_c.c, compiled here against the build's libpapi).

    /usr/bin/python3 bench/python_bench.py [--build build] [--db demo.db] [-n 200000]

Prints the median ns per lookup over several rounds for each way of calling, and single-id
lookups per second from 1 and 2 Python threads. The per-lookup figures are CPU time of the
process (C: CLOCK_PROCESS_CPUTIME_ID, Python: time.process_time_ns), so that other jobs on a
shared machine inflate them less than wall time would; the thread rates are wall time.
Nothing is asserted: these are measurements.
"""

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def median_ns(fn, iters, rounds):
    fn()  # warm: the first call fills the cache
    out = []
    for _ in range(rounds):
        t0 = time.process_time_ns()
        for _ in range(iters):
            fn()
        out.append((time.process_time_ns() - t0) / iters)
    return statistics.median(out)


def c_figure(build, source, iters, rounds, tmp):
    exe = os.path.join(tmp, "python_bench_c")
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-I", os.path.join(ROOT, "include"), "-I", os.path.join(build, "include"),
                    "-o", exe, os.path.join(HERE, "python_bench_c.c"),
                    "-L", os.path.join(build, "libpapi"), "-lpapi"], check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, "libpapi"))
    p = subprocess.run([exe, source, str(iters), str(rounds)], env=env, check=True,
                       capture_output=True, text=True, timeout=600)
    return statistics.median(float(x) for x in p.stdout.split())


def threads_rate(client, nthreads, seconds):
    counts = [0] * nthreads
    stop = time.monotonic() + seconds

    def work(i):
        n = 0
        while time.monotonic() < stop:
            for _ in range(200):
                client.lookup_customers_raw([1885])
            n += 200
        counts[i] = n

    ts = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build dir")
    ap.add_argument("--db", help="demo database (default: made with <build>/cmd/papi/papi)")
    ap.add_argument("-n", type=int, default=200000, help="lookups per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    lib = os.path.join(build, "libpapi", "libpapi.so.0")
    os.environ["PAPI_LIBRARY"] = lib
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python", "src"))
    import papi  # noqa: E402 (after PAPI_LIBRARY and the path are set)
    from papi import _lib  # noqa: E402

    tmp = tempfile.mkdtemp(prefix="papi-pybench-")
    try:
        db = args.db
        if not db:
            db = os.path.join(tmp, "demo.db")
            subprocess.run([os.path.join(build, "cmd", "papi", "papi"), "demo-db", db,
                            "--rows", "10000"], check=True, stdout=subprocess.DEVNULL)
        source = "sqlite:" + os.path.abspath(db)
        n, rounds = args.n, args.rounds

        c_ns = c_figure(build, source, n, rounds, tmp)
        client = papi.Client(source=source, cache_ttl=3600, use_env=False)
        lib = _lib.library()
        ids1 = [1885]

        # The floor of any ctypes binding: the C calls alone, no Python-side checks or decoding.
        arr = (ctypes.c_int64 * 1)(1885)
        cs = _lib.CallState()
        handle = client._handle
        fn, js, free = lib.papi_lookup_customers, lib.papi_result_json_cstr, lib.papi_result_free
        pres, perr, psize, res = cs.pres, cs.perr, cs.psize, cs.res

        def bare():
            fn(handle, arr, 1, pres, perr)
            js(res, psize)
            free(res)

        rows = [
            ("C: papi_lookup_customers + papi_result_json + free", c_ns),
            ("Python: bare ctypes calls (same three)", median_ns(bare, n, rounds)),
            ("Python: client.lookup_customers_raw([1885]) -> bytes",
             median_ns(lambda: client.lookup_customers_raw(ids1), n, rounds)),
            ("Python: client.lookup_raw('customer', ['1885']) -> bytes",
             median_ns(lambda: client.lookup_raw("customer", ["1885"]), n, rounds)),
            ("Python: client.lookup_customers([1885]) -> list of dicts",
             median_ns(lambda: client.lookup_customers(ids1), n, rounds)),
        ]
        stats = client.stats()
        print("papi %s, one cache-hit lookup of customer 1885 (%d lookups x %d rounds, median CPU ns)"
              % (papi.version(), n, rounds))
        print("%-58s %10s %8s" % ("call", "ns/lookup", "x C"))
        for name, ns in rows:
            print("%-58s %10.0f %8.1f" % (name, ns, ns / c_ns))
        r1 = threads_rate(client, 1, 2.0)
        r2 = threads_rate(client, 2, 2.0)
        print("Python lookup_customers_raw, lookups/s: 1 thread %.0f, 2 threads %.0f" % (r1, r2))
        stats = client.stats()
        print("source calls during the Python runs: %d (cache hits: %d)"
              % (stats["source_calls"], stats["cache_hits"]))
        client.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
