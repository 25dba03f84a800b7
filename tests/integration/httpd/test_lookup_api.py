"""The lookup API for batch callers and caches, over real HTTP: POST /<dataset> with the ids in a
JSON body, ETag and If-None-Match (304, 412), --client-max-age, ?select= as far as papi-httpd
checks it today, and the bad input issue 14 lists, each a JSON 4xx. Every answer is also checked
against the server's OpenAPI document by the harness."""
import json
import os
import sqlite3
import subprocess
import sys
import unittest

import harness

JSON_TYPE = "application/json; charset=utf-8"
JSON = {"Content-Type": "application/json"}
ETAG = r'^"[0-9a-f]{16}"$'
BIG = 12345678901234567890123456789012345678  # 38 digits: past 64 bits and a double's 53


def post(srv, path, body, headers=None):
    h = dict(JSON)
    h.update(headers or {})
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return srv.request("POST", path, headers=h, body=body)


def ids_of(body):
    return [r["C_CUSTOMER_SK"] for r in json.loads(body)]


class DemoServer(unittest.TestCase):
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(source="sqlite:" + harness.demo_db(), args=cls.args)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assertJsonError(self, answer, status, code=None, says=None):
        st, h, body = answer
        self.assertEqual(st, status, body[:300])
        self.assertEqual(h["content-type"], JSON_TYPE)
        self.assertEqual(h["cache-control"], "no-store")
        doc = json.loads(body.decode("utf-8"))
        if code is not None:
            self.assertEqual(doc.get("code"), code, doc)
        if says is not None:
            self.assertIn(says, doc["error"])
        return doc


class Post(DemoServer):
    def test_same_answer_as_get(self):
        st, hg, got = self.srv.request("GET", "/customer/1885,2,3,2,99999999")
        for body in ([1885, 2, 3, 2, 99999999], {"ids": [1885, "2", 3, "0002", 99999999]},
                     b' \r\n{ "ids" :\t[ 1885 , 2,3,2 ,99999999 ] }\n'):
            st, h, answer = post(self.srv, "/customer", body)
            self.assertEqual(st, 200, answer)
            self.assertEqual(h["content-type"], JSON_TYPE)
            self.assertEqual(answer, got)  # same bytes: same order, each id once, absent left out
            self.assertEqual(h["etag"], hg["etag"])
            self.assertIn(h["x-cache"], ("HIT", "MISS"))

    def test_hundred_ids_a_call(self):
        ids = list(range(1, 101))
        st, h, body = post(self.srv, "/customer", ids)
        self.assertEqual((st, ids_of(body)), (200, ids))
        st, h, body = post(self.srv, "/customer", ids)
        self.assertEqual(h["x-cache"], "HIT")  # from the first tier, on the event loop

    def test_charset_and_case_allowed(self):
        for ct in ("application/json; charset=utf-8", "Application/JSON", "application/json;charset=\"UTF-8\"",
                   "application/json; profile=x"):
            st, _, body = post(self.srv, "/customer", [7], {"Content-Type": ct})
            self.assertEqual((ct, st, ids_of(body)), (ct, 200, [7]))

    def test_wrong_content_type_is_415(self):
        for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                        {"Content-Type": "application/json; charset=latin-1"},
                        {"Content-Type": "application/jsonx"}):
            self.assertJsonError(self.srv.request("POST", "/customer", headers=headers, body=b"[1]"),
                                 415, "EMEDIATYPE")
        self.assertJsonError(self.srv.request("POST", "/customer", body=b"[1]"), 415, "EMEDIATYPE")

    def test_oversized_body_is_413(self):
        # the cap is --max-ids (100) ids of the longest kind, within the 64 KiB all bodies get
        body = b"[" + b" " * 40000 + b"1]"
        doc = self.assertJsonError(post(self.srv, "/customer", body), 413, "ETOOLARGE")
        self.assertIn("max-ids", doc["error"])
        self.assertEqual(post(self.srv, "/customer", [5])[0], 200)  # the server reads on

    def test_too_many_ids_is_400(self):
        self.assertJsonError(post(self.srv, "/customer", list(range(1, 102))), 400, "EINVAL",
                             "too many ids")

    def test_bad_items_named_by_index(self):
        cases = {
            b"[1, 1.5]": "id 2 (at index 1) is not an integer",
            b"[1, 2, 1e3]": "id 3 (at index 2) is not an integer",
            b"[-1]": "id 1 (at index 0) is negative",
            b"[1, [2]]": "id 2 (at index 1) is an array",
            b"[{}]": "id 1 (at index 0) is an object",
            b"[1, true]": "id 2 (at index 1) is a boolean",
            b"[null]": "id 1 (at index 0) is null",
            b'["\\u0000"]': "id 1 (at index 0) contains a NUL",
            b'[1, "\\ud800"]': "id 2 (at index 1) is not valid text",
            b'["\xff"]': "id 1 (at index 0) is not valid text",
            b'[1, "x"]': "id 2 (\"x\") is not a number",
            # a lone empty string was joined into an empty list: "empty id list" for one id
            b'[""]': "id 1 (at index 0) is empty",
            b'{"ids": [""]}': "id 1 (at index 0) is empty",
            b'[1, ""]': "id 2 (at index 1) is empty",
            b"[]": "empty id list",
            b"": "the body is empty",
            b"1885": "not another JSON value",
            b'"1885"': "not another JSON value",
            b'{"ids": 1}': '"ids" is not an array',
            b'{"ids": [1], "x": 2}': 'a member other than "ids"',
            b'{"ids": [1], "ids": [2]}': '"ids" twice',
            b"{}": 'no "ids" member',
        }
        for body, says in cases.items():
            self.assertJsonError(post(self.srv, "/customer", body), 400, "EINVAL", says)

    def test_malformed_json_named_by_byte(self):
        for body in (b"[1,]", b"[01]", b"[1 2]", b"[1", b"[1] x", b"[tru]", b'["a]', b'["\\x"]',
                     b'["\t"]', b"[\x00]", b'{"ids" [1]}', b"[1,,2]", b"[+1]"):
            self.assertJsonError(post(self.srv, "/customer", body), 400, "EINVAL",
                                 "the body is not valid JSON")

    def test_not_found_and_methods(self):
        self.assertJsonError(post(self.srv, "/nope", [1]), 404)
        st, h, body = post(self.srv, "/customer/1", [1])
        self.assertEqual((st, h["allow"]), (405, "GET, HEAD, OPTIONS"))
        st, h, body = self.srv.request("GET", "/customer")
        self.assertEqual((st, h["allow"]), (405, "POST, OPTIONS"))

    def test_keep_alive_after_posts(self):
        c = self.srv.conn()
        try:
            for i in (1, 2, 3):
                c.request("POST", "/customer", body=json.dumps([i, i + 10]), headers=JSON)
                r = c.getresponse()
                self.assertEqual(ids_of(r.read()), [i, i + 10])
        finally:
            c.close()

    def test_metrics_label(self):
        post(self.srv, "/customer", [1])
        m = self.srv.metrics()
        self.assertGreaterEqual(m['papi_http_requests_total{route="/customer",code="200"}'], 1)


