"""Column selection over real HTTP (issue 14, item 1): GET /<dataset>/<ids>?select=A,B answers
only those columns, in the order asked, cut from the same cached full row (no second fetch), on a
hit (the event loop) and on a miss (a worker finishing what the event loop began); names match
case-insensitively; unknown, repeated and too many names are a JSON 400 naming the problem."""
import json
import os
import sqlite3
import unittest

import harness
from test_routes import JSON_TYPE, DemoServer


class Select(DemoServer):
    def get(self, path):
        st, h, body = self.srv.request("GET", path)
        self.assertEqual(h["content-type"], JSON_TYPE)
        return st, h, json.loads(body.decode("utf-8"))

    def source_calls(self):
        return self.srv.metrics()["papi_source_calls_total"]

    def test_columns_in_asked_order_from_the_cached_row(self):
        st, h, full = self.get("/customer/1885")
        self.assertEqual(st, 200)
        calls = self.source_calls()
        st, h, rows = self.get("/customer/1885?select=C_EMAIL_ADDRESS,c_first_name")
        self.assertEqual((st, h["x-cache"]), (200, "HIT"))
        self.assertEqual(rows, [{"C_EMAIL_ADDRESS": full[0]["C_EMAIL_ADDRESS"],
                                 "C_FIRST_NAME": full[0]["C_FIRST_NAME"]}])
        self.assertEqual(list(rows[0]), ["C_EMAIL_ADDRESS", "C_FIRST_NAME"])
        self.assertEqual(self.source_calls(), calls)  # no second fetch
        # the cached row is still whole
        st, h, again = self.get("/customer/1885")
        self.assertEqual((h["x-cache"], again), ("HIT", full))

    def test_miss_then_whole_row_is_a_hit(self):
        calls = self.source_calls()
        st, h, rows = self.get("/customer/4321,99999999,4322?select=C_LOGIN,C_CUSTOMER_SK")
        self.assertEqual((st, h["x-cache"]), (200, "MISS"))
        self.assertEqual(rows, [{"C_LOGIN": None, "C_CUSTOMER_SK": 4321},
                                {"C_LOGIN": None, "C_CUSTOMER_SK": 4322}])
        self.assertEqual(self.source_calls(), calls + 1)
        st, h, full = self.get("/customer/4322,4321")
        self.assertEqual((h["x-cache"], len(full[0])), ("HIT", 18))
        self.assertEqual(self.source_calls(), calls + 1)

    def test_every_column_reordered(self):
        _, _, full = self.get("/customer/77")
        names = list(full[0])[::-1]
        st, _, rows = self.get("/customer/77?select=" + ",".join(n.lower() for n in names))
        self.assertEqual((st, list(rows[0])), (200, names))
        self.assertEqual(rows[0], full[0])

    def test_head_and_other_parameters(self):
        path = "/customer/1885?x=1&select=C_BIRTH_YEAR&y=%2C"
        st, hg, body = self.srv.request("GET", path)
        self.assertEqual(json.loads(body), [{"C_BIRTH_YEAR": json.loads(body)[0]["C_BIRTH_YEAR"]}])
        st2, hh, body2 = self.srv.request("HEAD", path)
        self.assertEqual((st2, body2, hh["content-length"]), (200, b"", str(len(body))))
        # an encoded comma separates names too
        st, _, rows = self.get("/customer/1885?select=C_FIRST_NAME%2CC_LAST_NAME")
        self.assertEqual((st, list(rows[0])), (200, ["C_FIRST_NAME", "C_LAST_NAME"]))

    def refused(self, query, *needles):
        st, h, doc = self.get("/customer/1885?" + query)
        self.assertEqual(st, 400, doc)
        self.assertEqual(h["cache-control"], "no-store")
        self.assertEqual(doc["code"], "EINVAL")
        for n in needles:
            self.assertIn(n, doc["error"])
        return doc["error"]

    def test_refused(self):
        self.refused("select=C_FIRST_NAME,C_NOPE", 'no column "C_NOPE"')
        self.refused("select=C_LOGIN,c_login", '"c_login" is named twice')
        self.refused("select=C_LOGIN,,C_FIRST_NAME", "column 2 is empty")
        self.refused("select=", "select is empty")
        self.refused("select=C_LOGIN&select=C_FIRST_NAME", "given twice")
        self.refused("select=C_LOGIN%2", "percent-encoding")
        self.refused("select=" + ",".join("C%d" % i for i in range(1000)),
                     "select names 1000 columns")
        self.refused("select=" + ",".join("C%d" % i for i in range(40)),
                     "select names 40 columns: dataset customer has 18")

    def test_hostile_name_quoted_escaped_and_cut(self):
        name = "%22%3Cscript%3E%0D%0A%1B%5B31m%FF" + "X" * 200
        st, _, raw = self.srv.request("GET", "/customer/1885?select=" + name)
        self.assertEqual(st, 400)
        self.assertNotIn(b"\x1b", raw)
        self.assertNotIn(b"<script", raw)  # the JSON writer keeps markup inert
        msg = json.loads(raw.decode("utf-8"))["error"]
        self.assertIn('no column "\\"', msg)
        self.assertIn("\\x0d\\x0a\\x1b[31m\\xff", msg)
        self.assertTrue(msg.endswith('..."'), msg)
        self.assertLess(len(msg), 200)


class SelectOnEveryDataset(unittest.TestCase):
    """A dataset of the --datasets file: a text key, a VARIANT column."""

    @classmethod
    def setUpClass(cls):
        d = harness.tmpdir()
        db = os.path.join(d, "shop.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE STORES (STORE_CODE TEXT PRIMARY KEY, CITY TEXT, INFO TEXT)")
        con.execute("INSERT INTO STORES VALUES ('LYON-1', 'Lyon', ?)",
                    ('{"open": ["9:00", "18:00"], "note": "}\\"],"}',))
        con.commit()
        con.close()
        spec = os.path.join(d, "datasets.json")
        with open(spec, "w") as f:
            json.dump({"datasets": [{"name": "store", "table": "STORES", "key": "STORE_CODE",
                                     "columns": [{"name": "STORE_CODE", "type": "text"},
                                                 {"name": "CITY", "type": "text"},
                                                 {"name": "INFO", "type": "variant"}]}]}, f)
        cls.srv = harness.Server(source="sqlite:" + db, args=["--datasets", spec])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_variant_and_text_key(self):
        for cache in ("MISS", "HIT"):
            st, h, body = self.srv.request("GET", "/store/LYON-1?select=info,City")
            self.assertEqual((st, h["x-cache"]), (200, "MISS" if cache == "MISS" else "HIT"))
            self.assertEqual(json.loads(body), [{"INFO": {"open": ["9:00", "18:00"],
                                                          "note": '}"],'}, "CITY": "Lyon"}])
        st, _, body = self.srv.request("GET", "/store/LYON-1?select=C_FIRST_NAME")
        self.assertEqual(st, 400)
        self.assertIn('dataset store has no column "C_FIRST_NAME"', json.loads(body)["error"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
