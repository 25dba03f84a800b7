#!/usr/bin/python3
"""Sources in a chain (issue 10): papi-httpd with `--source sqlite:<replica>,snowflake`, the
replica made by `papi sync` from the strict SQL API emulator, which then gains rows the replica
lacks. Counted at the warehouse (the emulator's wh_statements and wh_batches: the ids each
statement asked for): ids the replica holds cost no statement; a new id goes to the warehouse
alone; an id absent from both is asked once, then answered by the negative cache. A first source
that fails (a demo database without the dataset's table) falls through to the warehouse; a replica
of another dataset is skipped for it (holds()). A bad chain is refused at start (exit 3).

Needs PAPI_HTTPD, PAPI_CLI, SF_EMULATOR, PAPI_TEST_TMP (set by meson)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httpd"))
import harness  # noqa: E402  (papi-httpd on a free port, HTTP helpers)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "emulator"))
from launch import Emulator  # noqa: E402  (the SQL API emulator on a free port)

CLI = os.environ.get("PAPI_CLI", "")
EMULATOR = os.environ.get("SF_EMULATOR", "")
PAT = "chain-pat-0123456789"
ROWS = 1500  # ids 1..1500 in the warehouse and in the replica
NEW_IDS = (1501, 1502)  # inserted into the warehouse after the sync
ABSENT = 999001
DATASETS = {"datasets": [  # with the built-in customer
    {"name": "product", "table": "API.DATA.PRODUCTS", "key": "P_ID",
     "columns": [{"name": "P_ID", "type": "number"}, {"name": "P_NAME", "type": "text"}]}]}

ENV = {}


def snowflake_env(port):
    return {"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_HOST": "127.0.0.1",
            "SNOWFLAKE_PORT": str(port), "SNOWFLAKE_PROTOCOL": "http", "SNOWFLAKE_TOKEN": PAT,
            "SNOWFLAKE_AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN"}


def write_datasets(d):
    path = os.path.join(d, "datasets.json")
    with open(path, "w") as f:
        json.dump(DATASETS, f)
    return path


def setUpModule():
    if not (CLI and EMULATOR and harness.HTTPD):
        raise unittest.SkipTest("PAPI_CLI, SF_EMULATOR and PAPI_HTTPD are needed")
    d = harness.tmpdir()
    ENV["dir"] = d
    wh = os.path.join(d, "warehouse.db")
    subprocess.run([CLI, "demo-db", wh, "--rows", str(ROWS)], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    con = sqlite3.connect(wh)
    con.execute("CREATE TABLE products (P_ID INTEGER PRIMARY KEY, P_NAME TEXT)")
    con.executemany("INSERT INTO products VALUES (?, ?)", [(i, "p%d" % i) for i in range(1, 51)])
    con.commit()
    con.close()
    ENV["datasets"] = write_datasets(d)
    ENV["emu"] = Emulator(["--db", wh, "--pat", PAT, "--rows-per-partition", "400"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
    env.update(snowflake_env(ENV["emu"].port))
    env["PAPI_DATASETS"] = ENV["datasets"]
    ENV["replica"] = os.path.join(d, "replica.db")
    p = subprocess.run([CLI, "sync", "--dataset", "customer", "--to", ENV["replica"]],
                       capture_output=True, text=True, timeout=120, env=env)
    if p.returncode != 0:
        raise RuntimeError("papi sync failed: " + p.stderr)
    assert json.loads(p.stdout)["rows"] == ROWS
    # the warehouse moves on: customers the replica does not hold yet
    con = sqlite3.connect(wh)
    for new in NEW_IDS:
        con.execute("INSERT INTO hybrid_customer SELECT ? AS C_CUSTOMER_SK, C_CUSTOMER_ID, "
                    "C_CURRENT_CDEMO_SK, C_CURRENT_HDEMO_SK, C_CURRENT_ADDR_SK, "
                    "C_FIRST_SHIPTO_DATE_SK, C_FIRST_SALES_DATE_SK, C_SALUTATION, C_FIRST_NAME, "
                    "C_LAST_NAME, C_PREFERRED_CUST_FLAG, C_BIRTH_DAY, C_BIRTH_MONTH, "
                    "C_BIRTH_YEAR, C_BIRTH_COUNTRY, C_LOGIN, C_EMAIL_ADDRESS, "
                    "C_LAST_REVIEW_DATE FROM hybrid_customer WHERE C_CUSTOMER_SK = 1", (new,))
    con.commit()
    con.close()
    # a demo database with no products table: a first source that fails for that dataset
    ENV["demo"] = os.path.join(d, "demo.db")
    subprocess.run([CLI, "demo-db", ENV["demo"], "--rows", "10"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)


def tearDownModule():
    if "emu" in ENV:
        ENV["emu"].close()
    shutil.rmtree(ENV.get("dir", ""), ignore_errors=True)


class Chain(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.emu = ENV["emu"]
        self.emu.reset()

    def server(self, source, *flags):
        env = snowflake_env(self.emu.port)
        env["PAPI_DATASETS"] = ENV["datasets"]
        s = harness.Server(["--access-log", "0"] + list(flags), env=env, source=source)
        self.addCleanup(s.stop)
        return s

    def ids_of(self, s, path):
        st, _, rows = s.get_json(path)
        self.assertEqual(st, 200, rows)
        return [r.get("C_CUSTOMER_SK", r.get("P_ID")) for r in rows]

    def statements(self):
        return self.emu.counters()["wh_statements"]

    def batches(self):
        return self.emu.counters()["wh_batches"]

    def test_replica_ids_cost_no_statement(self):
        s = self.server("sqlite:%s,snowflake" % ENV["replica"])
        self.assertEqual(self.ids_of(s, "/customer/1"), [1])
        self.assertEqual(self.ids_of(s, "/customer/1500,7,700"), [1500, 7, 700])
        for i in range(20, 60):
            self.assertEqual(self.ids_of(s, "/customer/%d" % i), [i])
        self.assertEqual(self.statements(), 0)

    def test_new_and_absent_ids_through_the_warehouse(self):
        s = self.server("sqlite:%s,snowflake" % ENV["replica"])
        got = self.ids_of(s, "/customer/3,%d,%d,%d" % (NEW_IDS[0], ABSENT, 4))
        self.assertEqual(got, [3, NEW_IDS[0], 4])
        # only the ids the replica lacked reached the warehouse, in one statement
        self.assertEqual([sorted(b) for b in self.batches()],
                         [sorted([str(NEW_IDS[0]), str(ABSENT)])])
        self.assertEqual(self.statements(), 1)
        # cached: the new row and the absent id (negative entry) ask nobody again
        self.assertEqual(self.ids_of(s, "/customer/%d,%d" % (NEW_IDS[0], ABSENT)), [NEW_IDS[0]])
        self.assertEqual(self.ids_of(s, "/customer/%d" % ABSENT), [])
        self.assertEqual(self.statements(), 1)
        m = s.metrics()
        self.assertEqual(m.get("papi_cache_negative_hits_total"), 2.0)
        # another new id alone: one statement of that id
        self.assertEqual(self.ids_of(s, "/customer/%d" % NEW_IDS[1]), [NEW_IDS[1]])
        self.assertEqual(self.batches()[1:], [[str(NEW_IDS[1])]])

    def test_failing_first_source_falls_through(self):
        # the demo database has no products table: each product fetch fails there, and the ids
        # go on to the warehouse; the failure is logged once, not per miss
        s = self.server("sqlite:%s,snowflake" % ENV["demo"])
        st, _, rows = s.get_json("/product/5,6")
        self.assertEqual(st, 200, rows)
        self.assertEqual([r["P_ID"] for r in rows], [5, 6])
        st, _, rows = s.get_json("/product/7")
        self.assertEqual(st, 200, rows)
        self.assertEqual(self.batches(), [["5", "6"], ["7"]])
        log = s.stderr()
        self.assertEqual(log.count("source 1 (sqlite) failed"), 1, log)
        # customers the demo database holds never reach the warehouse
        self.assertEqual(self.ids_of(s, "/customer/1,2"), [1, 2])
        self.assertEqual(self.statements(), 2)

    def test_replica_of_another_dataset_is_skipped(self):
        s = self.server("sqlite:%s,snowflake" % ENV["replica"])
        st, _, rows = s.get_json("/product/5")
        self.assertEqual(st, 200, rows)
        self.assertEqual([r["P_ID"] for r in rows], [5])
        self.assertEqual(self.batches(), [["5"]])
        self.assertNotIn("failed", s.stderr())

    def test_bad_chains_refused_at_start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
        for source, msg in (("sqlite:%s," % ENV["replica"], "source 2 is empty"),
                            ("sqlite:%s,bogus" % ENV["replica"], "source 2: unknown kind"),
                            ("snowflake,snowflake", "source 2 repeats source 1"),
                            ("sqlite:a,sqlite:b,sqlite:c,sqlite:d,snowflake",
                             "more than 4 sources")):
            p = subprocess.run([CLI, "lookup", "--source", source, "1"], capture_output=True,
                               text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 3, (source, p.stderr))
            self.assertIn(msg, p.stderr)
            self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