class Keys(unittest.TestCase):
    """Number keys past 64 bits keep every digit; text keys may hold the comma a URL cannot."""

    @classmethod
    def setUpClass(cls):
        d = harness.tmpdir()
        db = os.path.join(d, "keys.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE BIG (ID, NAME TEXT)")  # no affinity: 38 digits stay text
        con.execute("INSERT INTO BIG VALUES (?, 'big')", (str(BIG),))
        con.execute("INSERT INTO BIG VALUES (?, 'big-1')", (str(BIG - 1),))
        con.execute("CREATE TABLE TAGS (TAG TEXT, N INTEGER)")
        con.executemany("INSERT INTO TAGS VALUES (?, ?)", [("a,b", 1), ("c", 2), ("a", 3), ("b", 4)])
        con.commit()
        con.close()
        datasets = harness.datasets_file([
            {"name": "big", "table": "API.DATA.BIG", "key": "ID", "key_type": "number",
             "columns": [{"name": "ID", "type": "number"}, {"name": "NAME", "type": "text"}]},
            {"name": "tags", "table": "API.DATA.TAGS", "key": "TAG", "key_type": "text",
             "columns": [{"name": "TAG", "type": "text"}, {"name": "N", "type": "number"}]}])
        cls.srv = harness.Server(source="sqlite:" + db, args=["--datasets", datasets])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_38_digit_integer_keeps_its_digits(self):
        for body in ([BIG], [str(BIG)], {"ids": [BIG, BIG - 1]}):
            st, h, answer = post(self.srv, "/big", body)
            self.assertEqual(st, 200, answer)
            rows = json.loads(answer)
            self.assertEqual(rows[0], {"ID": BIG, "NAME": "big"})
        self.assertEqual(json.loads(post(self.srv, "/big", [BIG, BIG - 1])[2])[1]["ID"], BIG - 1)
        st, _, answer = self.srv.request("GET", "/big/%d" % BIG)
        self.assertEqual(json.loads(answer)[0]["ID"], BIG)

    def test_text_key_with_a_comma(self):
        for _ in range(2):  # a miss, then from the cache
            st, h, answer = post(self.srv, "/tags", ["a,b", "c", "a,b"])
            self.assertEqual(st, 200, answer)
            self.assertEqual([r["TAG"] for r in json.loads(answer)], ["a,b", "c"])
        self.assertEqual(h["x-cache"], "HIT")
        # in a URL the comma separates
        st, _, answer = self.srv.request("GET", "/tags/a%2Cb")
        self.assertEqual([r["TAG"] for r in json.loads(answer)], ["a", "b"])
        st, _, answer = post(self.srv, "/tags", ["a", 12])
        self.assertEqual([r["TAG"] for r in json.loads(answer)], ["a"])

    def test_every_dataset_has_both_routes(self):
        for ds in ("customer", "big", "tags"):
            self.assertEqual(self.srv.request("OPTIONS", "/" + ds)[1]["allow"], "POST, OPTIONS")
            self.assertEqual(self.srv.request("OPTIONS", "/%s/1" % ds)[1]["allow"], "GET, HEAD, OPTIONS")


