"""CORS over real HTTP: --cors-origin (an allow-list or *), the headers an allowed origin gets on
every answer, preflights (exactly the route's methods and headers, Authorization when API keys
are on, no key needed), 403 for other origins, 400 for a malformed Origin, and no CORS at all by
default."""
import json
import os
import subprocess
import sys
import unittest

import harness

APP = "https://app.example.com"
DEV = "http://localhost:3000"
JSON_TYPE = "application/json; charset=utf-8"


def preflight(srv, path, origin, method="GET", headers="content-type"):
    return srv.request("OPTIONS", path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers})


class AllowList(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(source="sqlite:" + harness.demo_db(),
                                 args=["--cors-origin", " %s , %s" % (APP, DEV)])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_allowed_origin_gets_its_headers(self):
        for origin in (APP, DEV, "HTTPS://APP.EXAMPLE.COM"):
            st, h, body = self.srv.request("GET", "/customer/1885", headers={"Origin": origin})
            self.assertEqual(st, 200)
            self.assertEqual(h["access-control-allow-origin"], origin)
            self.assertEqual(h["vary"], "Origin")
            self.assertEqual(h["access-control-expose-headers"], "ETag, X-Cache, X-Request-Id")
            self.assertNotIn("access-control-allow-credentials", h)

    def test_every_answer_carries_them(self):
        # a page must be able to read a 404 or a 400 too
        for method, path in (("GET", "/nope"), ("GET", "/customer/x"), ("GET", "/openapi.json"),
                             ("PUT", "/customer/1")):
            st, h, _ = self.srv.request(method, path, headers={"Origin": APP})
            self.assertEqual(h.get("access-control-allow-origin"), APP, (method, path, st))
        st, h, _ = self.srv.request("POST", "/customer", headers={
            "Origin": APP, "Content-Type": "application/json"}, body=b"[1]")
        self.assertEqual((st, h["access-control-allow-origin"]), (200, APP))

    def test_other_origins_get_none(self):
        for headers in ({"Origin": "https://evil.example.com"}, {"Origin": "https://app.example.com:444"},
                        {"Origin": "http://app.example.com"}, {"Origin": "null"}, {}):
            st, h, _ = self.srv.request("GET", "/customer/1885", headers=headers)
            self.assertEqual(st, 200)
            self.assertNotIn("access-control-allow-origin", h)
            self.assertNotIn("access-control-expose-headers", h)
            self.assertEqual(h["vary"], "Origin")  # the answer varies by Origin all the same

    def test_preflight_allowed(self):
        st, h, body = preflight(self.srv, "/customer/1885", APP, headers="if-none-match, x-request-id")
        self.assertEqual((st, body), (204, b""))
        self.assertEqual(h["access-control-allow-origin"], APP)
        self.assertEqual(h["access-control-allow-methods"], "GET, HEAD, OPTIONS")
        self.assertEqual(h["access-control-allow-headers"], "Content-Type, If-None-Match, X-Request-Id")
        self.assertEqual(h["access-control-max-age"], "600")
        self.assertEqual(h["allow"], "GET, HEAD, OPTIONS")
        self.assertEqual(h["vary"], "Origin")
        self.assertNotIn("content-type", h)
        st, h, _ = preflight(self.srv, "/customer", DEV, method="POST")
        self.assertEqual((st, h["access-control-allow-methods"]), (204, "POST, OPTIONS"))
        st, h, _ = preflight(self.srv, "/openapi.json", APP)
        self.assertEqual((st, h["access-control-allow-methods"]), (204, "GET, HEAD, OPTIONS"))

    def test_preflight_from_other_origin_is_403(self):
        for origin in ("https://evil.example.com", "null"):
            st, h, body = preflight(self.srv, "/customer/1", origin)
            self.assertEqual(st, 403)
            self.assertEqual(h["content-type"], JSON_TYPE)
            self.assertEqual(json.loads(body)["code"], "ECORS")
            self.assertNotIn("access-control-allow-origin", h)

    def test_plain_options(self):
        st, h, body = self.srv.request("OPTIONS", "/customer/1")
        self.assertEqual((st, body, h["allow"]), (204, b"", "GET, HEAD, OPTIONS"))
        self.assertNotIn("access-control-allow-methods", h)

    def test_options_elsewhere(self):
        st, _, body = self.srv.request("OPTIONS", "/nope", headers={"Origin": APP})
        self.assertEqual((st, json.loads(body)), (404, {"error": "Not found!"}))
        st, h, body = preflight(self.srv, "/healthz", APP)
        self.assertEqual((st, h["allow"]), (405, "GET, HEAD"))

    def test_malformed_origin_is_400(self):
        for origin in ("https://app.example.com/", "app.example.com", "https://", "https://a.com:99999",
                       "https://a.com/path", "javascript:alert(1)", "http://a b", "https://a.com:",
                       "https://.a.com", "https://[::1", "*", "https://user@a.com"):
            st, h, body = self.srv.request("GET", "/customer/1", headers={"Origin": origin})
            self.assertEqual(st, 400, origin)
            self.assertEqual(h["content-type"], JSON_TYPE)
            self.assertEqual(json.loads(body)["code"], "EORIGIN")
        for origin in ("http://[::1]:8080", "http://127.0.0.1:1", "https://a-b.c_d.example"):
            self.assertEqual(self.srv.request("GET", "/customer/1", headers={"Origin": origin})[0], 200)


class AnyOrigin(unittest.TestCase):
    def test_star(self):
        srv = harness.Server(source="sqlite:" + harness.demo_db(), env={"PAPI_CORS_ORIGIN": "*"})
        try:
            st, h, _ = srv.request("GET", "/customer/1", headers={"Origin": "https://anywhere.example"})
            self.assertEqual(h["access-control-allow-origin"], "*")
            self.assertNotIn("vary", h)  # the same for every origin
            st, h, _ = preflight(srv, "/customer", "https://anywhere.example", method="POST")
            self.assertEqual((st, h["access-control-allow-origin"]), (204, "*"))
            st, h, _ = srv.request("GET", "/customer/1")
            self.assertNotIn("access-control-allow-origin", h)  # not a cross-origin request
        finally:
            srv.stop()


class WithApiKeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--cors-origin", APP],
                                 env={"PAPI_API_KEYS": "cors-key-1"})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_preflight_needs_no_key_and_allows_authorization(self):
        st, h, _ = preflight(self.srv, "/customer/1", APP, headers="authorization")
        self.assertEqual(st, 204)
        self.assertEqual(h["access-control-allow-headers"],
                         "Content-Type, If-None-Match, X-Request-Id, Authorization")

    def test_refused_answer_is_readable_by_the_page(self):
        st, h, body = self.srv.request("GET", "/customer/1", headers={"Origin": APP})
        self.assertEqual((st, json.loads(body)["code"]), (401, "EUNAUTHORIZED"))
        self.assertEqual(h["access-control-allow-origin"], APP)

    def test_keyed_request(self):
        st, h, _ = self.srv.request("GET", "/customer/1", headers={
            "Origin": APP, "Authorization": "Bearer cors-key-1"})
        self.assertEqual((st, h["access-control-allow-origin"]), (200, APP))

    def test_unknown_route_is_404_without_key(self):
        st, _, body = self.srv.request("OPTIONS", "/nope", headers={"Origin": APP})
        self.assertEqual(st, 404)


