#!/usr/bin/python3
"""Lookups through the SQL API emulator (issue 3 item 9): the latency papi adds on top of the
emulator's own handling time, and TCP connections opened per N lookups (target: <= pool size).

  bench/emulator_bench.py [--build build-snowflake] [--lookups 10000] [--threads 1,8] [--pool 8]

Cache off (every lookup is one SQL API statement), key-pair JWT auth, loopback HTTP/1.1.
The emulator reports its own handling time per response (X-Emulator-Time-Us, summed in its
counters); "added by papi+HTTP" = client-measured mean per lookup - emulator mean per statement.
That difference includes the loopback round trip and Python's HTTP parsing, so it is an upper
bound on what libpapi itself adds."""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def counters(base):
    with urllib.request.urlopen(base + "/_emulator/counters", timeout=10) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-snowflake"))
    ap.add_argument("--lookups", type=int, default=10000)
    ap.add_argument("--threads", default="1,8")
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--ids", default="1885")
    args = ap.parse_args()
    papi = os.path.join(args.build, "cmd/papi/papi")
    driver = os.path.join(args.build, "tests/integration/snowflake/sf_driver")
    tmp = tempfile.mkdtemp(prefix="papi-bench-")
    emu = None
    try:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with open(os.path.join(tmp, "k.p8"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(os.path.join(tmp, "k.pub"), "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
        db = os.path.join(tmp, "demo.db")
        subprocess.run([papi, "demo-db", db], check=True, stdout=subprocess.DEVNULL, timeout=120)
        emu = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/emulator/sqlapi_emulator.py"),
                                "--db", db, "--public-key", os.path.join(tmp, "k.pub"),
                                "--max-seconds", "900"], stdout=subprocess.PIPE, text=True)
        port = int(emu.stdout.readline().split()[1])
        base = "http://127.0.0.1:%d" % port
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SNOWFLAKE_", "PAPI_"))}
        env.update({"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "svc_papi",
                    "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(port),
                    "SNOWFLAKE_PROTOCOL": "http",
                    "SNOWFLAKE_PRIVATE_KEY_FILE": os.path.join(tmp, "k.p8"),
                    "PAPI_SOURCE": "snowflake", "PAPI_CACHE": "none",
                    "PAPI_POOL_SIZE": str(args.pool)})
        print("lookups=%d ids=%s pool=%d cache=none emulator=python http.server (loopback)"
              % (args.lookups, args.ids, args.pool))
        print("%-8s %10s %10s %10s %12s %12s %14s" % ("threads", "mean_us", "p50_us", "p99_us",
                                                       "emulator_us", "added_us", "connections"))
        for t in [int(x) for x in args.threads.split(",")]:
            before = counters(base)
            out = subprocess.run([driver, "--lookups", str(args.lookups), "--threads", str(t),
                                  "--ids", args.ids], env=env, capture_output=True, text=True,
                                 timeout=1800)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            after = counters(base)
            if r["failed"]:
                raise SystemExit("lookups failed: %s" % r)
            stmts = after["statements"] - before["statements"]
            emu_us = (after["handling_us"] - before["handling_us"]) / max(stmts, 1)
            mean_us = r["source_latency_us"] / max(r["source_calls"], 1)
            conns = after["connections"] - before["connections"] - 1  # minus the counters call
            print("%-8d %10.0f %10d %10d %12.0f %12.0f %14d" % (
                t, mean_us, r["p50_us"], r["p99_us"], emu_us, mean_us - emu_us, conns))
    finally:
        if emu and emu.poll() is None:
            emu.send_signal(signal.SIGTERM)
            emu.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
