#!/usr/bin/python3
"""Measures what one hostile, oversized SQL API answer costs `papi lookup`: peak RSS and wall time.

Starts the emulator with a throwaway key, makes it pad its answer to --pad-mib MiB with rows of a
key nobody asked for (fault pad_bytes), runs `papi lookup 1885` under /usr/bin/time -v with
PAPI_TIMEOUT_MS and prints one line: exit code, status text, max RSS and elapsed time.
Usage: big_answer_rss.py --papi build/cmd/papi/papi [--pad-mib 60] [--timeout-ms 3000] [--env K=V]...
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papi", required=True)
    ap.add_argument("--pad-mib", type=float, default=60)
    ap.add_argument("--timeout-ms", type=int, default=3000)
    ap.add_argument("--ids", default="1885")
    ap.add_argument("--env", action="append", default=[], help="extra K=V for papi")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="papi-rss-")
    emu = None
    try:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        p8, pub = os.path.join(tmp, "key.p8"), os.path.join(tmp, "key.pub")
        with open(p8, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(pub, "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
        db = os.path.join(tmp, "demo.db")
        subprocess.run([args.papi, "demo-db", db, "--rows", "2000"], check=True,
                       stdout=subprocess.DEVNULL)
        emu = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "sqlapi_emulator.py"),
                                "--db", db, "--public-key", pub, "--max-seconds", "300"],
                               stdout=subprocess.PIPE, text=True)
        port = int(emu.stdout.readline().split()[1])
        req = urllib.request.Request("http://127.0.0.1:%d/_emulator/faults" % port,
                                     data=('{"pad_bytes": %d}' % int(args.pad_mib * 2**20)).encode())
        urllib.request.urlopen(req, timeout=10).read()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SNOWFLAKE_") and not k.startswith("PAPI_")}
        env.update({"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "svc_papi",
                    "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(port),
                    "SNOWFLAKE_PROTOCOL": "http", "SNOWFLAKE_PRIVATE_KEY_FILE": p8,
                    "PAPI_SOURCE": "snowflake", "PAPI_CACHE": "none", "PAPI_MAX_ATTEMPTS": "1",
                    "PAPI_TIMEOUT_MS": str(args.timeout_ms)})
        env.update(kv.split("=", 1) for kv in args.env)
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", args.papi, "lookup", args.ids], env=env,
                           capture_output=True, text=True)
        wall = time.monotonic() - t0
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        err = [ln for ln in p.stderr.splitlines() if ln.startswith("papi:")]
        print("pad %.0f MiB, timeout %d ms: exit %d, %s, max RSS %.1f MiB, wall %.2f s" % (
            args.pad_mib, args.timeout_ms, p.returncode,
            (err[0][:150] if err else "rows: " + p.stdout.strip()[:60]),
            int(rss.group(1)) / 1024 if rss else -1, wall))
    finally:
        if emu:
            emu.terminate()
            emu.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
