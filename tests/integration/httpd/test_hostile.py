"""papi-httpd against hostile clients over raw sockets: oversized and malformed requests, request
smuggling shapes, NUL bytes, slow clients (Slowloris) and per-IP limits. docs/HTTP.md lists what
libmicrohttpd answers itself; the last class here pins those answers down."""
import json
import socket
import sys
import threading
import time
import unittest

import harness

JSON_TYPE = "application/json; charset=utf-8"


def connect(srv, timeout=10):
    return socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)


def send_quietly(s, data):
    """Sends what the server is willing to take: it may answer and close before the end."""
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def read_answer(s):
    """Reads until the server closes; returns what came (b"" when it closed without a word)."""
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def json_answer(test, data, status, code=None):
    test.assertTrue(data, "no answer at all")
    st, h, body = harness.parse_raw_response(data)
    test.assertEqual(st, status, data[:300])
    test.assertEqual(h.get("content-type"), JSON_TYPE, data[:300])
    doc = json.loads(body.decode("utf-8"))
    if code is not None:
        test.assertEqual(doc.get("code"), code, doc)
    return doc


def wait_for(pred, timeout=15, step=0.05):
    """pred() once it is true; a connection refused on the way counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except OSError:
            v = None
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def log_lines(srv, pred):
    return [l for l in srv.access_log() if pred(l)]


class ManyQueryArguments(unittest.TestCase):
    """A1: libmicrohttpd stores every query argument in the connection's memory pool; ~2,000 of
    them exhausted it and the request was neither answered nor finished."""

    def test_prompt_json_answer_no_leak_drain_not_blocked(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--shutdown-timeout", "20"])
        try:
            # ~19 KB URL, past the 8 KB limit: our JSON 414, at once
            query = "&".join("a%d=%d" % (i, i) for i in range(2000))
            s = connect(srv, timeout=10)
            s.sendall(("GET /customer/1?%s HTTP/1.1\r\nHost: x\r\n\r\n" % query).encode())
            try:
                data = s.recv(65536)
            except socket.timeout:
                data = b""
            s.close()
            json_answer(self, data, 414, "EURITOOLONG")
            # under the limit, 3,000 arguments: the query is ignored, the lookup answered
            query = "&".join(["a"] * 3000)
            st, _, body = srv.request("GET", "/customer/2?" + query)
            self.assertEqual(st, 200, body[:200])
            self.assertEqual(json.loads(body)[0]["C_CUSTOMER_SK"], 2)
            # nothing left in flight (the gauge leaves the /metrics request itself out)
            inflight = wait_for(lambda: srv.metrics()["papi_http_requests_in_flight"] == 0)
            self.assertTrue(inflight, srv.metrics()["papi_http_requests_in_flight"])
            t0 = time.monotonic()
            rc = srv.terminate(timeout=30)
            # 0: nothing was still running (and, under ASan, nothing leaked)
            self.assertEqual(rc, 0, srv.stderr()[-2000:])
            self.assertLess(time.monotonic() - t0, 10)
        finally:
            srv.stop()


class OneServer(unittest.TestCase):
    """One fault-injecting server for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(binary=harness.FAULT_HTTPD)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()