class Conditional(DemoServer):
    def test_etag_is_over_the_bytes(self):
        st, h1, b1 = self.srv.request("GET", "/customer/1885")
        st, h2, b2 = self.srv.request("GET", "/customer/1885")
        self.assertRegex(h1["etag"], ETAG)
        self.assertEqual((b1, h1["etag"]), (b2, h2["etag"]))
        self.assertNotEqual(self.srv.request("GET", "/customer/2")[1]["etag"], h1["etag"])
        self.assertNotEqual(self.srv.request("GET", "/customer/2,1885")[1]["etag"],
                            self.srv.request("GET", "/customer/1885,2")[1]["etag"])
        self.assertEqual(self.srv.request("HEAD", "/customer/1885")[1]["etag"], h1["etag"])

    def test_if_none_match_gets_304(self):
        st, h, body = self.srv.request("GET", "/customer/1885")
        tag = h["etag"]
        for inm in (tag, "W/" + tag, '"0000000000000000", ' + tag, ' W/"x" ,' + tag + ' '):
            for method in ("GET", "HEAD"):
                st, h2, b2 = self.srv.request(method, "/customer/1885", headers={"If-None-Match": inm})
                self.assertEqual((inm, method, st, b2), (inm, method, 304, b""))
                self.assertEqual(h2["etag"], tag)
                self.assertEqual(h2["cache-control"], "no-store")
                self.assertIn("x-request-id", h2)
                # RFC 9110 8.6: a 304 may say only the 200's length
                self.assertEqual(h2.get("content-length", str(len(body))), str(len(body)))
        for inm in ('"0000000000000000"', tag[:-2] + '"', "garbage", 'W/"1"'):
            st, _, b2 = self.srv.request("GET", "/customer/1885", headers={"If-None-Match": inm})
            self.assertEqual((st, b2), (200, body))

    def test_304_keeps_the_connection(self):
        tag = self.srv.request("GET", "/customer/3")[1]["etag"]
        c = self.srv.conn()
        try:
            for _ in range(3):
                c.request("GET", "/customer/3", headers={"If-None-Match": tag})
                r = c.getresponse()
                self.assertEqual((r.status, r.read()), (304, b""))
            c.request("GET", "/customer/3")
            r = c.getresponse()
            self.assertEqual(ids_of(r.read()), [3])
        finally:
            c.close()

    def test_tag_is_the_same_on_every_replica_and_path(self):
        # a fresh server answers from the source (MISS) with the same tag: a client may
        # revalidate against any replica, and a POST of the same ids gives the same bytes
        tag = self.srv.request("GET", "/customer/4321,17")[1]["etag"]
        other = harness.Server(source="sqlite:" + harness.demo_db())
        try:
            st, h, _ = other.request("GET", "/customer/4321,17", headers={"If-None-Match": tag})
            self.assertEqual((st, h["x-cache"]), (304, "MISS"))
        finally:
            other.stop()
        self.assertEqual(post(self.srv, "/customer", [4321, 17])[1]["etag"], tag)

    def test_post_with_matching_tag_is_412(self):
        tag = post(self.srv, "/customer", [9, 10])[1]["etag"]
        self.assertJsonError(post(self.srv, "/customer", [9, 10], {"If-None-Match": tag}), 412,
                             "EPRECONDITION")
        self.assertEqual(post(self.srv, "/customer", [9, 11], {"If-None-Match": tag})[0], 200)

    def test_if_none_match_star_is_400(self):
        # RFC 9110 would answer 304 (some answer exists); for a lookup that can only be a mistake
        for inm in ("*", ' * ', '"abc", *'):
            self.assertJsonError(self.srv.request("GET", "/customer/1", headers={"If-None-Match": inm}),
                                 400, "EINVAL", "If-None-Match: *")
        self.assertJsonError(post(self.srv, "/customer", [1], {"If-None-Match": "*"}), 400, "EINVAL")

    def test_error_answers_have_no_etag(self):
        st, h, _ = self.srv.request("GET", "/customer/x")
        self.assertEqual(st, 400)
        self.assertNotIn("etag", h)

    def test_metrics_count_304(self):
        tag = self.srv.request("GET", "/customer/12")[1]["etag"]
        self.srv.request("GET", "/customer/12", headers={"If-None-Match": tag})
        m = self.srv.metrics()
        self.assertGreaterEqual(m['papi_http_requests_total{route="/customer/:ids",code="304"}'], 1)


