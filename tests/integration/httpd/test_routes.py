"""papi-httpd over real HTTP on the demo database: every route, status, header and bad input."""
import json
import re
import sys
import unittest

import harness

JSON_TYPE = "application/json; charset=utf-8"


class DemoServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(source="sqlite:" + harness.demo_db())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assertJsonError(self, status, path, code=None, method="GET", headers=None):
        st, h, body = self.srv.request(method, path, headers=headers)
        self.assertEqual(st, status, body)
        self.assertEqual(h["content-type"], JSON_TYPE)
        self.assertEqual(h["cache-control"], "no-store")
        text = body.decode("utf-8")  # raises if the server echoed bytes that are not UTF-8
        doc = json.loads(text)
        self.assertIsInstance(doc["error"], str)
        if code is not None:
            self.assertEqual(doc["code"], code)
        return h, doc


class Routes(DemoServer):
    def test_root(self):
        st, h, body = self.srv.request("GET", "/")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"result": "Nothing to see here"})
        self.assertEqual(h["content-type"], JSON_TYPE)
        self.assertEqual(h["cache-control"], "no-store")
        self.assertRegex(h["x-request-id"], r"^[0-9a-f]{16}$")

    def test_customer_one_then_cached(self):
        st, h, rows = self.srv.get_json("/customer/1885")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], JSON_TYPE)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["C_CUSTOMER_SK"], 1885)
        self.assertEqual(len(rows[0]), 18)
        self.assertIn(h["x-cache"], ("MISS", "HIT"))
        st, h2, rows2 = self.srv.get_json("/customer/1885")
        self.assertEqual(h2["x-cache"], "HIT")
        self.assertEqual(rows2, rows)

    def test_first_lookup_is_a_miss(self):
        _, h, _ = self.srv.get_json("/customer/4242")
        self.assertEqual(h["x-cache"], "MISS")

    def test_several_in_order(self):
        st, _, rows = self.srv.get_json("/customer/1885,2,3")
        self.assertEqual(st, 200)
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [1885, 2, 3])

    def test_absent_ids_left_out(self):
        st, _, rows = self.srv.get_json("/customer/99999999")
        self.assertEqual((st, rows), (200, []))
        st, _, rows = self.srv.get_json("/customer/7,99999999")
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [7])

    def test_percent_encoded_comma(self):
        st, _, rows = self.srv.get_json("/customer/5%2C6")
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [5, 6])

    def test_query_string_ignored(self):
        st, _, rows = self.srv.get_json("/customer/8?verbose=1")
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [8])

    def test_head_like_get_without_body(self):
        st, hg, body = self.srv.request("GET", "/customer/1885")
        st2, hh, body2 = self.srv.request("HEAD", "/customer/1885")
        self.assertEqual((st, st2), (200, 200))
        self.assertEqual(body2, b"")
        self.assertEqual(hh["content-length"], str(len(body)))
        self.assertEqual(hh["content-type"], JSON_TYPE)
        for path in ("/", "/healthz", "/readyz", "/metrics", "/test"):
            st, _, b = self.srv.request("HEAD", path)
            self.assertEqual((path, st, b), (path, 200, b""))

    def test_healthz_readyz(self):
        st, _, doc = self.srv.get_json("/healthz")
        self.assertEqual((st, doc), (200, {"status": "ok"}))
        st, h, doc = self.srv.get_json("/readyz")
        self.assertEqual((st, doc), (200, {"status": "ready"}))
        self.assertEqual(h["content-type"], JSON_TYPE)

    def test_page(self):
        st, h, body = self.srv.request("GET", "/test")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertIn("connect-src 'self'", h["content-security-policy"])
        text = body.decode()
        self.assertIn('<input id="ids"', text)
        self.assertIn("<script>", text)
        self.assertNotRegex(text, r"<script[^>]+src=|https?://")  # nothing external

    def test_metrics(self):
        self.srv.request("GET", "/customer/11")
        self.srv.request("GET", "/customer/11")
        self.srv.request("GET", "/nowhere")
        st, h, body = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"))
        m = self.srv.metrics()
        self.assertGreaterEqual(m['papi_http_requests_total{route="/customer/:ids",code="200"}'], 2)
        self.assertGreaterEqual(m['papi_http_requests_total{route="notfound",code="404"}'], 1)
        self.assertGreaterEqual(m['papi_http_request_duration_seconds_count{route="/customer/:ids"}'], 2)
        self.assertIn('papi_http_request_duration_seconds_bucket{route="/customer/:ids",le="+Inf"}', m)
        for name in ("papi_cache_hits_total", "papi_cache_misses_total", "papi_cache_negative_hits_total",
                     "papi_source_calls_total", "papi_source_errors_total",
                     "papi_source_latency_seconds_total", "papi_http_requests_in_flight",
                     "papi_coalesced_waits_total", "papi_token_renewals_total",
                     "papi_stale_served_total", "process_resident_memory_bytes"):
            self.assertIn(name, m)
        self.assertGreaterEqual(m["papi_cache_hits_total"], 1)
        self.assertGreaterEqual(m["papi_source_calls_total"], 1)
        self.assertGreaterEqual(m['papi_http_responses_by_cache_total{cache="HIT"}'], 1)

    def test_request_id_echoed_or_replaced(self):
        _, h, _ = self.srv.request("GET", "/", headers={"X-Request-Id": "abc-123.x:y_z"})
        self.assertEqual(h["x-request-id"], "abc-123.x:y_z")
        for bad in ("a b", "x" * 65, "<script>", '"q"'):
            _, h, _ = self.srv.request("GET", "/", headers={"X-Request-Id": bad})
            self.assertRegex(h["x-request-id"], r"^[0-9a-f]{16}$")

    def test_keep_alive(self):
        c = self.srv.conn()
        try:
            for i in (1, 2, 3):
                c.request("GET", "/customer/%d" % i)
                r = c.getresponse()
                self.assertEqual(json.loads(r.read())[0]["C_CUSTOMER_SK"], i)
        finally:
            c.close()

    def test_access_log(self):
        self.srv.request("GET", "/customer/1885?token=SEKRET", headers={
            "Authorization": "Bearer HUSH", "X-Request-Id": "log-check-1"})
        for _ in range(100):
            lines = [l for l in self.srv.access_log() if l.get("request_id") == "log-check-1"]
            if lines:
                break
            import time
            time.sleep(0.02)
        self.assertEqual(len(lines), 1)
        line = lines[0]
        self.assertEqual((line["method"], line["path"], line["status"]), ("GET", "/customer/1885", 200))
        self.assertIn(line["cache"], ("HIT", "MISS"))
        self.assertIsInstance(line["ms"], float)
        self.assertRegex(line["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertNotIn("SEKRET", self.srv.stdout())
        self.assertNotIn("HUSH", self.srv.stdout() + self.srv.stderr())


class BadInput(DemoServer):
    def test_not_found(self):
        for path in ("/nope", "/foo/1", "/test/", "/healthz/x", "//customer/1", "/Customer/1",
                     "/customer/1/2"):
            h, doc = self.assertJsonError(404, path)
            self.assertEqual(doc, {"error": "Not found!"})
            self.assertIn("x-request-id", h)

    def test_method_not_allowed(self):
        for method, path, allow in (("POST", "/customer/1", "GET, HEAD, OPTIONS"),
                                    ("DELETE", "/", "GET, HEAD"), ("PUT", "/healthz", "GET, HEAD"),
                                    ("BREW", "/customer/1", "GET, HEAD, OPTIONS"),
                                    ("OPTIONS", "/metrics", "GET, HEAD"),
                                    ("PATCH", "/test", "GET, HEAD"),
                                    ("GET", "/customer", "POST, OPTIONS"),
                                    ("PUT", "/customer", "POST, OPTIONS")):
            h, doc = self.assertJsonError(405, path, method=method)
            self.assertEqual(h["allow"], allow, (method, path))

    def test_post_with_body(self):
        st, h, body = self.srv.request("POST", "/customer/1", body=b'{"a": 1}' * 100)
        self.assertEqual(st, 405)
        json.loads(body)

    def test_unknown_path_wrong_method_is_404(self):
        self.assertJsonError(404, "/nope", method="POST")

    def test_malformed_ids(self):
        for path in ("/customer/1;DROP%20TABLE%20x", "/customer/1;DROP", "/customer/%27",
                     "/customer/", "/customer/,,", "/customer/1,,2", "/customer/-1", "/customer/1.5",
                     "/customer/abc", "/customer/1%201", "/customer/" + "9" * 39):
            _, doc = self.assertJsonError(400, path, code="EINVAL")
            self.assertNotIn("SELECT", doc["error"].upper())

    def test_too_many_ids(self):
        ids = ",".join(str(i) for i in range(1, 102))  # default max-ids is 100
        self.assertJsonError(400, "/customer/" + ids, code="EINVAL")
        ids = ",".join(str(i) for i in range(1, 101))
        st, _, rows = self.srv.get_json("/customer/" + ids)
        self.assertEqual((st, len(rows)), (200, 100))

    def assertLibraryUriTooLong(self, path):
        # past the request line libmicrohttpd's connection memory holds (24 KiB, docs/HTTP.md),
        # MHD answers 414 itself and closes the connection; the server lives on
        st, h, _ = self.srv.request("GET", path)
        self.assertEqual(st, 414)
        self.assertEqual(h.get("connection"), "close")
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)

    def test_ten_thousand_and_one_ids(self):
        # 10,001 ids make a URL past the 8 KB limit: refused before any parsing. Short ids fit in
        # MHD's memory, so the answer is papi's; long ones (48 KB) are MHD's own 414.
        ids = ",".join(["1"] * 10001)
        self.assertJsonError(414, "/customer/" + ids, code="EURITOOLONG")
        ids = ",".join(str(i) for i in range(1, 10002))
        self.assertLibraryUriTooLong("/customer/" + ids)

    def test_long_urls(self):
        self.assertJsonError(414, "/customer/" + "1" * 8200, code="EURITOOLONG")
        self.assertJsonError(414, "/customer/" + "1" * (22 * 1024), code="EURITOOLONG")
        self.assertLibraryUriTooLong("/customer/" + "1" * (25 * 1024))
        self.assertLibraryUriTooLong("/customer/" + "1" * (64 * 1024))
        # Past the per-connection memory limit MHD itself refuses; the server lives on.
        data = self.srv.raw(b"GET /customer/" + b"1" * (300 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        if data:
            st, _, _ = harness.parse_raw_response(data)
            self.assertIn(st, (400, 413, 414, 431))
        st, _, _ = self.srv.request("GET", "/healthz")
        self.assertEqual(st, 200)

    def test_bad_percent_encoding(self):
        for path in ("/customer/%zz", "/customer/%4", "/customer/1%", "/customer/%00", "/%"):
            _, doc = self.assertJsonError(400, path, code="EINVAL")
            self.assertIn("percent", doc["error"])

    def test_not_utf8(self):
        for path in ("/customer/%FF", "/customer/1%C3", "/customer/%C0%AF", "/customer/%ED%A0%80"):
            _, doc = self.assertJsonError(400, path, code="EINVAL")
            self.assertIn("UTF-8", doc["error"])
        # raw bytes on the request line: never echoed back
        data = self.srv.raw(b"GET /customer/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, h, body = harness.parse_raw_response(data)
        self.assertEqual(st, 400)
        self.assertNotIn(b"\xff", body)
        body.decode("utf-8")

    def test_utf8_text_id_is_a_clean_400(self):
        _, doc = self.assertJsonError(400, "/customer/%C3%A9t%C3%A9", code="EINVAL")
        json.dumps(doc)


class SourceErrors(unittest.TestCase):
    def test_sqlite_file_without_table(self):
        import sqlite3, os
        d = harness.tmpdir()
        path = os.path.join(d, "empty.db")
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE other (x INTEGER)")
        con.commit()
        con.close()
        srv = harness.Server(source="sqlite:" + path)
        try:
            st, h, body = srv.request("GET", "/customer/1")
            self.assertIn(st, (502, 503), body)
            doc = json.loads(body)
            self.assertIn(doc["code"], ("ESOURCE", "EUNAVAIL", "EIO"))
            self.assertNotIn("SELECT", body.decode().upper())
            if st == 503:
                self.assertIn("retry-after", h)
            self.assertGreaterEqual(srv.metrics()["papi_source_errors_total"], 1)
            st, _, _ = srv.request("GET", "/healthz")
            self.assertEqual(st, 200)
        finally:
            srv.stop()

    def test_missing_database_file(self):
        import os
        path = os.path.join(harness.tmpdir(), "does-not-exist.db")
        try:
            srv = harness.Server(source="sqlite:" + path)
        except RuntimeError as e:
            # refusing to start is an acceptable answer too, if it says why
            self.assertIn("cannot start", str(e))
            return
        try:
            st, h, body = srv.request("GET", "/customer/1")
            self.assertIn(st, (502, 503), body)
            self.assertIn(json.loads(body)["code"], ("ESOURCE", "EUNAVAIL", "EIO"))
            st, _, _ = srv.request("GET", "/readyz")
            self.assertEqual(st, 503)
        finally:
            srv.stop()


class InjectedFaults(unittest.TestCase):
    """The fault-injecting twin (same server code, a test transport) for each error status."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(binary=harness.FAULT_HTTPD)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_error_table(self):
        cases = {"9001": (502, "EAUTH"), "9002": (503, "EUNAVAIL"), "9003": (504, "ETIMEDOUT"),
                 "9004": (502, "EPROTO"), "9005": (502, "ESOURCE")}
        sentences = {"EAUTH": "the source rejected the credentials",
                     "EUNAVAIL": "the source is unavailable",
                     "ETIMEDOUT": "the source did not answer in time",
                     "EPROTO": "the source sent a malformed answer",
                     "ESOURCE": "the source refused the query"}
        before = self.srv.metrics()["papi_source_errors_total"]
        for ident, (status, code) in cases.items():
            rid = "fault-" + ident
            st, h, body = self.srv.request("GET", "/customer/" + ident, headers={"X-Request-Id": rid})
            self.assertEqual(st, status, (ident, body))
            self.assertEqual(h["content-type"], JSON_TYPE)
            doc = json.loads(body)
            # A14: papi's own sentence and the source's code and query id, never its text
            self.assertEqual(doc, {"error": sentences[code], "code": code,
                                   "source_code": "39" + ident, "query_id": "01b-query-" + ident})
            self.assertNotIn("injected", body.decode())
            self.assertNotIn("SECRET", body.decode())
            if status == 503:
                self.assertEqual(h["retry-after"], "7")
        log = self.srv.stderr()
        for ident, (_, code) in cases.items():
            self.assertIn("fault injected: " + code, log)
            # the source's text is in the server's log, on one line, joined by the request id
            lines = [json.loads(l) for l in log.splitlines() if "fault-" + ident in l]
            self.assertEqual(len(lines), 1, lines)
            msg = lines[0]["msg"]
            self.assertIn("test source: injected " + code, msg)
            self.assertIn("01b-query-" + ident, msg)
            self.assertIn("\x1b[31m SECRET", msg)  # decoded from the escaped line
        self.assertNotIn("\x1b", log)  # control bytes escaped, never raw
        self.assertGreaterEqual(self.srv.metrics()["papi_source_errors_total"] - before, 5)

    def test_input_errors_keep_their_message(self):
        # EINVAL quotes only what the client sent: it stays precise
        st, _, body = self.srv.request("GET", "/customer/12x")
        doc = json.loads(body)
        self.assertEqual((st, doc["code"]), (400, "EINVAL"))
        self.assertNotEqual(doc["error"], "invalid argument")
        self.assertIn("12x", doc["error"])

    def test_rows_from_the_test_source(self):
        st, h, rows = self.srv.get_json("/customer/77")
        self.assertEqual((st, rows[0]["C_CUSTOMER_SK"]), (200, 77))

    def test_readyz_fails_when_ping_fails(self):
        srv = harness.Server(binary=harness.FAULT_HTTPD, env={"PAPI_TEST_PING_FAIL": "1"})
        try:
            st, h, body = srv.request("GET", "/readyz")
            self.assertEqual(st, 503)
            self.assertEqual(json.loads(body), {"error": "the source is unavailable", "code": "EUNAVAIL",
                                                "source_code": "390002", "query_id": "01b-ping"})
            self.assertIn("retry-after", h)
            self.assertIn("fault injected: EUNAVAIL", srv.stderr())
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        finally:
            srv.stop()


class ApiKeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(binary=harness.FAULT_HTTPD,
                                 env={"PAPI_API_KEYS": "first-key-123, second-key-456"})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_refused_without_or_with_wrong_key(self):
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer first-key-12"},
                        {"Authorization": "Bearer first-key-1234"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                        {"Authorization": "first-key-123"}):
            for path in ("/customer/1", "/", "/metrics", "/nope"):
                st, h, body = self.srv.request("GET", path, headers=headers)
                self.assertEqual(st, 401, (path, headers))
                self.assertEqual(json.loads(body)["code"], "EUNAUTHORIZED")
                self.assertTrue(h["www-authenticate"].startswith("Bearer"))

    def test_accepted_with_either_key(self):
        for key in ("first-key-123", "second-key-456"):
            st, _, rows = self.srv.get_json("/customer/5", headers={"Authorization": "Bearer " + key})
            self.assertEqual((st, rows[0]["C_CUSTOMER_SK"]), (200, 5))

    def test_probes_and_page_exempt(self):
        for path in ("/healthz", "/readyz", "/test"):
            self.assertEqual(self.srv.request("GET", path)[0], 200, path)

    def test_keys_never_logged(self):
        self.srv.request("GET", "/customer/5", headers={"Authorization": "Bearer second-key-456"})
        self.assertNotIn("second-key-456", self.srv.stdout() + self.srv.stderr())


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
