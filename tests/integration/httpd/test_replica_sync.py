#!/usr/bin/python3
"""papi-httpd keeps its replica fresh (issue 10): `--source sqlite:replica.db,snowflake` with
`--sync-interval` re-syncs the replica from the SQL API emulator in the background and swaps the
new file in while a client hammers lookups: every request is answered 200 with the right rows,
rows changed upstream appear after a swap, and the replica's ids never reach the warehouse.
`--replica-max-age` makes /readyz 503 while the replica is too old and 200 once a sync lands;
/metrics reports the replica's age, rows, last sync duration, syncs and failures, and the
chain's per-source counters. A failing sync (an emulator fault) keeps the old file serving and
logs one line; SIGTERM during a sync stuck in a partition exits 0 at once and leaves no
temporary file; flags that cannot work exit 3 before anything is served or written.

Needs PAPI_HTTPD, PAPI_CLI (meson test sets them) and the emulator under tests/emulator."""
import glob
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

from harness import CLI, HTTPD, Server, tmpdir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "emulator"))
from launch import Emulator  # noqa: E402  (the SQL API emulator on a free port)

PAT = "pat-bgsync-0123456789abcdef"
ROWS = 3000
PER_PARTITION = 500  # 6 partitions a sync
WAIT_S = 90  # generous bounds: a loaded 2-core machine


class Env:
    """A warehouse database served by one emulator in partitions."""

    def __init__(self):
        self.dir = tmpdir()
        self.db = os.path.join(self.dir, "warehouse.db")
        subprocess.run([CLI, "demo-db", self.db, "--rows", str(ROWS)], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.emulator = Emulator(["--db", self.db, "--pat", PAT,
                                  "--rows-per-partition", str(PER_PARTITION)], max_seconds=900,
                                 quiet=False)
        self.port = self.emulator.port

    def env(self):
        return self.emulator.snowflake_env(PAT)

    def emu(self, path, body=None):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=20) as r:
            return json.loads(r.read())

    def set_name(self, sk, name):
        con = sqlite3.connect(self.db)
        con.execute("UPDATE hybrid_customer SET C_FIRST_NAME = ? WHERE C_CUSTOMER_SK = ?",
                    (name, sk))
        con.commit()
        con.close()

    def close(self):
        self.emulator.close()


