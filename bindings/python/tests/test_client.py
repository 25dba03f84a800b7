"""papi.Client against the built libpapi and a demo database."""

import json
import os
import tempfile
import threading
import unittest

import papi

from support import demo_db, source

CUSTOMER_COLUMNS = [
    "C_CUSTOMER_SK", "C_CUSTOMER_ID", "C_CURRENT_CDEMO_SK", "C_CURRENT_HDEMO_SK",
    "C_CURRENT_ADDR_SK", "C_FIRST_SHIPTO_DATE_SK", "C_FIRST_SALES_DATE_SK", "C_SALUTATION",
    "C_FIRST_NAME", "C_LAST_NAME", "C_PREFERRED_CUST_FLAG", "C_BIRTH_DAY", "C_BIRTH_MONTH",
    "C_BIRTH_YEAR", "C_BIRTH_COUNTRY", "C_LOGIN", "C_EMAIL_ADDRESS", "C_LAST_REVIEW_DATE",
]


class EnvPatch:
    """Sets environment variables for a block and restores them."""

    def __init__(self, **values):
        self.values = values
        self.saved = {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LookupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = papi.Client(source=source(), cache="memory", cache_ttl=60)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def test_customers_in_the_order_asked(self):
        rows = self.client.lookup_customers([1885, 2])
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [1885, 2])
        self.assertEqual(list(rows[0].keys()), CUSTOMER_COLUMNS)
        self.assertIsInstance(rows[0]["C_CUSTOMER_ID"], str)
        self.assertEqual(len(rows[0]["C_CUSTOMER_ID"]), 16)

    def test_one_int_and_repeats(self):
        self.assertEqual([r["C_CUSTOMER_SK"] for r in self.client.lookup_customers(7)], [7])
        rows = self.client.lookup_customers([3, 3, 1, 3])
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [3, 1])

    def test_generic_lookup_forms(self):
        want = [10, 1885, 11]
        for ids in (["10", "1885", "11"], [10, 1885, 11], [b"10", b"1885", b"11"], "10,1885,11",
                    b"10,1885,11"):
            with self.subTest(ids=ids):
                rows = self.client.lookup("customer", ids)
                self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], want)

    def test_missing_ids_are_left_out(self):
        self.assertEqual(self.client.lookup_customers([999999999]), [])
        rows = self.client.lookup_customers([999999998, 5])
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [5])
        self.assertEqual(self.client.lookup_raw("customer", ["999999997"]), b"[]")

    def test_raw_is_the_same_answer_as_bytes(self):
        raw = self.client.lookup_raw("customer", [1885, 2])
        self.assertIsInstance(raw, bytes)
        self.assertTrue(raw.startswith(b"[{") and raw.endswith(b"}]"))
        self.assertEqual(json.loads(raw), self.client.lookup_customers([1885, 2]))
        self.assertEqual(self.client.lookup_customers_raw([1885, 2]), raw)

    def test_result_outcome_and_rows(self):
        first = self.client.lookup_result("customer", "2001,2002")
        second = self.client.lookup_result("customer", "2001,2002")
        self.assertEqual(first.outcome, "MISS")
        self.assertEqual(second.outcome, "HIT")
        self.assertEqual(len(second), 2)
        self.assertEqual(b"[" + b",".join(second.rows) + b"]", second.json)
        self.assertEqual(second.dicts()[1]["C_CUSTOMER_SK"], 2002)

    def test_stats_count_lookups_and_hits(self):
        with papi.Client(source=source()) as c:
            self.assertEqual(c.stats()["lookups"], 0)
            c.lookup_customers([1, 2])
            c.lookup_customers([1, 2])
            s = c.stats()
            self.assertEqual(s["lookups"], 2)
            self.assertEqual(s["cache_hits"], 2)
            self.assertEqual(s["cache_misses"], 2)
            self.assertEqual(s["source_calls"], 1)
            self.assertEqual(set(s), set(papi._lib.STATS_FIELDS))
            # the one fetch asked for 2 ids: bucket "<= 2" of the ids-per-fetch histogram
            self.assertEqual(s["fetch_ids_bucket"], [0, 1] + [0] * 14)
            self.assertEqual(s["fetch_ids_sum"], 2)
            self.assertEqual(s["queue_depth"], 0)
            self.assertEqual(sum(s["queue_wait_bucket"]), 2)

    def test_option_value_spellings(self):
        # Lists join with commas (cache tiers), numbers become text, paths are accepted.
        import pathlib
        with papi.Client(source="sqlite:" + str(pathlib.Path(demo_db())), cache=["memory"],
                         cache_ttl=30, negative_ttl=5, cache_max_entries=1000) as c:
            self.assertEqual(len(c.lookup_customers([1, 2])), 2)
        with papi.Client(source=source(), cache=["none"]) as c:
            c.lookup_customers([1])
            c.lookup_customers([1])
            self.assertEqual(c.stats()["source_calls"], 2)  # cache "none": both went to SQLite

    def test_ping_and_datasets(self):
        self.assertIsNone(self.client.ping())
        self.assertEqual(self.client.datasets(), ["customer"])

    # select=: the columns asked for, in that order, cut from the cached whole row

    def test_select_columns_in_the_order_asked(self):
        whole = self.client.lookup_customers([1885, 2])
        calls = self.client.stats()["source_calls"]
        for select in (["C_EMAIL_ADDRESS", "c_first_name"], "C_EMAIL_ADDRESS,c_first_name",
                       [b"C_EMAIL_ADDRESS", "C_FIRST_NAME"], ("C_EMAIL_ADDRESS", "C_First_Name")):
            with self.subTest(select=select):
                rows = self.client.lookup_customers([1885, 2], select=select)
                self.assertEqual(rows, [{"C_EMAIL_ADDRESS": w["C_EMAIL_ADDRESS"],
                                         "C_FIRST_NAME": w["C_FIRST_NAME"]} for w in whole])
                self.assertEqual(list(rows[0]), ["C_EMAIL_ADDRESS", "C_FIRST_NAME"])
        self.assertEqual(self.client.stats()["source_calls"], calls)  # no second fetch
        self.assertEqual(self.client.lookup_customers([1885]), whole[:1])  # still whole

    def test_select_on_every_lookup_call(self):
        want = [{"C_CUSTOMER_SK": 12}, {"C_CUSTOMER_SK": 13}]
        self.assertEqual(self.client.lookup("customer", [12, 13], select=["C_CUSTOMER_SK"]), want)
        self.assertEqual(self.client.lookup("customer", "12,13", select="C_CUSTOMER_SK"), want)
        self.assertEqual(json.loads(self.client.lookup_raw("customer", ["12", "13"],
                                                           select=["c_customer_sk"])), want)
        self.assertEqual(json.loads(self.client.lookup_customers_raw(12, select="C_CUSTOMER_SK")),
                         want[:1])
        res = self.client.lookup_result("customer", "12,999999999", select=["C_CUSTOMER_SK"])
        self.assertEqual((res.rows, len(res)), ([b'{"C_CUSTOMER_SK":12}'], 1))
        self.assertEqual(self.client.lookup("customer", "999999999", select="C_LOGIN"), [])

    def test_select_refused(self):
        def refused(detail, *args, **kw):
            with self.assertRaises(papi.InvalidInput) as cm:
                self.client.lookup("customer", *args, **kw)
            self.assertEqual(cm.exception.name, "EINVAL")
            self.assertIn(detail, cm.exception.detail)

        refused('has no column "C_NOPE"', [1], select=["C_LOGIN", "C_NOPE"])
        refused('"c_login" is named twice', [1], select="C_LOGIN,c_login")
        refused("select names 1000 columns: dataset customer has 18", [1],
                select=["C%d" % i for i in range(1000)])
        refused('no column "\\x1b[2J"', [1], select=["\x1b[2J"])
        refused("select is empty", [1], select=[])
        refused("contains a NUL byte", [1], select=["C_LOGIN\0"])
        with self.assertRaises(papi.InvalidInput):
            self.client.lookup_customers([-1], select="C_LOGIN")
        with self.assertRaises(TypeError):
            self.client.lookup("customer", [1], select=[7])


class ErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = papi.Client(source=source(), max_ids=5)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def assertPapiError(self, cls, status_name, fn, *args):
        with self.assertRaises(cls) as cm:
            fn(*args)
        e = cm.exception
        self.assertIsInstance(e, papi.Error)
        self.assertEqual(e.name, status_name)
        self.assertEqual(e.status, cls.status)
        self.assertEqual(e.strerror, papi.strerror(e.status))
        self.assertIn(status_name, str(e))
        return e

    def test_bad_id_names_the_item(self):
        e = self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup,
                                 "customer", ["1", "12ab"])
        self.assertIn("12ab", e.detail)
        self.assertRegex(e.detail, r"\b2\b")  # its position
        self.assertIsInstance(e, ValueError)
        e = self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup,
                                 "customer", "1,x';DROP TABLE t")
        self.assertIn("DROP", e.detail)

    def test_empty_negative_and_too_many(self):
        self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup_customers, [])
        self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup, "customer", "")
        self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup, "customer", "1,,2")
        self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup_customers, [-1])
        e = self.assertPapiError(papi.InvalidInput, "EINVAL", self.client.lookup_customers,
                                 list(range(1, 7)))
        self.assertIn("6", e.detail)

    def test_python_side_checks(self):
        with self.assertRaises(TypeError):
            self.client.lookup_customers(["1"])
        with self.assertRaises(TypeError):
            self.client.lookup_customers([True])
        with self.assertRaises(TypeError):
            self.client.lookup("customer", [1.5])
        with self.assertRaises(papi.InvalidInput):
            self.client.lookup_customers([1 << 64])
        with self.assertRaises(papi.InvalidInput):
            self.client.lookup("customer", ["1\0" + "2"])

    def test_unknown_dataset(self):
        e = self.assertPapiError(papi.UnknownDataset, "ENODATASET", self.client.lookup,
                                 "no_such_dataset", ["1"])
        self.assertIsInstance(e, LookupError)

    def test_bad_option_values(self):
        with self.assertRaises(papi.ConfigError) as cm:
            papi.Client(source=source(), cache_ttl="soon")
        self.assertEqual(cm.exception.name, "ECONFIG")
        self.assertIn("cache-ttl", cm.exception.detail)
        with self.assertRaises(papi.InvalidInput):
            papi.Client(source=source(), no_such_option="1")
        with self.assertRaises(papi.ConfigError):
            papi.Client(source="nosuchscheme:/x")
        with self.assertRaises(TypeError):
            papi.Client(source=source(), cache_ttl=object())

    def test_missing_database_is_an_error(self):
        with self.assertRaises(papi.Error) as cm:
            with papi.Client(source="sqlite:/nonexistent/dir/papi.db") as c:
                c.ping()  # a lazily opened source fails here at the latest
        self.assertNotEqual(cm.exception.status, 0)
        self.assertTrue(cm.exception.detail)

    def test_source_error_carries_the_source_code(self):
        import sqlite3
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "no_table.db")
            con = sqlite3.connect(db)
            con.execute("CREATE TABLE other (x)")
            con.commit()
            con.close()
            with papi.Client(source="sqlite:" + db) as c:
                with self.assertRaises(papi.SourceError) as cm:
                    c.lookup_customers([1])
        e = cm.exception
        self.assertEqual((e.status, e.name), (8, "ESOURCE"))
        self.assertIn("hybrid_customer", e.detail)
        self.assertTrue(e.source_code)  # SQLite's result code, from papi_error.source_code
        self.assertIn("source code " + e.source_code, str(e))

    def test_garbage_database_is_a_config_error(self):
        with tempfile.NamedTemporaryFile(suffix=".db") as f:
            f.write(b"this is not a database" * 100)
            f.flush()
            with self.assertRaises(papi.ConfigError) as cm:
                with papi.Client(source="sqlite:" + f.name) as c:
                    c.lookup_customers([1])
        self.assertIn("not a database", cm.exception.detail)

    def test_error_class_table(self):
        for st in range(1, 12):
            cls = papi.error_class(st)
            self.assertEqual(cls.status, st)
            self.assertTrue(papi.status_name(st).startswith("E"))
        self.assertIs(papi.error_class(999), papi.Error)


