"""Two papi-httpd replicas sharing one real Redis, over real HTTP.

The source is counted where it answers: every replica's transport appends one line per query
to one shared file (counting_httpd.c). Every process started here runs on a free loopback port
and is killed when its test ends, even on failure.

A second class runs the real papi-httpd with the snowflake transport against the SQL API
emulator (tests/emulator) and counts statement executions there.

Environment (set by meson): PAPI_REDIS_HTTPD (the counting papi-httpd), PAPI_HTTPD (the real
one), PAPI_CLI (papi, for demo-db), SF_EMULATOR (sqlapi_emulator.py), PAPI_TEST_TMP.
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httpd"))
import harness  # noqa: E402  (papi-httpd on a free port, HTTP helpers)

HTTPD = os.environ.get("PAPI_REDIS_HTTPD", "")
REAL_HTTPD = os.environ.get("PAPI_HTTPD", "")
CLI = os.environ.get("PAPI_CLI", "")
EMULATOR = os.environ.get("SF_EMULATOR", "")
PAT = "redis-replicas-pat"
START_TIMEOUT_S = 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


tmpdir = harness.tmpdir


class Redis:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("redis-server did not start")

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


class Replica(harness.Server):
    """papi-httpd (the counting twin by default) with a cache spec, on a free loopback port."""

    def __init__(self, cache, source_log=None, extra=(), binary=None, env_extra=None):
        env = dict(env_extra or {})
        if source_log:
            env["PAPI_TEST_SOURCE_LOG"] = source_log
        super().__init__(args=["--cache", cache, "--redis-timeout-ms", "200"] + list(extra),
                         env=env, binary=binary or HTTPD)

    def get(self, path):
        """(status, headers with lower-case names, body bytes)"""
        return self.request("GET", path)

    def metric(self, name):
        status, _, body = self.get("/metrics")
        m = re.search(r"^%s(?:\{[^}]*\})? (\d+)" % re.escape(name), body.decode(), re.M)
        return int(m.group(1)) if m else None


@unittest.skipUnless(HTTPD, "PAPI_REDIS_HTTPD not set (run through meson test)")
class ReplicasShareRedis(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.source_log = os.path.join(self.dir, "source.log")
        open(self.source_log, "w").close()
        self.redis = Redis()
        self.addCleanup(self.redis.kill)

    def replica(self, cache=None):
        r = Replica(cache or "memory," + self.redis.url, self.source_log)
        self.addCleanup(r.stop)
        return r

    def source_queries(self):
        with open(self.source_log) as f:
            return [line.split() for line in f if line.strip()]

    def test_miss_on_a_then_b_makes_one_source_query(self):
        a, b = self.replica(), self.replica()
        status, headers, body_a = a.get("/customer/1885")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-cache"), "MISS")
        self.assertIn(b'"C_CUSTOMER_SK":1885', body_a)
        self.assertEqual(len(self.source_queries()), 1)
        status, headers, body_b = b.get("/customer/1885")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-cache"), "HIT")  # B never saw it: Redis answered
        self.assertEqual(body_b, body_a)
        self.assertEqual(len(self.source_queries()), 1)  # one query in all

        # several ids: A fetched 1,2,3; B asks 1,2,3,4 and only 4 reaches the source
        self.assertEqual(a.get("/customer/1,2,3")[0], 200)
        status, _, body = b.get("/customer/1,2,3,4")
        self.assertEqual(status, 200)
        for i in (1, 2, 3, 4):
            self.assertIn(b'"C_CUSTOMER_SK":%d' % i, body)
        queries = self.source_queries()
        self.assertEqual(len(queries), 3)
        self.assertEqual(queries[-1], ["fetch", "1"])

        # an id that does not exist is shared as a negative entry too
        self.assertEqual(a.get("/customer/999999")[2], b"[]")
        self.assertEqual(b.get("/customer/999999")[2], b"[]")
        self.assertEqual(len(self.source_queries()), 4)

    def test_redis_killed_mid_run_no_client_errors_then_recovers(self):
        # memory tier off on B, so every one of its answers depends on Redis or the source
        a, b = self.replica(), self.replica(cache=self.redis.url)
        self.assertEqual(a.get("/customer/7")[0], 200)
        self.assertEqual(b.get("/customer/7")[1].get("x-cache"), "HIT")

        failures, answered = [], [0]
        stop = threading.Event()
        lock = threading.Lock()

        def load(replica, seed):
            i = seed
            while not stop.is_set():
                i += 1
                try:
                    status, _, body = replica.get("/customer/%d" % (1 + i % 50))
                    ok = status == 200 and body.startswith(b"[{")
                except OSError as e:
                    ok, status = False, repr(e)
                with lock:
                    answered[0] += 1
                    if not ok:
                        failures.append(status)

        threads = [threading.Thread(target=load, args=(r, k * 1000))
                   for k, r in enumerate((a, b, a, b))]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            self.redis.kill()  # the fault: Redis dies while both replicas serve
            self.assertFalse(self.redis.ping())
            before = answered[0]
            time.sleep(1.5)
            during = answered[0] - before
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        self.assertEqual(failures, [])
        self.assertGreater(during, 20)  # they kept answering while Redis was gone
        self.assertGreater(b.metric("papi_cache_errors_total") or 0, 0)
        # one log line per outage, not one per request (A may have served all from memory)
        for r, most in ((a, 1), (b, 1)):
            lines = [l for l in r.stderr().splitlines() if "redis" in l and "unavailable" in l]
            self.assertLessEqual(len(lines), most, r.stderr())
        self.assertEqual(len([l for l in b.stderr().splitlines()
                              if "redis" in l and "unavailable" in l]), 1, b.stderr())

        # Redis comes back (empty): the replicas find it again after their backoff
        self.redis.start()
        deadline = time.monotonic() + 15
        shared = False
        n = 0
        while not shared and time.monotonic() < deadline:
            n += 1
            path = "/customer/%d" % (60000 + n)  # fresh ids: only Redis can answer B
            self.assertEqual(a.get(path)[0], 200)
            shared = b.get(path)[1].get("x-cache") == "HIT"
            if not shared:
                time.sleep(0.1)
        self.assertTrue(shared, "replica B never read what A wrote after Redis returned")
        self.assertIn("available again", b.stderr())


@unittest.skipUnless(REAL_HTTPD and CLI and EMULATOR,
                     "PAPI_HTTPD, PAPI_CLI or SF_EMULATOR not set (run through meson test)")
class ReplicasOnEmulator(unittest.TestCase):
    """The same sharing property with the real source path: snowflake transport, SQL API."""

    def setUp(self):
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        db = os.path.join(self.dir, "demo.db")
        subprocess.run([CLI, "demo-db", db, "--rows", "2000"], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
        self.emu = subprocess.Popen(
            ["/usr/bin/python3", EMULATOR, "--db", db, "--pat", PAT, "--max-seconds", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(self.stop_emulator)
        line = self.emu.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("emulator did not start: %r" % line)
        self.emu_port = int(line.split()[1])
        self.redis = Redis()
        self.addCleanup(self.redis.kill)

    def stop_emulator(self):
        if self.emu.poll() is None:
            self.emu.kill()
            self.emu.wait(timeout=10)
        self.emu.stdout.close()

    def counters(self):
        c = http.client.HTTPConnection("127.0.0.1", self.emu_port, timeout=10)
        try:
            c.request("GET", "/_emulator/counters")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def replica(self):
        env = {"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "svc_papi",
               "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(self.emu_port),
               "SNOWFLAKE_PROTOCOL": "http", "SNOWFLAKE_TOKEN": PAT}
        r = Replica("memory," + self.redis.url, binary=REAL_HTTPD,
                    extra=["--source", "snowflake"], env_extra=env)
        self.addCleanup(r.stop)
        return r

    def test_miss_on_a_then_b_makes_one_statement_at_the_emulator(self):
        a, b = self.replica(), self.replica()
        before = self.counters().get("executions", 0)
        status, headers, body_a = a.get("/customer/1885")
        self.assertEqual(status, 200, body_a)
        self.assertEqual(headers.get("x-cache"), "MISS")
        self.assertIn(b'"C_CUSTOMER_SK":1885', body_a)
        self.assertEqual(self.counters()["executions"] - before, 1)
        status, headers, body_b = b.get("/customer/1885")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-cache"), "HIT")
        self.assertEqual(body_b, body_a)
        self.assertEqual(self.counters()["executions"] - before, 1)  # one statement in all


if __name__ == "__main__":
    unittest.main(verbosity=2)