class Off(unittest.TestCase):
    """The default: no CORS headers, Origin not even read, preflights refused."""

    def test_default_is_no_cors(self):
        srv = harness.Server(source="sqlite:" + harness.demo_db())
        try:
            for origin in (APP, "not an origin"):
                st, h, _ = srv.request("GET", "/customer/1", headers={"Origin": origin})
                self.assertEqual(st, 200)
                self.assertFalse([k for k in h if k.startswith("access-control")], h)
                self.assertNotIn("vary", h)
            st, h, body = preflight(srv, "/customer/1", APP)
            self.assertEqual((st, json.loads(body)["code"]), (403, "ECORS"))
            self.assertEqual(srv.request("OPTIONS", "/customer/1")[0], 204)
        finally:
            srv.stop()

    def test_bad_configuration_refused(self):
        for value in ("https://a.com/", "*,https://a.com", "null", "a.com", "https://a.com/x",
                      ",".join("https://a%d.com" % i for i in range(33))):
            r = subprocess.run([harness.HTTPD, "--cors-origin", value], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, value)
            self.assertIn("--cors-origin", r.stderr)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
        env["PAPI_CORS_ORIGIN"] = "ftp:/x"
        r = subprocess.run([harness.HTTPD], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("PAPI_CORS_ORIGIN", r.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
