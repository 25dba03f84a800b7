#!/usr/bin/python3
"""Misses at warehouse scale (issue 9): papi-httpd on the snowflake transport against the SQL API
emulator's warehouse, over real HTTP. Counted at the source: the emulator's warehouse counters
(statements, distinct ids each asked for, in the order they ran) and papi's /metrics. No timed
assertion: the warehouse is paused (statements hold their slot) while a test fills papi's queue,
watched through papi_source_queue_depth, then let go.

The deadline of a request queued behind a busy slot is proven by the unit tests
(tests/unit/core/test_dispatch.c): here the fetch holding the slot always ends (at its own,
earlier deadline) before a queued request's deadline passes.

Needs PAPI_HTTPD, PAPI_CLI, SF_EMULATOR, PAPI_TEST_TMP (set by meson)."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httpd"))
import harness  # noqa: E402  (papi-httpd on a free port, HTTP helpers)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "emulator"))
from launch import Emulator  # noqa: E402  (the SQL API emulator on a free port)

CLI = os.environ.get("PAPI_CLI", "")
EMULATOR = os.environ.get("SF_EMULATOR", "")
PAT = "batching-pat-0123456789"
POLL_S = 30  # bound of every wait for a state: generous on a loaded machine


ENV = {}


def setUpModule():
    d = harness.tmpdir()
    db = os.path.join(d, "demo.db")
    subprocess.run([CLI, "demo-db", db, "--rows", "2000"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    ENV["dir"] = d
    ENV["emu"] = Emulator(["--db", db, "--pat", PAT], max_seconds=600)


def tearDownModule():
    if "emu" in ENV:
        ENV["emu"].close()
    shutil.rmtree(ENV.get("dir", ""), ignore_errors=True)


def wait_for(what, cond):
    deadline = time.monotonic() + POLL_S
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


class Get(threading.Thread):
    """One GET on its own connection, in its own thread."""

    def __init__(self, server, path):
        super().__init__(daemon=True)
        self.server, self.path = server, path
        self.status = self.headers = self.body = None
        self.start()

    def run(self):
        try:
            self.status, self.headers, self.body = self.server.request("GET", self.path, timeout=60)
        except Exception as e:  # the test reads status None and this text
            self.body = repr(e).encode()

    def result(self):
        self.join(90)
        return self.status, self.headers, self.body


class Batching(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.emu = ENV["emu"]
        self.emu.config(warehouse_slots=0, statement_ms=0, warehouse_paused=False, pats=[PAT])
        self.emu.reset()
        self.emu.config(pats=[PAT])
        self.addCleanup(self.emu.config, warehouse_paused=False)

    def server(self, *flags, env=None):
        e = {"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "svc_papi",
             "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(self.emu.port),
             "SNOWFLAKE_PROTOCOL": "http", "SNOWFLAKE_TOKEN": PAT,
             "SNOWFLAKE_AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN"}
        e.update(env or {})
        s = harness.Server(["--access-log", "0"] + list(flags), env=e, source="snowflake")
        self.addCleanup(s.stop)
        return s

    def metric(self, s, name):
        return s.metrics().get(name, 0.0)

    def wait_queue(self, s, n):
        wait_for("papi's queue to hold %d ids" % n,
                 lambda: self.metric(s, "papi_source_queue_depth") == n)

    def wait_running(self, n):
        wait_for("%d statements in the warehouse" % n,
                 lambda: self.emu.counters()["wh_running"] == n)

    def assert_row(self, got, cid):
        status, _, body = got
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)[0]["C_CUSTOMER_SK"], cid)

    def test_burst_shares_statements(self):
        """2 statements in flight; 58 single-id requests queue in papi and then go as one."""
        s = self.server("--source-concurrency", "2", "--pool-size", "4")
        self.emu.config(warehouse_paused=True)
        first = [Get(s, "/customer/%d" % i) for i in (1, 2)]
        self.wait_running(2)
        rest = [Get(s, "/customer/%d" % i) for i in range(3, 61)]
        self.wait_queue(s, 58)
        self.emu.config(warehouse_paused=False)
        for i, g in enumerate(first + rest):
            self.assert_row(g.result(), i + 1)
        c = self.emu.counters()
        self.assertEqual(c["wh_statements"], 3)
        self.assertEqual(c["wh_ids"], 60)
        self.assertEqual(c["wh_ids_max"], 58)
        self.assertEqual(sorted(len(b) for b in c["wh_batches"]), [1, 1, 58])
        m = s.metrics()
        self.assertEqual(m["papi_source_calls_total"], 3)
        self.assertEqual(m["papi_source_fetch_ids_sum"], 60)
        self.assertEqual(m['papi_source_fetch_ids_bucket{le="1"}'], 2)
        self.assertEqual(m['papi_source_fetch_ids_bucket{le="32"}'], 2)
        self.assertEqual(m['papi_source_fetch_ids_bucket{le="64"}'], 3)
        self.assertEqual(m["papi_source_queue_wait_seconds_count"], 60)
        self.assertEqual(m["papi_source_queue_depth"], 0)

    def test_readyz_does_not_wait_behind_lookups(self):
        """Every lookup handle held by a paused warehouse: /readyz still answers at once, from
        the handle the transport keeps for probes (issue 13, A17)."""
        s = self.server("--source-concurrency", "2", "--pool-size", "2")
        self.emu.config(warehouse_paused=True)
        held = [Get(s, "/customer/%d" % i) for i in (401, 402)]
        self.wait_running(2)
        status, _, body = s.request("GET", "/readyz", timeout=60)
        self.assertEqual(status, 200, body)
        # answered while both lookups still wait in the warehouse: not after they gave up
        self.assertEqual(self.emu.counters()["wh_running"], 2)
        self.assertTrue(all(g.is_alive() for g in held))
        self.emu.config(warehouse_paused=False)
        for g, cid in zip(held, (401, 402)):
            self.assert_row(g.result(), cid)

    def test_pool_is_sized_to_source_concurrency(self):
        """pool-size below source-concurrency does not cap the statements in flight: the
        transport keeps a handle for every fetch the dispatcher sends."""
        s = self.server("--source-concurrency", "4", "--pool-size", "2")
        self.emu.config(warehouse_paused=True)
        held = [Get(s, "/customer/%d" % i) for i in (411, 412, 413, 414)]
        self.wait_running(4)
        self.assertEqual(self.metric(s, "papi_source_queue_depth"), 0)
        self.emu.config(warehouse_paused=False)
        for g, cid in zip(held, (411, 412, 413, 414)):
            self.assert_row(g.result(), cid)
        self.assertEqual(self.emu.counters()["wh_running_max"], 4)

    def test_lone_miss_does_not_wait(self):
        """An idle server sends a lone miss at once: no queue wait, no linger, one statement."""
        s = self.server()  # the defaults: 8 slots for snowflake
        self.assert_row(s.request("GET", "/customer/7"), 7)
        c = self.emu.counters()
        self.assertEqual(c["wh_statements"], 1)
        self.assertEqual(c["wh_batches"], [["7"]])
        m = s.metrics()
        self.assertEqual(m['papi_source_queue_wait_seconds_bucket{le="0"}'], 1)
        self.assertEqual(m["papi_source_queue_wait_seconds_sum"], 0)
        self.assertEqual(m["papi_source_fetches_at_limit_total"], 0)
        # with a linger the same miss waits for company: the counter can tell
        s2 = self.server("--batch-linger-us", "50000")
        self.assert_row(s2.request("GET", "/customer/8"), 8)
        m2 = s2.metrics()
        self.assertEqual(m2['papi_source_queue_wait_seconds_bucket{le="0"}'], 0)
        self.assertGreaterEqual(m2["papi_source_queue_wait_seconds_sum"], 0.05)

    def test_max_batch_and_fifo(self):
        """One slot, max-batch 4: queued ids run in the order they came, 4 at most a statement."""
        s = self.server("--source-concurrency", "1", "--max-batch", "4")
        self.emu.config(warehouse_paused=True)
        gets = [Get(s, "/customer/100")]
        self.wait_running(1)
        for i in range(1, 11):  # one at a time, so that the queue's order is known
            gets.append(Get(s, "/customer/%d" % (100 + i)))
            self.wait_queue(s, i)
        self.emu.config(warehouse_paused=False)
        for i, g in enumerate(gets):
            self.assert_row(g.result(), 100 + i)
        c = self.emu.counters()
        self.assertEqual(c["wh_batches"], [["100"], ["101", "102", "103", "104"],
                                           ["105", "106", "107", "108"], ["109", "110"]])
        self.assertEqual(c["wh_ids_max"], 4)
        self.assertEqual(c["wh_fifo_violations"], 0)

    def test_same_id_from_many_requests_one_statement(self):
        """An id asked by 12 requests while it is queued is fetched once."""
        s = self.server("--source-concurrency", "1")
        self.emu.config(warehouse_paused=True)
        head = Get(s, "/customer/200")
        self.wait_running(1)
        same = [Get(s, "/customer/201") for _ in range(12)]
        self.wait_queue(s, 1)
        wait_for("11 coalesced waits", lambda: self.metric(s, "papi_coalesced_waits_total") == 11)
        self.emu.config(warehouse_paused=False)
        self.assert_row(head.result(), 200)
        for g in same:
            self.assert_row(g.result(), 201)
        c = self.emu.counters()
        self.assertEqual(c["wh_batches"], [["200"], ["201"]])

    def test_failure_reaches_every_waiter_with_stale_copies(self):
        """A failed batch: ids with an expired copy are served STALE, the others get the error."""
        s = self.server("--source-concurrency", "1", "--cache-ttl", "1", "--max-attempts", "2")
        status, _, _ = s.request("GET", "/customer/301,302")  # copies of 301 and 302
        self.assertEqual(status, 200)
        time.sleep(1.5)  # past the 1 s TTL, within stale-max: expired copies
        self.emu.config(warehouse_paused=True)
        head = Get(s, "/customer/300")
        self.wait_running(1)
        queued = []
        for i, cid in enumerate((301, 302, 303, 304)):
            queued.append(Get(s, "/customer/%d" % cid))
            self.wait_queue(s, i + 1)
        self.emu.call("POST", "/_emulator/faults", {"503": 100})  # every attempt of the batch
        self.emu.config(warehouse_paused=False)
        self.assert_row(head.result(), 300)
        for g, cid in zip(queued[:2], (301, 302)):
            got = g.result()
            self.assert_row(got, cid)
            self.assertEqual(got[1].get("x-cache"), "STALE")
        for g in queued[2:]:
            status, _, body = g.result()
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body)["code"], "EUNAVAIL")
        c = self.emu.counters()
        self.assertEqual(c["faults_injected"], 2)  # both attempts of the one batch
        rids = {r["requestId"] for r in c["records"] if r["status"] == 503}
        self.assertEqual(len(rids), 1)  # one statement, retried with its own requestId
        self.assertEqual(self.metric(s, "papi_stale_served_total"), 2)

    def test_bind_buckets(self):
        """Statements pad their IN list to 1, 2, 4, ... 256 binds, then multiples of 256: few
        distinct texts. A 256-id batch is one statement of 256 binds."""
        def binds(s, ids):
            before = self.emu.counters()["bound_values"]
            status, _, body = s.request("GET", "/customer/" + ",".join(map(str, ids)))
            self.assertEqual(status, 200, body)
            self.assertEqual(len(json.loads(body)), len(ids))
            return self.emu.counters()["bound_values"] - before

        s = self.server("--max-ids", "300", "--cache", "none")
        self.assertEqual(binds(s, range(1, 6)), 8)
        self.assertEqual(binds(s, range(1, 257)), 256)
        self.assertEqual(binds(s, range(1, 301)), 256 + 64)  # max-batch 256: two statements
        big = self.server("--max-ids", "300", "--cache", "none", "--max-batch", "512")
        self.assertEqual(binds(big, range(1, 301)), 512)
        self.assertEqual(self.emu.counters()["wh_ids_max"], 300)

    def test_bad_options_refused_naming_them(self):
        for flags, env, name in (
                (["--max-batch", "0"], {}, "max-batch"),
                (["--max-batch", "16385"], {}, "max-batch"),
                (["--source-concurrency", "-1"], {}, "source-concurrency"),
                (["--batch-linger-us", "200000"], {}, "batch-linger-us"),
                ([], {"PAPI_SOURCE_CONCURRENCY": "many"}, "PAPI_SOURCE_CONCURRENCY")):
            p = subprocess.run([harness.HTTPD, "--listen", "127.0.0.1:0"] + flags,
                               env=dict({k: v for k, v in os.environ.items()
                                         if not k.startswith(("PAPI_", "SNOWFLAKE_"))}, **env),
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (flags, env, p.stderr))
            self.assertIn(name, p.stderr)


class Warehouse(unittest.TestCase):
    """The emulator's warehouse itself: a few hundred connections at once, N running, the rest
    queued and started in arrival order."""

    def statement(self, cid):
        emu = ENV["emu"]
        body = {"statement": "SELECT C_CUSTOMER_SK FROM API.DATA.HYBRID_CUSTOMER "
                             "WHERE C_CUSTOMER_SK IN (?, ?)",
                "bindings": {"1": {"type": "FIXED", "value": str(cid)},
                             "2": {"type": "FIXED", "value": str(cid)}}}
        return emu.call("POST", "/api/v2/statements?requestId=%s" % uuid.uuid4(), body, {
            "Authorization": "Bearer " + PAT, "Accept": "application/json",
            "X-Snowflake-Authorization-Token-Type": "PROGRAMMATIC_ACCESS_TOKEN",
            "User-Agent": "papi-test/1"}, timeout=120)

    def test_hundreds_of_connections_queue_fifo(self):
        emu = ENV["emu"]
        emu.call("POST", "/_emulator/reset", {})
        emu.config(pats=[PAT], warehouse_slots=8, statement_ms=0, warehouse_paused=True)
        self.addCleanup(emu.config, warehouse_slots=0, warehouse_paused=False)
        n = 300
        results = [None] * n

        def one(i):
            try:
                results[i] = self.statement(1 + i % 2000)
            except Exception as e:
                results[i] = (None, repr(e))

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        wait_for("8 running and %d waiting" % (n - 8),
                 lambda: (lambda c: (c["wh_running"], c["wh_waiting"]))(emu.counters()) ==
                 (8, n - 8))
        emu.config(warehouse_paused=False)
        for t in threads:
            t.join(120)
        self.assertEqual([r[0] for r in results], [200] * n)
        c = emu.counters()
        self.assertEqual(c["wh_statements"], n)
        self.assertEqual(c["wh_queued"], n - 8)
        self.assertEqual(c["wh_running_max"], 8)
        self.assertEqual(c["wh_fifo_violations"], 0)
        self.assertEqual(c["wh_ids"], n)  # the padded repeat is one id
        self.assertGreater(c["wh_queue_wait_max_us"], 0)
        self.assertEqual((c["wh_running"], c["wh_waiting"]), (0, 0))


if __name__ == "__main__":
    unittest.main(verbosity=2)