ENV = None


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def wait_until(what, pred, seconds=WAIT_S):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class ReplicaSync(unittest.TestCase):
    def setUp(self):
        ENV.emu("/_emulator/reset", {})
        self.dir = tmpdir()
        self.replica = os.path.join(self.dir, "replica.db")
        p = subprocess.run([CLI, "sync", "--to", self.replica], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, **ENV.env()))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.servers = []

    def tearDown(self):
        ENV.emu("/_emulator/faults", {"pause_partition": None, "fail_partition": None})
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def server(self, *args, source=None):
        s = Server(args=("--cache", "none") + args, env=ENV.env(),
                   source=source or "sqlite:%s,snowflake" % self.replica)
        self.servers.append(s)
        return s

    def temps(self):
        return glob.glob(self.replica + ".tmp-*")

    def test_swaps_under_load_fail_no_request(self):
        s = self.server("--sync-interval", "1")
        ids = [1885, 2, 7, 2999]
        before = {r["C_CUSTOMER_SK"]: r["C_FIRST_NAME"]
                  for r in s.get_json("/customer/1885,2,7,2999")[2]}
        stop = threading.Event()
        results = {"ok": 0, "bad": [], "renamed": 0}
        lock = threading.Lock()

        def hammer():
            c = s.conn(timeout=30)
            while not stop.is_set():
                try:
                    c.request("GET", "/customer/1885,2,7,2999")
                    r = c.getresponse()
                    body = r.read()
                    status = r.status
                except OSError as e:  # a failed request is a failure of the test
                    with lock:
                        results["bad"].append(repr(e))
                    c.close()
                    c = s.conn(timeout=30)
                    continue
                rows = json.loads(body) if status == 200 else None
                with lock:
                    if status != 200 or [r["C_CUSTOMER_SK"] for r in rows] != ids:
                        results["bad"].append((status, body[:200]))
                    else:
                        results["ok"] += 1
                        names = {r["C_CUSTOMER_SK"]: r["C_FIRST_NAME"] for r in rows}
                        if names[7] == "Renamed":
                            results["renamed"] += 1
                        elif names != before:
                            results["bad"].append(("wrong rows", body[:200]))
            c.close()

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            wait_until("two syncs", lambda: s.metrics().get("papi_replica_syncs_total", 0) >= 2)
            ENV.set_name(7, "Renamed")
            syncs = s.metrics()["papi_replica_syncs_total"]
            # a sync that began after the change, then the swap a lookup notices
            wait_until("more syncs", lambda: s.metrics()["papi_replica_syncs_total"] >= syncs + 2)
            wait_until("the renamed row", lambda: results["renamed"] > 0)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
            ENV.set_name(7, before[7])
        self.assertEqual(results["bad"], [])
        self.assertGreater(results["ok"], 50)
        swaps = s.stderr().count("names a new file")
        self.assertGreaterEqual(swaps, 2, s.stderr()[-2000:])
        c = ENV.emu("/_emulator/counters")
        self.assertGreaterEqual(c["scans"], 4)
        self.assertEqual(c["wh_statements"], 0)  # the replica held every id asked
        self.assertEqual(self.temps(), [])
        self.assertEqual(s.terminate(), 0)

    def test_readyz_fails_past_max_age_and_recovers_after_a_sync(self):
        s = self.server("--sync-interval", "2", "--replica-max-age", "4")
        self.assertEqual(s.get_json("/readyz")[0], 200)
        ENV.emu("/_emulator/faults", {"fail_partition": 2})
        wait_until("a failed sync",
                   lambda: s.metrics().get("papi_replica_sync_failures_total", 0) >= 1)
        st, h, body = wait_until("/readyz 503", lambda: (lambda r: r if r[0] == 503 else None)(
            s.get_json("/readyz")))
        self.assertEqual(body["code"], "ESTALE")
        self.assertIn("--replica-max-age", body["error"])
        self.assertIn("retry-after", h)
        # still serving the old replica meanwhile
        st, _, rows = s.get_json("/customer/1885")
        self.assertEqual((st, rows[0]["C_CUSTOMER_SK"]), (200, 1885))
        syncs = s.metrics()["papi_replica_syncs_total"]
        ENV.emu("/_emulator/faults", {"fail_partition": None})
        wait_until("/readyz 200", lambda: s.get_json("/readyz")[0] == 200)
        self.assertGreater(s.metrics()["papi_replica_syncs_total"], syncs)
        self.assertEqual(s.terminate(), 0)

    def test_an_external_sync_is_seen_by_readyz(self):
        time.sleep(2.2)
        s = self.server("--replica-max-age", "2", source="sqlite:" + self.replica)
        st, _, body = s.get_json("/readyz")
        self.assertEqual((st, body["code"]), (503, "ESTALE"))
        p = subprocess.run([CLI, "sync", "--to", self.replica], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, **ENV.env()))
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_until("/readyz 200", lambda: s.get_json("/readyz")[0] == 200)
        m = s.metrics()
        self.assertEqual(m["papi_replica_syncs_total"], 0)  # not the server's own
        self.assertNotIn("papi_replica_last_sync_duration_seconds", m)
        self.assertEqual(s.terminate(), 0)

    def test_a_replaced_file_the_source_refuses_is_not_what_readyz_reports(self):
        # A fresh file of another shape (or dataset) renamed over the replica: the sqlite source
        # keeps serving the old file, so /readyz and /metrics keep reporting the old file too.
        time.sleep(2.2)
        s = self.server("--replica-max-age", "2", source="sqlite:" + self.replica)
        self.assertEqual(s.get_json("/readyz")[0], 503)
        rows = s.metrics()["papi_replica_rows"]
        for column, value in (("shape", "0123456789abcdef"), ("dataset", "product")):
            forged = self.replica + ".forged"
            shutil.copy(self.replica, forged)
            con = sqlite3.connect(forged)
            con.execute("UPDATE papi_replica_meta SET %s = ?, rows = 7, finished_utc = ?"
                        % column, (value, time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                        time.gmtime(time.time() + 3600))))
            con.commit()
            con.close()
            os.rename(forged, self.replica)
            wait_until("the source refusing the file", lambda: (
                s.get_json("/customer/1885")[0] == 200 and
                s.stderr().count("still serving the previous one") >= 1 + (column == "dataset")))
            time.sleep(3.5)  # the file is watched every second: three looks at least
            st, _, body = s.get_json("/readyz")
            self.assertEqual((st, body.get("code")), (503, "ESTALE"), column)
            self.assertEqual(s.metrics()["papi_replica_rows"], rows, column)
        self.assertEqual(s.terminate(), 0)

    def test_a_replica_stamped_in_the_future_is_synced_an_interval_later(self):
        # its end time from a host whose clock runs an hour ahead: the first sync is still due
        # an interval after start, not an hour and an interval
        con = sqlite3.connect(self.replica)
        con.execute("UPDATE papi_replica_meta SET finished_utc = ?", (time.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 3600)),))
        con.commit()
        con.close()
        s = self.server("--sync-interval", "1")
        wait_until("a sync", lambda: s.metrics().get("papi_replica_syncs_total", 0) >= 1)
        self.assertEqual(s.terminate(), 0)

    def test_metrics(self):
        s = self.server("--sync-interval", "1")
        wait_until("a sync", lambda: s.metrics().get("papi_replica_syncs_total", 0) >= 1)
        s.get_json("/customer/1885,2,99999")  # 99999: absent, asked of the warehouse too
        st, _, body = s.request("GET", "/metrics")
        text = body.decode()
        for name, kind in (("papi_replica_age_seconds", "gauge"), ("papi_replica_rows", "gauge"),
                           ("papi_replica_last_sync_duration_seconds", "gauge"),
                           ("papi_replica_syncs_total", "counter"),
                           ("papi_replica_sync_failures_total", "counter")):
            self.assertIn("# HELP %s " % name, text)
            self.assertIn("# TYPE %s %s\n" % (name, kind), text)
        m = s.metrics()
        self.assertEqual(m["papi_replica_rows"], ROWS)
        self.assertGreaterEqual(m["papi_replica_age_seconds"], 0)
        self.assertLess(m["papi_replica_age_seconds"], 60)
        self.assertGreater(m["papi_replica_last_sync_duration_seconds"], 0)
        self.assertLess(m["papi_replica_last_sync_duration_seconds"], 60)
        self.assertEqual(m["papi_replica_sync_failures_total"], 0)
        # the chain, source by source: the replica answered two ids, the warehouse the third
        self.assertIn("# TYPE papi_chain_ids_total counter\n", text)
        self.assertEqual(m['papi_chain_ids_total{source="0:sqlite"}'], 3)
        self.assertEqual(m['papi_chain_rows_total{source="0:sqlite"}'], 2)
        self.assertEqual(m['papi_chain_ids_total{source="1:snowflake"}'], 1)
        self.assertEqual(m['papi_chain_rows_total{source="1:snowflake"}'], 0)
        self.assertEqual(m['papi_chain_calls_total{source="1:snowflake"}'], 1)
        self.assertEqual(m['papi_chain_errors_total{source="0:sqlite"}'], 0)

    def test_a_failed_sync_keeps_serving_and_logs_one_line(self):
        s = self.server("--sync-interval", "1")
        wait_until("a sync", lambda: s.metrics().get("papi_replica_syncs_total", 0) >= 1)
        before = sha(self.replica)
        lines_before = len(s.stderr().splitlines())
        ENV.emu("/_emulator/faults", {"fail_partition": 3})
        wait_until("two failed syncs",
                   lambda: s.metrics().get("papi_replica_sync_failures_total", 0) >= 2)
        st, _, rows = s.get_json("/customer/1885,2")
        self.assertEqual((st, [r["C_CUSTOMER_SK"] for r in rows]), (200, [1885, 2]))
        ENV.emu("/_emulator/faults", {"fail_partition": None})
        failures = s.metrics()["papi_replica_sync_failures_total"]
        syncs = s.metrics()["papi_replica_syncs_total"]
        wait_until("a sync after the fault",
                   lambda: s.metrics()["papi_replica_syncs_total"] > syncs)
        self.assertEqual(s.metrics()["papi_replica_sync_failures_total"], failures)
        new = s.stderr().splitlines()[lines_before:]
        failed = [l for l in new if "replica: sync of customer failed" in l]
        self.assertEqual(len(failed), failures, "\n".join(new))
        # one line per failure, and nothing else above info
        others = [l for l in new if json.loads(l)["level"] in ("warn", "error") and l not in failed]
        self.assertEqual(others, [])
        for l in failed:
            self.assertIn("still serving the previous file", l)
            self.assertNotIn(PAT, l)
            self.assertNotIn("SELECT", l)
        self.assertNotEqual(sha(self.replica), before)  # the sync after the fault replaced it
        self.assertEqual(self.temps(), [])
        self.assertEqual(s.terminate(), 0)

    def test_sigterm_during_a_slow_sync_exits_0_and_leaves_no_temp_file(self):
        before = sha(self.replica)
        ENV.emu("/_emulator/faults", {"pause_partition": 3, "hang_ms": 120000})
        time.sleep(1.1)  # the replica is older than the interval: the first sync starts at once
        s = self.server("--sync-interval", "1")
        wait_until("a paused partition",
                   lambda: ENV.emu("/_emulator/counters")["partitions_paused"] >= 1)
        temps = glob.glob(self.replica + ".tmp-%d-*" % s.proc.pid)
        self.assertEqual(len(temps), 1, temps)  # partitions 0..2 written there
        t0 = time.monotonic()
        self.assertEqual(s.terminate(timeout=30), 0, s.stderr()[-2000:])
        self.assertLess(time.monotonic() - t0, 20)  # not the 120 s the partition hangs
        self.assertEqual(self.temps(), [])
        self.assertEqual(sha(self.replica), before)
        self.assertIn("abandoned", s.stderr())

    def test_flags_that_cannot_work_exit_3(self):
        before = sha(self.replica)
        scans = ENV.emu("/_emulator/counters")["scans"]  # setUp's sync
        demo = os.path.join(self.dir, "demo.db")
        subprocess.run([CLI, "demo-db", demo, "--rows", "10"], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        cases = [
            (["--sync-interval", "5m", "--source", "snowflake"],
             "--sync-interval needs a replica as the first source", 3),
            (["--sync-interval", "5m", "--source", "sqlite:" + self.replica],
             "needs a source after the replica", 3),
            (["--sync-interval", "5m", "--source", "sqlite:%s,snowflake" % demo],
             "is not a papi replica", 3),
            (["--replica-max-age", "1h", "--source", "snowflake"],
             "--replica-max-age needs a replica as the first source", 3),
            (["--sync-interval", "5 minutes", "--source", "sqlite:%s,snowflake" % self.replica],
             "--sync-interval: expected a duration", 2),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
        env.update(ENV.env())
        for args, message, code in cases:
            p = subprocess.run([HTTPD, "--listen", "127.0.0.1:0"] + args, capture_output=True,
                               text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            self.assertIn(message, p.stderr)
            self.assertNotIn("listening", p.stderr)
        p = subprocess.run([HTTPD, "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=60, env=dict(env, PAPI_SYNC_INTERVAL="1h",
                                                PAPI_SOURCE="snowflake"))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(sha(self.replica), before)
        self.assertEqual(self.temps(), [])
        self.assertEqual(ENV.emu("/_emulator/counters")["scans"], scans)


def main():
    global ENV
    ENV = Env()
    try:
        r = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:], exit=False).result
    finally:
        ENV.close()
    sys.exit(0 if r.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