class ConfigTest(unittest.TestCase):
    def test_kwargs_win_over_environment(self):
        with EnvPatch(PAPI_MAX_IDS="2", PAPI_SOURCE=source()):
            with papi.Client() as c:  # source and max-ids from the environment
                with self.assertRaises(papi.InvalidInput):
                    c.lookup_customers([1, 2, 3])
            with papi.Client(max_ids=3) as c:
                self.assertEqual(len(c.lookup_customers([1, 2, 3])), 3)

    def test_bad_environment_names_the_variable(self):
        with EnvPatch(PAPI_CACHE_TTL="soon"):
            with self.assertRaises(papi.ConfigError) as cm:
                papi.Client(source=source())
            self.assertIn("PAPI_CACHE_TTL", str(cm.exception))
            with papi.Client(source=source(), use_env=False) as c:  # environment skipped
                self.assertEqual(len(c.lookup_customers([1])), 1)

    def test_options_listing(self):
        opts = {o["key"]: o for o in papi.options()}
        self.assertEqual(opts["cache-ttl"]["env"], "PAPI_CACHE_TTL")
        self.assertFalse(opts["cache-ttl"]["secret"])
        self.assertTrue(opts["snowflake-token"]["secret"])
        self.assertIn("max-ids", opts)

    def test_version(self):
        self.assertEqual(papi.version(), papi.__version__)
        want = os.environ.get("PAPI_TEST_VERSION")
        if want:
            self.assertEqual(papi.version(), want)

    def test_extra_dataset_with_text_key(self):
        spec = {"datasets": [{
            "name": "customer_by_id", "table": "API.DATA.HYBRID_CUSTOMER",
            "key": "C_CUSTOMER_ID", "key_type": "text",
            "columns": [{"name": "C_CUSTOMER_ID", "type": "text"},
                        {"name": "C_CUSTOMER_SK", "type": "number"},
                        {"name": "C_FIRST_NAME", "type": "text"}]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
        try:
            with papi.Client(source=source(), datasets=f.name) as c:
                self.assertEqual(c.datasets(), ["customer", "customer_by_id"])
                business_key = c.lookup_customers([1885])[0]["C_CUSTOMER_ID"]
                rows = c.lookup("customer_by_id", [business_key, "no such key ';--"])
                self.assertEqual(rows, [{"C_CUSTOMER_ID": business_key, "C_CUSTOMER_SK": 1885,
                                         "C_FIRST_NAME": rows[0]["C_FIRST_NAME"]}])
        finally:
            os.unlink(f.name)


class LifetimeTest(unittest.TestCase):
    def test_context_manager_closes(self):
        with papi.Client(source=source()) as c:
            self.assertFalse(c.closed)
            self.assertEqual(len(c.lookup_customers([1])), 1)
        self.assertTrue(c.closed)
        with self.assertRaises(papi.ClientClosed):
            c.lookup_customers([1])
        with self.assertRaises(papi.ClientClosed):
            c.stats()
        c.close()  # idempotent

    def test_context_manager_closes_on_exception(self):
        with self.assertRaises(papi.InvalidInput):
            with papi.Client(source=source()) as c:
                c.lookup_customers([-3])
        self.assertTrue(c.closed)

    def test_logger_receives_library_lines(self):
        import logging

        class Collect(logging.Handler):
            def __init__(self):
                super().__init__(logging.DEBUG)
                self.lines = []

            def emit(self, record):
                self.lines.append((record.levelno, record.getMessage()))

        log = logging.getLogger("papi.test.logger")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        h = Collect()
        log.addHandler(h)
        try:
            with papi.Client(source=source(), logger=log, log_level=logging.DEBUG) as c:
                self.assertEqual(len(c.lookup_customers([1, 2])), 2)
            # The SQLite transport says at DEBUG which file it opened.
            self.assertTrue(any(lvl == logging.DEBUG and "sqlite" in msg for lvl, msg in h.lines),
                            h.lines)
            h.lines.clear()
            with papi.Client(source=source(), logger=log, log_level=logging.INFO) as c:
                c.lookup_customers([1])
            self.assertEqual([m for lvl, m in h.lines if lvl < logging.INFO], [])
        finally:
            log.removeHandler(h)


class ThreadTest(unittest.TestCase):
    def test_many_threads_get_their_own_rows(self):
        errors = []
        with papi.Client(source=source()) as c:
            def work(t):
                try:
                    for i in range(150):
                        ident = 1 + (i * 13 + t * 101) % 2500
                        rows = c.lookup_customers([ident, ident + 1])
                        if [r["C_CUSTOMER_SK"] for r in rows] != [ident, ident + 1]:
                            errors.append("thread %d: wrong rows for %d" % (t, ident))
                except Exception as exc:  # reported below
                    errors.append(repr(exc))
            threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            self.assertEqual(c.stats()["lookups"], 8 * 150)
        self.assertEqual(errors, [])

    def test_error_detail_is_per_call(self):
        # Each thread's failure must carry its own bad item: no detail shared between threads.
        mixups = []
        with papi.Client(source=source()) as c:
            def work(t):
                bad = "bad%dx" % t
                for _ in range(100):
                    try:
                        c.lookup("customer", ["1", bad])
                        mixups.append("thread %d: no error" % t)
                    except papi.InvalidInput as e:
                        if bad not in e.detail:
                            mixups.append("thread %d got %r" % (t, e.detail))
                    rows = c.lookup_customers([t + 1])
                    if rows[0]["C_CUSTOMER_SK"] != t + 1:
                        mixups.append("thread %d: wrong row" % t)
            threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
        self.assertEqual(mixups, [])

    def test_close_waits_for_running_lookups(self):
        c = papi.Client(source=source())
        started = threading.Event()
        outcomes = []

        def work():
            n = 0
            try:
                while True:
                    c.lookup_customers([1 + n % 100])
                    n += 1
                    started.set()
            except papi.ClientClosed:
                outcomes.append(n)
            except Exception as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for th in threads:
            th.start()
        self.assertTrue(started.wait(30))
        c.close()
        for th in threads:
            th.join(30)
        self.assertEqual(len(outcomes), 4)
        self.assertTrue(all(isinstance(n, int) and n >= 0 for n in outcomes), outcomes)
        self.assertTrue(any(n > 0 for n in outcomes))


if __name__ == "__main__":
    unittest.main()
