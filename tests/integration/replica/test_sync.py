#!/usr/bin/python3
"""`papi sync` against the strict SQL API emulator (issue 10): a sync of many partitions equals
the table, row for row, in one statement; a sync killed with SIGKILL in the middle of a partition,
or failing on one, leaves the old file byte for byte; an incremental sync picks up the rows
updated (and inserted) since, and the watermark moves on; each bad input exits 3 with a clear
message, no statement sent and nothing overwritten; the sqlite source refuses a replica of
another dataset or shape at open. Progress goes to stderr on a terminal only (a pty here), and
stdout carries one JSON line whose fields are checked.

Needs PAPI (the papi binary); the emulator is tests/emulator/sqlapi_emulator.py."""
import glob
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "emulator"))
from launch import Emulator  # noqa: E402  (the SQL API emulator on a free port)

PAPI = os.environ["PAPI"]
PAT = "pat-replica-0123456789"
ROWS = 5000
PER_PARTITION = 700  # 8 partitions
PRODUCTS = 1200
DATASETS = {"datasets": [{
    "name": "product", "table": "API.DATA.PRODUCTS", "key": "P_ID", "watermark": "P_UPDATED",
    "columns": [{"name": "P_ID", "type": "number"}, {"name": "P_NAME", "type": "text"},
                {"name": "P_PRICE", "type": "text"}, {"name": "P_UPDATED", "type": "timestamp"}]}]}


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def rows(path, sql):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class Env:
    """The demo database with a products table (an update time as the watermark), the datasets
    files, and one emulator serving them in partitions of PER_PARTITION rows."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="papi-replica-")
        self.db = os.path.join(self.dir, "warehouse.db")
        subprocess.run([PAPI, "demo-db", self.db, "--rows", str(ROWS)], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE products (P_ID INTEGER PRIMARY KEY, P_NAME TEXT, P_PRICE TEXT,"
                    " P_UPDATED TEXT)")
        con.executemany("INSERT INTO products VALUES (?, ?, ?, ?)",
                        [(i, "product %d" % i, "%d.25" % i,
                          "2024-01-01T%02d:%02d:00.000Z" % (i // 60 % 24, i % 60))
                         for i in range(1, PRODUCTS + 1)])
        con.commit()
        con.close()
        self.datasets = self.write("datasets.json", DATASETS)
        narrow = json.loads(json.dumps(DATASETS))
        del narrow["datasets"][0]["columns"][2]  # no P_PRICE: another shape
        self.narrow = self.write("datasets-narrow.json", narrow)
        bad = json.loads(json.dumps(DATASETS))
        bad["datasets"][0]["watermark"] = "UPDATED_AT"  # not a column of the dataset
        self.bad_watermark = self.write("datasets-bad-watermark.json", bad)
        self.emulator = Emulator(["--db", self.db, "--pat", PAT,
                                  "--rows-per-partition", str(PER_PARTITION)], quiet=False)
        self.port = self.emulator.port

    def write(self, name, obj):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(obj, f)
        return path

    def close(self):
        self.emulator.close()
        shutil.rmtree(self.dir, ignore_errors=True)


ENV = None


def emu(path, body=None):
    url = "http://127.0.0.1:%d%s" % (ENV.port, path)
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=20) as r:
        return json.loads(r.read())


def counters():
    return emu("/_emulator/counters")


def papi_env(**extra):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("SNOWFLAKE_") and not k.startswith("PAPI_")}
    e.update({"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_HOST": "127.0.0.1",
              "SNOWFLAKE_PORT": str(ENV.port), "SNOWFLAKE_PROTOCOL": "http",
              "SNOWFLAKE_TOKEN": PAT, "PAPI_DATASETS": ENV.datasets})
    e.update(extra)
    return e


def papi(*args, **extra):
    return subprocess.run([PAPI, *args], capture_output=True, text=True, timeout=120,
                          env=papi_env(**extra))


def path(name):
    return os.path.join(ENV.dir, name)


class Sync(unittest.TestCase):
    def setUp(self):
        emu("/_emulator/reset", {})

    def sync(self, *args, **extra):
        return papi("sync", *args, **extra)

    def summary(self, p):
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        return json.loads(lines[0])

    def test_multi_partition_sync_equals_the_table(self):
        target = path("customers.db")
        p = self.sync("--to", target)
        s = self.summary(p)
        self.assertEqual(p.stderr, "")  # not a terminal: no progress
        c = counters()
        self.assertEqual(c["scans"], 1)
        self.assertEqual(c["statements"], 1)  # one statement for the whole table
        self.assertEqual(c["partitions_served"], ROWS // PER_PARTITION)  # 1..7 fetched
        self.assertEqual(s["dataset"], "customer")
        self.assertEqual(s["file"], target)
        self.assertEqual(s["source"], "snowflake")
        self.assertEqual(s["rows"], ROWS)
        self.assertEqual(s["rows_total"], ROWS)
        self.assertEqual(s["partitions"], -(-ROWS // PER_PARTITION))
        self.assertEqual(s["query_id"], c["records"][-1]["handle"])
        self.assertEqual(s["bytes"], os.path.getsize(target))
        self.assertIs(s["incremental"], False)
        self.assertIsNone(s["watermark"])
        self.assertIsInstance(s["seconds"], float)
        # every row, every cell
        sql = "SELECT * FROM hybrid_customer ORDER BY C_CUSTOMER_SK"
        self.assertEqual(rows(target, sql), rows(ENV.db, sql))
        meta = rows(target, "SELECT dataset, source, query_id, rows FROM papi_replica_meta")
        self.assertEqual(meta, [("customer", "snowflake", s["query_id"], ROWS)])
        # the replica answers as the warehouse does, without it
        before = counters()["statements"]
        a = papi("lookup", "1885,2,4999,77777", PAPI_SOURCE="sqlite:" + target)
        b = papi("lookup", "1885,2,4999,77777")
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout, b.stdout)
        self.assertEqual(counters()["statements"], before + 1)  # b's only

    def test_progress_only_on_a_terminal(self):
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([PAPI, "sync", "--to", path("tty.db")], stdout=subprocess.PIPE,
                                    stderr=slave, env=papi_env(), text=True)
            os.close(slave)
            out, _ = proc.communicate(timeout=120)
            err = b""
            while select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            os.close(master)
        self.assertEqual(proc.returncode, 0, err)
        text = err.decode()
        self.assertIn("papi: sync: ", text)
        self.assertIn("rows, partition 8 of 8", text)
        self.assertIn("rows/s", text)
        self.assertEqual(len(out.splitlines()), 1)
        self.assertEqual(json.loads(out)["rows"], ROWS)

    def wait_for(self, key, at_least, seconds=60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if counters()[key] >= at_least:
                return
            time.sleep(0.05)
        self.fail("emulator counter %s stayed below %d" % (key, at_least))

    def test_a_sync_killed_mid_partition_leaves_the_old_file(self):
        target = path("killed.db")
        self.summary(self.sync("--to", target))
        before = sha(target)
        emu("/_emulator/faults", {"pause_partition": 3, "hang_ms": 60000})
        proc = subprocess.Popen([PAPI, "sync", "--to", target], env=papi_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.wait_for("partitions_paused", 1)  # half of partition 3 received
            temps = glob.glob(target + ".tmp-%d-*" % proc.pid)
            self.assertEqual(len(temps), 1)  # partitions 0..2 were being written there
            self.assertGreater(os.path.getsize(temps[0]), 0)
            proc.kill()
            proc.wait(timeout=20)
        finally:
            emu("/_emulator/faults", {"pause_partition": None})
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertEqual(sha(target), before)
        # the next sync replaces the file and removes what the killed one left
        s = self.summary(self.sync("--to", target))
        self.assertEqual(s["rows"], ROWS)
        self.assertEqual(glob.glob(target + ".tmp-*"), [])

    def test_a_sync_failing_on_a_partition_leaves_the_old_file(self):
        target = path("failed.db")
        self.summary(self.sync("--to", target))
        before = sha(target)
        emu("/_emulator/faults", {"fail_partition": 4})
        try:
            p = self.sync("--to", target)
        finally:
            emu("/_emulator/faults", {"fail_partition": None})
        self.assertEqual(p.returncode, 4, p.stderr)  # the source failed
        self.assertIn("Partition not found", p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(counters()["partitions_failed"], 1)
        self.assertEqual(sha(target), before)
        self.assertEqual(glob.glob(target + ".tmp-*"), [])

    def test_incremental_sync_picks_up_updated_rows(self):
        target = path("products.db")
        s = self.summary(self.sync("--dataset", "product", "--to", target))
        self.assertEqual(s["rows"], PRODUCTS)
        self.assertEqual(s["watermark_column"], "P_UPDATED")
        first = s["watermark"]
        self.assertEqual(first, max(r[0] for r in rows(ENV.db, "SELECT P_UPDATED FROM products")))
        con = sqlite3.connect(ENV.db)
        con.execute("UPDATE products SET P_NAME = 'renamed ' || P_ID, P_PRICE = NULL, "
                    "P_UPDATED = '2024-03-01T00:00:0' || (P_ID % 7) || '.000Z' "
                    "WHERE P_ID IN (3, 600, 1200)")
        con.execute("INSERT INTO products VALUES (1201, 'new', '9.99', '2024-03-01T00:00:08.000Z')")
        con.commit()
        con.close()
        emu("/_emulator/reset", {})
        s = self.summary(self.sync("--dataset", "product", "--to", target, "--incremental"))
        c = counters()
        self.assertEqual(c["scans"], 1)
        self.assertEqual(c["bound_values"], 1)  # the watermark, bound
        self.assertIs(s["incremental"], True)
        self.assertEqual(s["rows"], 4)
        self.assertEqual(s["rows_total"], PRODUCTS + 1)
        self.assertEqual(s["watermark"], "2024-03-01T00:00:08.000Z")
        self.assertGreater(s["watermark"], first)
        sql = "SELECT * FROM products ORDER BY P_ID"
        self.assertEqual(rows(target, sql), rows(ENV.db, sql))
        self.assertEqual(rows(target, "SELECT watermark, incremental, rows FROM papi_replica_meta"),
                         [("2024-03-01T00:00:08.000Z", 1, PRODUCTS + 1)])

    def assert_refused(self, p, *fragments):
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(p.stdout, "")
        for f in fragments:
            self.assertIn(f, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)

    def test_bad_inputs_exit_3_and_overwrite_nothing(self):
        products = path("bad-products.db")
        customers = path("bad-customers.db")
        self.summary(self.sync("--dataset", "product", "--to", products))
        self.summary(self.sync("--to", customers))
        kept = {f: sha(f) for f in (products, customers)}
        emu("/_emulator/reset", {})

        self.assert_refused(self.sync("--to", path("missing/r.db")), "does not exist")
        self.assertFalse(os.path.exists(path("missing")))
        self.assert_refused(self.sync("--to", products),
                            "is a replica of dataset product, not of customer",
                            "was not overwritten")
        self.assert_refused(self.sync("--dataset", "product", "--to", products,
                                      PAPI_DATASETS=ENV.narrow),
                            "another shape", "P_PRICE")
        self.assert_refused(self.sync("--dataset", "product", "--to", products,
                                      PAPI_DATASETS=ENV.bad_watermark),
                            "watermark column UPDATED_AT is not among the columns")
        self.assert_refused(self.sync("--to", customers, "--incremental"),
                            "needs a watermark column")
        self.assert_refused(self.sync("--to", ENV.db), "not a papi replica")
        with open(customers, "rb") as f:
            data = f.read()
        cut = path("cut.db")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        self.assert_refused(self.sync("--to", cut), "truncated")
        corrupt = path("corrupt.db")
        with open(corrupt, "wb") as f:
            f.write(data[:8 * 4096] + b"\xa5" * 4096 + data[9 * 4096:])
        self.assert_refused(self.sync("--to", corrupt), "corrupt")
        for f, digest in kept.items():
            self.assertEqual(sha(f), digest, f)
        self.assertEqual(sha(cut), hashlib.sha256(data[:len(data) // 2]).hexdigest())
        self.assertEqual(counters()["statements"], 0)  # refused before any statement

    def test_the_sqlite_source_refuses_a_replica_of_another_dataset(self):
        products = path("served-products.db")
        self.summary(self.sync("--dataset", "product", "--to", products))
        p = papi("lookup", "1", PAPI_SOURCE="sqlite:" + products, PAPI_DATASETS="")
        self.assert_refused(p, "served-products.db",
                            "replica of dataset product, which this client does not serve")
        p = papi("lookup", "--dataset", "product", "1", PAPI_SOURCE="sqlite:" + products,
                 PAPI_DATASETS=ENV.narrow)
        self.assert_refused(p, "another shape")
        p = papi("lookup", "--dataset", "product", "1", PAPI_SOURCE="sqlite:" + products)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('"P_ID":1,', p.stdout)


def main():
    global ENV
    ENV = Env()
    try:
        r = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    finally:
        ENV.close()
    sys.exit(0 if r.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