class ClientMaxAge(DemoServer):
    args = ("--client-max-age", "60")

    def test_lookups_may_be_kept(self):
        st, h, _ = self.srv.request("GET", "/customer/1885")
        self.assertEqual(h["cache-control"], "private, max-age=60")
        self.assertEqual(post(self.srv, "/customer", [1885])[1]["cache-control"], "private, max-age=60")
        st, h, _ = self.srv.request("GET", "/customer/1885", headers={"If-None-Match": h["etag"]})
        self.assertEqual((st, h["cache-control"]), (304, "private, max-age=60"))

    def test_errors_and_other_routes_stay_no_store(self):
        for path in ("/customer/x", "/nope", "/healthz", "/"):
            self.assertEqual(self.srv.request("GET", path)[1]["cache-control"], "no-store", path)

    def test_env_and_bounds(self):
        srv = harness.Server(source="sqlite:" + harness.demo_db(), env={"PAPI_CLIENT_MAX_AGE": "5"})
        try:
            self.assertEqual(srv.request("GET", "/customer/1")[1]["cache-control"], "private, max-age=5")
        finally:
            srv.stop()
        r = subprocess.run([harness.HTTPD, "--client-max-age=31536001"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--client-max-age", r.stderr)


class Select(DemoServer):
    def test_thousand_columns_is_a_quick_400(self):
        names = ",".join("C%d" % i for i in range(1000))
        doc = self.assertJsonError(self.srv.request("GET", "/customer/1?select=" + names), 400,
                                   "EINVAL")
        self.assertIn("1000 columns", doc["error"])
        self.assertJsonError(post(self.srv, "/customer?select=" + names, [1]), 400, "EINVAL")

    def test_names_checked(self):
        cases = {"select=": "select is empty",
                 "select": "select is empty",
                 "select=A,,B": "column 2 is empty",
                 "select=A,": "column 2 is empty",
                 "select=" + "A" * 256: "longer than 255 bytes",
                 "select=C_EMAIL_ADDRESS,c_email_address": '"c_email_address" is named twice',
                 "select=a%20b": 'no column "a b"',
                 "select=1ABC": 'no column "1ABC"',
                 "select=C_LOGIN%2CC_LOGIN": "named twice",
                 "select=%zz": "invalid percent-encoding",
                 "select=A&select=B": "select is given twice"}
        for query, says in cases.items():
            self.assertJsonError(self.srv.request("GET", "/customer/1?" + query), 400, "EINVAL", says)

    def test_valid_select_on_get_and_post(self):
        st, _, body = self.srv.request("GET", "/customer/1?select=C_FIRST_NAME,c_email_address")
        self.assertEqual(st, 200)
        self.assertEqual(list(json.loads(body)[0]), ["C_FIRST_NAME", "C_EMAIL_ADDRESS"])
        st, _, body = post(self.srv, "/customer?select=C_LOGIN,C_CUSTOMER_SK", [2, 1])
        self.assertEqual(st, 200)
        rows = json.loads(body)
        self.assertEqual([list(r) for r in rows], [["C_LOGIN", "C_CUSTOMER_SK"]] * 2)
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [2, 1])
        st, _, body = self.srv.request("GET", "/customer/1?selected=A&verbose=1")
        self.assertEqual((st, ids_of(body)), (200, [1]))  # other parameters are left alone


class IssueBadInput(DemoServer):
    """Issue 14's list, item 6: each gets a JSON 4xx."""

    args = ("--cors-origin", "https://app.example.com")

    def test_each_a_json_4xx(self):
        cases = [
            (post(self.srv, "/customer", b"[" + b"1," * 30000 + b"1]"), 413, "ETOOLARGE"),
            (self.srv.request("POST", "/customer", headers={"Content-Type": "text/csv"}, body=b"1,2"),
             415, "EMEDIATYPE"),
            (self.srv.request("GET", "/customer/1?select=" + ",".join("C%d" % i for i in range(1000))),
             400, "EINVAL"),
            (self.srv.request("GET", "/customer/1", headers={"If-None-Match": "*"}), 400, "EINVAL"),
            (self.srv.request("GET", "/customer/1", headers={"Origin": "https://app.example.com/"}),
             400, "EORIGIN"),
            (self.srv.request("OPTIONS", "/nope", headers={"Origin": "https://app.example.com",
                                                           "Access-Control-Request-Method": "GET"}),
             404, None),
        ]
        for answer, status, code in cases:
            self.assertJsonError(answer, status, code)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
