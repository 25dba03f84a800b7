"""Kept answers (cmd/papi-httpd/hot.c): an event-loop thread answers a row it has answered before
from one libmicrohttpd response that it keeps, rewriting only the X-Request-Id in place. These
tests prove, over real HTTP, what that must never change: every answer carries its own request's
id (pipelined, over many connections and two event-loop threads), the bytes and headers are the
ones a freshly built answer has, a row that changed is never served from an old response, and
conditional, CORS and other-id requests still get their own answers."""
import email.utils
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
import unittest

import harness

ROW_SQL = "UPDATE hybrid_customer SET C_FIRST_NAME = ? WHERE C_CUSTOMER_SK = ?"


def read_answer(f):
    """One HTTP/1.1 answer from a buffered socket file: (status, headers, body)."""
    status = int(f.readline().split()[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return status, headers, body


def pipelined(port, path, ids, out, errors):
    """Sends one request per id in ids on one connection, all at once, and reads the answers."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rb")
        s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n"
                           % (path.encode(), i.encode()) for i in ids))
        for i in ids:
            out.append((i,) + read_answer(f))
        s.close()
    except Exception as e:  # reported by the test thread
        errors.append(repr(e))


class KeptAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = os.path.join(harness.tmpdir(), "hot.db")
        shutil.copy(harness.demo_db(), cls.db)
        cls.srv = harness.Server(source="sqlite:" + cls.db,
                                 args=["--threads", "2", "--cache-ttl", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_every_answer_carries_its_own_request_id(self):
        # 16 bytes, as papi-httpd's own ids: the length a kept answer rewrites in place
        conns, per_conn = 24, 40
        results, errors, threads = [], [], []
        for c in range(conns):
            ids = ["%08x%08x" % (c, n) for n in range(per_conn)]
            out = []
            results.append(out)
            threads.append(threading.Thread(target=pipelined,
                                            args=(self.srv.port, "/customer/1885", ids, out, errors)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        bodies, seen = set(), 0
        for out in results:
            self.assertEqual(len(out), per_conn)
            for sent, status, headers, body in out:
                self.assertEqual(status, 200)
                self.assertEqual(headers["x-request-id"], sent)
                bodies.add(body)
                seen += 1
        self.assertEqual(seen, conns * per_conn)
        self.assertEqual(len(bodies), 1)  # the TTL may refresh the entry, never its bytes
        hits = self.srv.metrics()['papi_http_responses_by_cache_total{cache="HIT"}']
        self.assertGreater(hits, conns * per_conn / 2)

    def test_kept_answer_is_the_built_one(self):
        # A row answered for the first time on a thread is built; the next answers are kept.
        # Whatever the thread, every answer has the same status line, headers and bytes but for
        # the request id and the date.
        answers = [self.srv.request("GET", "/customer/77") for _ in range(12)]
        first = answers[0]
        for st, h, body in answers:
            self.assertEqual(st, 200)
            self.assertEqual(body, first[2])
            same = {k: v for k, v in h.items() if k not in ("x-request-id", "date", "x-cache")}
            self.assertEqual(same, {k: v for k, v in first[1].items()
                                    if k not in ("x-request-id", "date", "x-cache")})
            self.assertRegex(h["x-request-id"], r"^[0-9a-f]{16}$")
            self.assertIn("date", h)
        self.assertEqual({h["x-cache"] for _, h, _ in answers[2:]}, {"HIT"})
        self.assertEqual(len({h["x-request-id"] for _, h, _ in answers}), len(answers))

    def test_a_changed_row_is_never_served_from_an_old_response(self):
        path = "/customer/1001"
        for _ in range(6):
            st, h, body = self.srv.request("GET", path)
            self.assertEqual(st, 200)
        old_tag = h["etag"]
        with sqlite3.connect(self.db) as db:
            db.execute(ROW_SQL, ("Renamed", 1001))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st, h, body = self.srv.request("GET", path)
            if json.loads(body)[0]["C_FIRST_NAME"] == "Renamed":
                break
            time.sleep(0.2)
        self.assertEqual(json.loads(body)[0]["C_FIRST_NAME"], "Renamed")
        self.assertNotEqual(h["etag"], old_tag)
        for _ in range(8):  # kept again, now for the new bytes
            st, h2, body2 = self.srv.request("GET", path)
            self.assertEqual((st, body2, h2["etag"]), (200, body, h["etag"]))

    def assertDateIsNow(self, h):
        # IMF-fixdate (RFC 9110 5.6.7), papi-httpd's own: libmicrohttpd's is switched off
        self.assertRegex(h["date"], r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|"
                                    r"Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
        when = email.utils.parsedate_to_datetime(h["date"]).timestamp()
        self.assertLess(abs(when - time.time()), 3, h["date"])
        return when

    def test_date_is_the_answers_own_second(self):
        # a kept answer's Date is rewritten when the second changes, as its id is per answer
        dates = []
        for _ in range(3):
            for _ in range(5):
                st, h, _ = self.srv.request("GET", "/customer/4242")
                self.assertEqual(st, 200)
                dates.append(self.assertDateIsNow(h))
            time.sleep(1.1)
        self.assertGreaterEqual(len(set(dates)), 3, dates)
        for path in ("/customer/x", "/nope", "/healthz", "/metrics"):
            st, h, _ = self.srv.request("GET", path)
            self.assertDateIsNow(h)

    def test_conditional_and_other_ids_are_answered_as_before(self):
        path = "/customer/1885"
        for _ in range(6):
            st, h, body = self.srv.request("GET", path)
        tag = h["etag"]
        st, h304, body304 = self.srv.request("GET", path, headers={"If-None-Match": tag})
        self.assertEqual((st, body304), (304, b""))
        self.assertEqual(h304["etag"], tag)
        st, h412, _ = self.srv.request("POST", "/customer", body=b"[1885]",
                                       headers={"Content-Type": "application/json",
                                                "If-None-Match": tag})
        self.assertEqual(st, 412)
        st, h2, body2 = self.srv.request("GET", path, headers={"If-None-Match": '"0000000000000000"'})
        self.assertEqual((st, body2), (200, body))
        # an id of another length than papi-httpd's own is echoed all the same
        for rid in ("a", "client-id-of-thirty-two-bytes-xx", "x" * 64):
            st, h3, _ = self.srv.request("GET", path, headers={"X-Request-Id": rid})
            self.assertEqual((st, h3["x-request-id"]), (200, rid))


class KeptAnswersWithCors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(source="sqlite:" + harness.demo_db(),
                                 args=["--cors-origin", "https://app.example"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_vary_on_every_answer_and_cors_for_an_allowed_origin(self):
        for _ in range(6):
            st, h, _ = self.srv.request("GET", "/customer/5")
            self.assertEqual((st, h["vary"]), (200, "Origin"))
            self.assertNotIn("access-control-allow-origin", h)
        st, h, _ = self.srv.request("GET", "/customer/5", headers={"Origin": "https://app.example"})
        self.assertEqual(h["access-control-allow-origin"], "https://app.example")
        self.assertEqual(h["vary"], "Origin")


if __name__ == "__main__":
    unittest.main(verbosity=2)