class Bodies(OneServer):
    """A10: no route takes a body; one past 64 KiB got no answer while the log said 200/405."""

    def big_body(self, method, path, rid):
        body = b"x" * (100 * 1024)
        s = connect(self.srv)
        send_quietly(s, ("%s %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: %d\r\n\r\n"
                         % (method, path, rid, len(body))).encode() + body)
        data = read_answer(s)
        s.close()
        return data

    def test_body_over_64k_gets_json_413(self):
        for method, path in (("POST", "/customer/1"), ("GET", "/customer/1"), ("PUT", "/nope")):
            rid = "big-%s" % method.lower()
            json_answer(self, self.big_body(method, path, rid), 413, "ETOOLARGE")
            lines = wait_for(lambda: log_lines(self.srv, lambda l: l["request_id"] == rid))
            self.assertEqual([l["status"] for l in lines], [413], lines)
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)

    def test_small_body_read_and_dropped(self):
        st, _, body = self.srv.request("GET", "/customer/3", body=b"y" * 1000)
        self.assertEqual((st, json.loads(body)[0]["C_CUSTOMER_SK"]), (200, 3))
        st, _, body = self.srv.request("POST", "/customer/3", body=b"y" * 60000)
        self.assertEqual(st, 405)

    def test_expect_continue_over_post_cap_refused_before_the_body(self):
        # The POST cap (--max-ids 100 ids: 27,424 bytes) is below the 64 KiB every body gets. A
        # client that asks first (Expect: 100-continue) hears 413 at once, never an invitation
        # to send a body that is then read and dropped; it was left waiting for the deadline.
        s = connect(self.srv)
        send_quietly(s, b"POST /customer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Expect: 100-continue\r\nContent-Length: 60000\r\n\r\n")
        data = read_answer(s)
        s.close()
        self.assertFalse(data.startswith(b"HTTP/1.1 100"), data[:120])
        doc = json_answer(self, data, 413, "ETOOLARGE")
        self.assertIn("max-ids", doc["error"])
        # a body within the cap is still invited, and answered
        s = connect(self.srv)
        s.sendall(b"POST /customer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: 3\r\n\r\n")
        interim = s.recv(65536)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim)
        s.sendall(b"[1]")
        data = read_answer(s)
        s.close()
        st, h, body = harness.parse_raw_response(data)
        self.assertEqual((st, json.loads(body)[0]["C_CUSTOMER_SK"]), (200, 1))

    def test_chunked_body_never_read(self):
        # a bad chunk would make libmicrohttpd answer with its own HTML page
        for method in ("GET", "POST"):
            s = connect(self.srv)
            send_quietly(s, ("%s /customer/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "ZZ\r\nnot a chunk\r\n0\r\n\r\n" % method).encode())
            json_answer(self, read_answer(s), 411, "ELENGTH")
            s.close()

    def test_log_tells_when_no_answer_was_sent(self):
        # the client hangs up in the middle of its body: nothing is sent, and the log says so
        s = connect(self.srv)
        s.sendall(b"GET /customer/1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-mid-body\r\n"
                  b"Content-Length: 5000\r\n\r\n" + b"z" * 100)
        time.sleep(0.3)
        s.close()
        lines = wait_for(lambda: log_lines(self.srv, lambda l: l["request_id"] == "gone-mid-body"))
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["status"], 0, lines)
        self.assertEqual(lines[0]["closed"], "client", lines)


class Framing(OneServer):
    """A15: conflicting lengths, NUL bytes, line folding and %2F, each over a raw socket."""

    def raw(self, data):
        return self.srv.raw(data)

    def assertBadRequest(self, head, body=b""):
        """The head (request line and headers, without the empty line) gets our JSON 400."""
        json_answer(self, self.raw(head + b"\r\nConnection: close\r\n\r\n" + body), 400, "EBADREQUEST")

    def test_conflicting_content_length_refused(self):
        for head in (b"Content-Length: 3\r\nContent-Length: 10\r\n",
                     b"Content-Length: 10\r\nX-A: 1\r\nContent-Length: 3\r\n",
                     b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                     b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"):
            self.assertBadRequest(b"POST /customer/1 HTTP/1.1\r\nHost: x\r\n" + head.rstrip(b"\r\n"),
                                  b"abcdefghij")

    def test_identical_content_lengths_accepted(self):
        data = self.raw(b"GET /customer/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        self.assertEqual(harness.parse_raw_response(data)[0], 200)

    def test_nul_in_request_line_refused(self):
        for line in (b"GET /customer/1\x00/../metrics HTTP/1.1", b"GET\x00x /customer/1 HTTP/1.1",
                     b"GET /customer/1\x00 HTTP/1.1", b"GET /customer/1?a=1\x00b HTTP/1.1"):
            self.assertBadRequest(line + b"\r\nHost: x")

    def test_nul_in_header_refused(self):
        # (a NUL before the colon hides the colon from MHD, which refuses the line itself)
        for header in (b"X-Request-Id: abc\x00def", b"X-Request-Id: abc\x00", b"X-A:\x00 b",
                       b"Authorization: Bearer k\x00ey"):
            self.assertBadRequest(b"GET /customer/1 HTTP/1.1\r\nHost: x\r\n" + header)

    def test_obsolete_line_folding_refused(self):
        self.assertBadRequest(b"GET /customer/1 HTTP/1.1\r\nHost: x\r\nX-A: one\r\n  two")

    def test_lenient_but_clean_heads_still_served(self):
        # what RFC 9112 allows a server to accept: bare LF, no or several spaces after the colon,
        # several spaces on the request line; none of them hides a byte
        for req in (b"GET /customer/1 HTTP/1.1\nHost: x\nConnection: close\n\n",
                    b"GET /customer/1 HTTP/1.1\r\nHost:x\r\nX-A:   spaced\r\nConnection: close\r\n\r\n",
                    b"GET  /customer/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    b"GET /customer/1 HTTP/1.0\r\n\r\n",
                    b"GET /customer/1 HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nConnection: close\r\n\r\n"):
            data = self.raw(req)
            st, _, body = harness.parse_raw_response(data)
            self.assertEqual(st, 200, req)
            self.assertEqual(json.loads(body)[0]["C_CUSTOMER_SK"], 1)

    def test_encoded_slash_is_not_a_separator(self):
        data = self.raw(b"GET /customer%2F1885 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(json_answer(self, data, 404), {"error": "Not found!"})
        data = self.raw(b"GET /customer/1%2F2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        json_answer(self, data, 400, "EINVAL")
        data = self.raw(b"GET /customer/1/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        json_answer(self, data, 404)
        # an escaped letter in a segment is still that letter
        data = self.raw(b"GET /customer/18%385 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, _, body = harness.parse_raw_response(data)
        self.assertEqual((st, json.loads(body)[0]["C_CUSTOMER_SK"]), (200, 1885))


class LibraryAnswers(OneServer):
    """What libmicrohttpd answers before papi sees the request (docs/HTTP.md): the status is
    right, the body is its own, the connection is closed and the server lives on."""

    def test_documented_library_answers(self):
        cases = [(b"GET /\r\n\r\n", 400),                                   # HTTP/0.9 request line
                 (b"GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400),      # header without ':'
                 (b"GET / HTTP/1.1\r\nHost: x\r\nX-A\x00: b\r\n\r\n", 400),     # NUL before the ':'
                 (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
                 (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
                 (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(6000))
                  + b"\r\n", 431)]
        for req, status in cases:
            data = self.srv.raw(req)
            st, h, _ = harness.parse_raw_response(data)
            self.assertEqual(st, status, req[:60])
            self.assertEqual(h.get("connection"), "close")
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)
        # the log has the status MHD itself sent, for those that got as far as a URL
        lines = wait_for(lambda: log_lines(self.srv, lambda l: l["status"] == 431))
        self.assertEqual([l.get("closed") for l in lines], ["error"], lines)


class LibraryLog(unittest.TestCase):
    def test_library_log_lines_rate_limited(self):
        # each refused request makes MHD log a line: a client must not be able to flood the log
        srv = harness.Server(binary=harness.FAULT_HTTPD)
        try:
            for _ in range(200):
                srv.raw(b"GET /\r\n\r\n")
            time.sleep(1.2)
            srv.raw(b"GET /\r\n\r\n")  # the next second's first line reports what was dropped
            log = wait_for(lambda: "messages suppressed" in srv.stderr() and srv.stderr())
            self.assertTrue(log, srv.stderr()[-1000:])
            self.assertLess(log.count("microhttpd: Error processing request"), 150)
        finally:
            srv.stop()


def dribble(srv, stop, opened, closed_at, idx, gap_s=0.3):
    """A Slowloris connection: a request head sent one byte at a time, never finished."""
    try:
        s = connect(srv, timeout=60)
    except OSError:
        return
    opened[idx] = time.monotonic()
    head = b"GET /customer/1 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 10000
    try:
        for b in head:
            if stop.is_set():
                break
            s.sendall(bytes([b]))
            time.sleep(gap_s)
    except OSError:
        closed_at[idx] = time.monotonic()
    finally:
        s.close()


class SlowClients(unittest.TestCase):
    """A5: slowly written request heads must neither live forever nor lock others out."""

    def test_head_deadline_not_only_idle_time(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD,
                             args=["--header-timeout", "2", "--connection-timeout", "30"])
        try:
            stop = threading.Event()
            opened, closed_at = {}, {}
            t = threading.Thread(target=dribble, args=(srv, stop, opened, closed_at, 0))
            t.start()
            t.join(20)
            stop.set()
            t.join(5)
            # never idle for 30 s, yet cut once its 2 s for the head were over
            self.assertIn(0, closed_at, "a dribbled head lived for 20 s")
            self.assertLess(closed_at[0] - opened[0], 15)
        finally:
            srv.stop()

    def test_post_body_dribbled_is_cut_and_ties_up_no_worker(self):
        # the head's deadline covers the body: a POST whose body comes a byte at a time is cut
        # like a dribbled head, and while it dribbles the one worker still serves misses
        srv = harness.Server(binary=harness.FAULT_HTTPD,
                             args=["--header-timeout", "2", "--connection-timeout", "30",
                                   "--workers", "1"])
        try:
            s = connect(srv, timeout=60)
            body = b"[" + b"1, " * 2000 + b"1]"
            s.sendall(b"POST /customer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            opened, cut = time.monotonic(), None
            for i, b in enumerate(body):
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    cut = time.monotonic()
                    break
                if i == 3:  # dribbling: a miss goes through the one worker meanwhile
                    st, h, rows = srv.get_json("/customer/4242,4243")
                    self.assertEqual((st, h["x-cache"], len(rows)), (200, "MISS", 2))
                if time.monotonic() - opened > 20:
                    break
                time.sleep(0.3)
            s.close()
            self.assertIsNotNone(cut, "a dribbled body lived for 20 s")
            self.assertLess(cut - opened, 15)
        finally:
            srv.stop()

    def test_keep_alive_idle_not_cut_by_head_deadline(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--header-timeout", "1"])
        try:
            c = srv.conn()
            c.request("GET", "/customer/4")
            self.assertEqual(c.getresponse().read()[:1], b"[")
            time.sleep(3)  # idle between requests is the connection timeout's business (30 s)
            c.request("GET", "/customer/5")
            r = c.getresponse()
            self.assertEqual((r.status, json.loads(r.read())[0]["C_CUSTOMER_SK"]), (200, 5))
            c.close()
        finally:
            srv.stop()

    def test_full_server_still_serves_others(self):
        n = 48
        srv = harness.Server(binary=harness.FAULT_HTTPD,
                             args=["--max-connections", str(n), "--header-timeout", "120"])
        stop = threading.Event()
        opened, closed_at = {}, {}
        threads = [threading.Thread(target=dribble, args=(srv, stop, opened, closed_at, i, 0.5))
                   for i in range(n)]
        try:
            for t in threads:
                t.start()
            self.assertTrue(wait_for(lambda: len(opened) == n, timeout=20), len(opened))
            time.sleep(2.5)  # every slot holds a slow head that is seconds old
            served = 0
            for i in range(5):
                try:
                    st, _, body = srv.request("GET", "/customer/%d" % (10 + i), timeout=10)
                    served += st == 200
                except OSError:
                    pass
            self.assertEqual(served, 5, "the slow heads locked other clients out")
            # room was made by closing the slow heads that had waited longest
            self.assertGreaterEqual(srv.metrics()["papi_http_evicted_total"], 1)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
            srv.stop()

    def test_per_ip_limit(self):
        for how in ("flag", "env"):
            if how == "flag":
                srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--max-connections-per-ip", "3"])
            else:
                srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_MAX_CONNECTIONS_PER_IP": "3"})
            try:
                held = [connect(srv) for _ in range(3)]
                time.sleep(0.2)
                extra = connect(srv)
                send_quietly(extra, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(read_answer(extra), b"", how)
                extra.close()
                for s in held:
                    s.close()
                self.assertTrue(wait_for(lambda: srv.request("GET", "/healthz")[0] == 200))
            finally:
                srv.stop()


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
