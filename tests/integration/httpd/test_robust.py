"""papi-httpd under a slow source, slow clients, connection limits and shutdown while busy."""
import fcntl
import http.client
import json
import os
import re
import signal
import subprocess
import socket
import sys
import threading
import time
import unittest

import harness


def fetch(srv, path, results, key, timeout=30):
    try:
        st, h, body = srv.request("GET", path, timeout=timeout)
        results[key] = (st, h, body, time.monotonic())
    except Exception as e:  # recorded, asserted by the test
        results[key] = (None, None, repr(e).encode(), time.monotonic())


class SlowSource(unittest.TestCase):
    def test_cache_hits_not_stalled_by_slow_misses(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_TEST_DELAY_MS": "1500"})
        try:
            st, _, _ = srv.request("GET", "/customer/1")  # warm the cache: one slow fetch
            self.assertEqual(st, 200)
            results = {}
            threads = [threading.Thread(target=fetch, args=(srv, "/customer/%d" % (100 + i), results, i))
                       for i in range(16)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(0.2)  # the misses are now waiting on the source
            hits = []
            for _ in range(20):
                st, h, body = srv.request("GET", "/customer/1")
                hits.append((st, h["x-cache"], time.monotonic()))
            for t in threads:
                t.join(30)
            last_hit = max(t for _, _, t in hits)
            first_miss_done = min(r[3] for r in results.values())
            self.assertTrue(all(st == 200 and xc == "HIT" for st, xc, _ in hits), hits)
            self.assertTrue(all(r[0] == 200 for r in results.values()), results)
            # every hit was answered while all 16 misses were still waiting on the 1.5 s source
            self.assertLess(last_hit, first_miss_done)
            self.assertGreaterEqual(first_miss_done - t0, 1.4)
        finally:
            srv.stop()


class Shutdown(unittest.TestCase):
    def _drain(self, sig):
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_TEST_DELAY_MS": "800"},
                             args=["--shutdown-timeout", "20"])
        try:
            results = {}
            n = 40
            threads = [threading.Thread(target=fetch, args=(srv, "/customer/%d" % (1000 + i), results, i))
                       for i in range(n)]
            for t in threads:
                t.start()
            time.sleep(0.3)  # all 40 have begun: the source holds them for 800 ms
            t_sig = time.monotonic()
            srv.proc.send_signal(sig)
            time.sleep(0.1)
            refused = False
            try:
                socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
            except OSError:
                refused = True
            for t in threads:
                t.join(30)
            rc = srv.proc.wait(timeout=30)
            self.assertEqual(rc, 0, srv.stderr())
            self.assertTrue(refused, "still accepting after the signal")
            self.assertEqual(len(results), n)
            for i, (st, h, body, t_done) in results.items():
                self.assertEqual(st, 200, body)
                self.assertEqual(json.loads(body)[0]["C_CUSTOMER_SK"], 1000 + i)
                self.assertGreater(t_done, t_sig)  # these really were in flight at the signal
            done = [l for l in srv.access_log() if l["path"].startswith("/customer/1")]
            self.assertEqual(sorted(l["status"] for l in done), [200] * n)
            self.assertIn("draining", srv.stderr())
        finally:
            srv.stop()

    def test_sigterm_while_busy_loses_nothing(self):
        self._drain(signal.SIGTERM)

    def test_sigint_while_busy_loses_nothing(self):
        self._drain(signal.SIGINT)

    def test_deadline_answers_503_to_requests_still_running(self):
        # A11: the source holds the lookup past the 1 s drain deadline; the client must get
        # the promised JSON 503, not a connection closed empty.
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_TEST_DELAY_MS": "4000"},
                             args=["--shutdown-timeout", "1"])
        try:
            results = {}
            t = threading.Thread(target=fetch, args=(srv, "/customer/4242", results, 0))
            t.start()
            time.sleep(0.5)  # the lookup now waits on the source
            srv.proc.send_signal(signal.SIGTERM)
            t.join(30)
            st, h, body, _ = results[0]
            self.assertEqual(st, 503, body)
            self.assertEqual(json.loads(body)["code"], "DRAINING")
            self.assertEqual(h["retry-after"], "1")
            self.assertEqual(srv.proc.wait(timeout=30), 1)  # it did not finish everything
            self.assertIn("still running at the deadline", srv.stderr())
        finally:
            srv.stop()

    def test_idle_exit_is_quick(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD)
        try:
            c = srv.conn()
            c.request("GET", "/healthz")
            c.getresponse().read()  # an idle keep-alive connection stays open
            t0 = time.monotonic()
            self.assertEqual(srv.terminate(), 0)
            self.assertLess(time.monotonic() - t0, 5)
            c.close()
        finally:
            srv.stop()


