"""papi-httpd over a hostile Redis (issue 13 A2, A4), over real HTTP.

The Redis is tests/support/fake_redis.c run as a process (hostile_redis.c); papi-httpd serves the
demo database with that Redis as its only cache tier (`--cache redis://...`), the case where the
first tier is across the network. Every process is killed when its test ends, even on failure.

Environment (set by meson): PAPI_HOSTILE_REDIS, PAPI_HTTPD, PAPI_CLI, PAPI_TEST_TMP.
"""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httpd"))
import harness  # noqa: E402  (papi-httpd on a free port, HTTP helpers)

HOSTILE = os.environ.get("PAPI_HOSTILE_REDIS", "")
# Generous on a loaded 2-core machine; a stalled event loop never answers at all.
HEALTHZ_BOUND_S = 5
LOOKUP_BOUND_S = 15


class HostileRedis:
    def __init__(self, *args):
        self.proc = subprocess.Popen([HOSTILE] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("port "):
            self.proc.kill()
            raise RuntimeError("hostile_redis did not start: %r" % line)
        self.port = int(line.split()[1])
        self.counters = None

    def stop(self):
        """Stops it and returns its counters: {'faulty': n, 'dropped': n, ...}."""
        if self.counters is None:
            try:
                out, _ = self.proc.communicate(input=b"", timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
            fields = out.decode().split()
            self.counters = {k: int(v) for k, v in (f.split("=") for f in fields if "=" in f)}
        return self.counters


class HostileRedisTest(unittest.TestCase):
    def start(self, *redis_args):
        redis = HostileRedis(*redis_args)
        self.addCleanup(redis.stop)
        srv = harness.Server(args=["--cache", "redis://127.0.0.1:%d/0" % redis.port,
                                   "--redis-timeout-ms", "200", "--threads", "2"],
                             source="sqlite:" + harness.demo_db())
        self.addCleanup(srv.stop)
        return redis, srv

    def test_healthz_answers_while_redis_drips(self):
        # the fault: every GET/MGET answered one byte per 100 ms, never finished
        redis, srv = self.start("drip-get")
        results = {}

        def lookup(i):
            t0 = time.monotonic()
            try:
                st, h, body = srv.get_json("/customer/%d" % i, timeout=60)
                results[i] = (st, body, h.get("x-cache"), time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001  (recorded, asserted below)
                results[i] = (None, repr(e), None, time.monotonic() - t0)

        # more lookups at once than the server has event-loop threads
        threads = [threading.Thread(target=lookup, args=(i,)) for i in range(1, 9)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        st, _, body = srv.get_json("/healthz", timeout=HEALTHZ_BOUND_S)
        healthz_s = time.monotonic() - t0
        for t in threads:
            t.join(timeout=LOOKUP_BOUND_S * 2)
        self.assertEqual(st, 200)
        self.assertLess(healthz_s, HEALTHZ_BOUND_S)
        # every lookup fell back to the source, and in bounded time
        for i in range(1, 9):
            st, body, xcache, took = results[i]
            self.assertEqual(st, 200, (i, body))
            self.assertEqual(body[0]["C_CUSTOMER_SK"], i)
            self.assertEqual(xcache, "MISS")
            self.assertLess(took, LOOKUP_BOUND_S, i)
        self.assertGreater(srv.metrics().get("papi_cache_errors_total", 0), 0)
        self.assertGreaterEqual(redis.stop()["faulty"], 1)  # the drip was really served

    def test_garbage_values_are_not_served(self):
        # the example: a fresh stamp and a value that is no row at all, for every key
        stamp = int(time.time() * 1000) + 3600 * 1000
        redis, srv = self.start("value", "F%d:not json at all" % stamp)
        st, h, body = srv.get_json("/customer/1885,2")
        self.assertEqual(st, 200)
        self.assertEqual([r["C_CUSTOMER_SK"] for r in body], [1885, 2])
        self.assertEqual(h.get("x-cache"), "MISS")
        self.assertGreater(srv.metrics().get("papi_cache_errors_total", 0), 0)
        self.assertGreaterEqual(redis.stop()["faulty"], 1)
        self.assertIn("not a well-formed row", srv.stderr())


if __name__ == "__main__":
    if not HOSTILE or not os.path.exists(HOSTILE):
        print("PAPI_HOSTILE_REDIS is not set: run through meson test")
        sys.exit(77)
    unittest.main(verbosity=2)