class AbandonedClients(unittest.TestCase):
    """A17: a client that hung up costs no fetch, and readiness never queues behind lookups."""

    def test_no_fetch_for_a_client_that_hung_up(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_TEST_DELAY_MS": "1500"},
                             args=["--workers", "1"])
        try:
            before = srv.metrics()["papi_source_calls_total"]
            busy = {}
            t = threading.Thread(target=fetch, args=(srv, "/customer/500", busy, 0))
            t.start()
            time.sleep(0.3)  # the only worker now waits on the source for 1.5 s
            for i in range(6):  # queued behind it, then abandoned by their clients
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(b"GET /customer/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (600 + i))
                time.sleep(0.05)
                s.close()
            t.join(30)
            self.assertEqual(busy[0][0], 200)
            # the queued lookups are dropped as their turn comes: only the first reached the source
            ok = harness_wait(lambda: srv.metrics().get("papi_http_client_gone_total", 0) >= 6)
            self.assertTrue(ok, srv.metrics())
            gone_lines = lambda: [l for l in srv.access_log() if l.get("closed") == "client"]
            harness_wait(lambda: len(gone_lines()) >= 6)
            gone = gone_lines()
            self.assertEqual(sorted(l["path"] for l in gone),
                             ["/customer/%d" % (600 + i) for i in range(6)])
            self.assertTrue(all(l["status"] == 0 for l in gone), gone)
            self.assertEqual(srv.metrics()["papi_source_calls_total"] - before, 1)
            # and the server still serves
            self.assertEqual(srv.request("GET", "/customer/700")[0], 200)
        finally:
            srv.stop()

    def test_readiness_not_behind_lookups(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_TEST_DELAY_MS": "6000"},
                             args=["--workers", "1", "--ready-cache-ms", "0"])
        try:
            results = {}
            t = threading.Thread(target=fetch, args=(srv, "/customer/800", results, "lookup"))
            t.start()
            time.sleep(0.3)  # the only worker is busy for 6 s
            fetch(srv, "/readyz", results, "ready")
            # answered while the lookup still holds the source (and the only worker)
            self.assertEqual(srv.metrics()["papi_source_fetches_in_flight"], 1,
                             "readiness waited for the lookup")
            t.join(30)
            self.assertEqual(results["ready"][0], 200, results["ready"])
            self.assertEqual(results["lookup"][0], 200)
        finally:
            srv.stop()


def harness_wait(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class AccessLogBackpressure(unittest.TestCase):
    """stdout blocked (a full pipe nobody reads): the log thread's batch fills, and event-loop
    threads write their lines straight to stdout. Both wrote at once, so a line could land inside
    a line of a batch being written in pieces: the log had lines that were not JSON."""

    def test_lines_stay_whole_when_stdout_is_blocked(self):
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: a batch is written in many pieces
        os.set_blocking(r, False)
        err_path = os.path.join(harness.tmpdir(), "stderr.log")
        err = open(err_path, "wb")
        proc = subprocess.Popen([harness.HTTPD, "--listen", "127.0.0.1:0", "--threads", "16",
                                 "--source", "sqlite:" + harness.demo_db()], stdout=w, stderr=err)
        os.close(w)
        log = bytearray()

        def read_until(pred, timeout):
            deadline = time.monotonic() + timeout
            while not pred() and time.monotonic() < deadline:
                try:
                    b = os.read(r, 65536)
                    if not b:
                        return
                    log.extend(b)
                except BlockingIOError:
                    time.sleep(0.005)

        try:
            port = None
            deadline = time.monotonic() + harness.START_TIMEOUT_S
            while port is None and time.monotonic() < deadline and proc.poll() is None:
                with open(err_path, "rb") as f:
                    m = re.search(rb"listening on \S+ port (\d+)", f.read())
                port = int(m.group(1)) if m else None
                time.sleep(0.02)
            self.assertIsNotNone(port, "papi-httpd did not start")
            answered = [0]

            def client(i, stop):
                c = None
                while not stop.is_set():
                    try:
                        c = c or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                        c.request("GET", "/customer/%d" % (i + 1))
                        c.getresponse().read()
                        answered[0] += 1
                    except OSError:
                        c = None
                if c:
                    c.close()

            for _ in range(3):  # each round is another chance for the writes to meet
                stop = threading.Event()
                clients = [threading.Thread(target=client, args=(i, stop), daemon=True)
                           for i in range(32)]
                for t in clients:
                    t.start()
                # until the server stalls on stdout: 1 MiB of batch, the pipe, a line per thread
                last, deadline = -1, time.monotonic() + 120
                while answered[0] != last and time.monotonic() < deadline:
                    last = answered[0]
                    time.sleep(1.0)
                stop.set()
                read_until(lambda: all(not t.is_alive() for t in clients) and
                           log.count(b"\n") >= answered[0], 60)
            proc.send_signal(signal.SIGTERM)
            read_until(lambda: False, 60)  # to the end: the server closed stdout
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err.close()
            os.close(r)
        lines = bytes(log).split(b"\n")
        self.assertEqual(lines[-1], b"")
        self.assertGreater(len(lines) - 1, 3 * 4096)  # past 1 MiB batches: direct writes happened
        bad = []
        for line in lines[:-1]:
            try:
                json.loads(line)["status"]
            except (ValueError, KeyError) as e:
                bad.append((line[:200], e))
        self.assertEqual(bad, [])


class Limits(unittest.TestCase):
    def test_slow_client_dropped(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--connection-timeout", "1"])
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"GET /customer/1 HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
            t0 = time.monotonic()
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - t0, 8)
            s.close()
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        finally:
            srv.stop()

    def test_connection_limit(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--max-connections", "3"])
        try:
            held = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(3)]
            time.sleep(0.2)
            extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            try:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                data = extra.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            self.assertEqual(data, b"", "a fourth connection was served")
            extra.close()
            for s in held:
                s.close()
            time.sleep(0.2)
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        finally:
            srv.stop()


class Configuration(unittest.TestCase):
    def test_flags_win_over_env(self):
        # env says 2 ids at most, the flag says 3
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_MAX_IDS": "2"},
                             args=["--max-ids", "3"])
        try:
            self.assertEqual(srv.request("GET", "/customer/1,2,3")[0], 200)
            self.assertEqual(srv.request("GET", "/customer/1,2,3,4")[0], 400)
        finally:
            srv.stop()
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_MAX_IDS": "2"})
        try:
            self.assertEqual(srv.request("GET", "/customer/1,2,3")[0], 400)
        finally:
            srv.stop()

    def test_unknown_flag_and_bad_value_refused(self):
        import subprocess
        for args in (["--no-such-flag", "1"], ["--cache-ttl", "soon"], ["--listen", "nowhere:port"],
                     ["stray"]):
            p = subprocess.run([harness.HTTPD] + args, capture_output=True, timeout=20)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(b"error", p.stderr)

    def test_api_keys_set_but_empty_refused(self):
        # A6: a value that holds no key must not start a server open to everyone
        import subprocess
        for value in ("", " ", ",", " , ,"):
            env = {"PAPI_API_KEYS": value, "PATH": "/usr/bin:/bin"}
            p = subprocess.run([harness.HTTPD, "--listen", "127.0.0.1:0"], capture_output=True,
                               timeout=20, env=env)
            self.assertEqual(p.returncode, 2, (value, p.stderr))
            self.assertIn(b"PAPI_API_KEYS is set but holds no key", p.stderr)

    def test_options_that_make_no_client_exit_3(self):
        # each value is well formed, but no client can be made of them: exit 3, as papi's
        import os
        import subprocess
        d = harness.tmpdir()
        bad = os.path.join(d, "datasets.json")
        with open(bad, "w") as f:
            f.write('{"datasets": [{"name": "x"}]}')
        for args in (["--datasets", bad],
                     ["--datasets", os.path.join(d, "missing.json")],
                     ["--source", "sqlite:" + os.path.join(d, "no-such-dir", "x.db")]):
            p = subprocess.run([harness.HTTPD, "--listen", "127.0.0.1:0"] + args,
                               capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 3, (args, p.stderr))
            self.assertIn(b"cannot start", p.stderr)

    def test_bad_listen_is_a_usage_error(self):
        # A16: a value no option takes, exit 2 like every other bad value
        import subprocess
        for spec in ("nowhere:port", "1.2.3.4:99999", "[::1", "no-such-host.invalid:80"):
            p = subprocess.run([harness.HTTPD, "--listen", spec], capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 2, (spec, p.stderr))
            self.assertIn(b"listen", p.stderr)

    def test_start_logs_no_library_warnings(self):
        # A16: the logger option must come first, and one thread is no "pool" to warn about
        for args in ([], ["--threads", "1"], ["--threads", "3"]):
            srv = harness.Server(binary=harness.FAULT_HTTPD, args=args)
            try:
                self.assertEqual(srv.request("GET", "/healthz")[0], 200)
                self.assertNotIn("microhttpd", srv.stderr(), args)
            finally:
                srv.stop()

    def test_help_lists_library_options(self):
        import subprocess
        p = subprocess.run([harness.HTTPD, "--help"], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0)
        for flag in (b"--listen", b"--source", b"--cache-ttl", b"--max-ids", b"--snowflake-account",
                     b"PAPI_API_KEYS"):
            self.assertIn(flag, p.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
