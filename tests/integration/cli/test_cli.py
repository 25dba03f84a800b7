#!/usr/bin/python3
"""The real `papi` binary end to end: demo-db (generated and CSV), lookups and exit codes.

Usage: test_cli.py PATH/TO/papi   (meson passes the built binary)
"""
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import unittest

PAPI = None
COLUMNS = [
    "C_CUSTOMER_SK", "C_CUSTOMER_ID", "C_CURRENT_CDEMO_SK", "C_CURRENT_HDEMO_SK",
    "C_CURRENT_ADDR_SK", "C_FIRST_SHIPTO_DATE_SK", "C_FIRST_SALES_DATE_SK", "C_SALUTATION",
    "C_FIRST_NAME", "C_LAST_NAME", "C_PREFERRED_CUST_FLAG", "C_BIRTH_DAY", "C_BIRTH_MONTH",
    "C_BIRTH_YEAR", "C_BIRTH_COUNTRY", "C_LOGIN", "C_EMAIL_ADDRESS", "C_LAST_REVIEW_DATE",
]
NUMBER_COLUMNS = {0, 2, 3, 4, 5, 6, 11, 12, 13}


def run(*args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PAPI_") and not k.startswith("SNOWFLAKE_")}
    env.update(env_extra or {})
    return subprocess.run([PAPI, *args], capture_output=True, timeout=timeout, env=env)


def rows_of(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT * FROM hybrid_customer ORDER BY C_CUSTOMER_SK").fetchall()
    finally:
        con.close()


def table_hash(path):
    return hashlib.sha256(repr(rows_of(path)).encode()).hexdigest()


def csv_field(value):
    """RFC 4180: NULL is an empty unquoted field; text is quoted, quotes doubled."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace('"', '""') + '"'


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="papi-cli-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def demo(self, name="demo.db", *extra):
        p = self.path(name)
        r = run("demo-db", p, *extra, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return p


class DemoDb(Base):
    def test_default_is_ten_thousand_tpcds_shaped_customers(self):
        p = self.demo()
        con = sqlite3.connect(p)
        cols = [c[1] for c in con.execute("PRAGMA table_info(hybrid_customer)")]
        self.assertEqual(cols, COLUMNS)
        pk = [c[1] for c in con.execute("PRAGMA table_info(hybrid_customer)") if c[5]]
        self.assertEqual(pk, ["C_CUSTOMER_SK"])
        n, lo, hi = con.execute(
            "SELECT count(*), min(C_CUSTOMER_SK), max(C_CUSTOMER_SK) FROM hybrid_customer").fetchone()
        self.assertEqual((n, lo, hi), (10000, 1, 10000))
        ids = dict(con.execute(
            "SELECT C_CUSTOMER_SK, C_CUSTOMER_ID FROM hybrid_customer WHERE C_CUSTOMER_SK IN (1, 2, 17, 10000)"))
        self.assertEqual(ids[1], "AAAAAAAABAAAAAAA")
        self.assertEqual(ids[2], "AAAAAAAACAAAAAAA")
        self.assertEqual(ids[17], "AAAAAAAABBAAAAAA")
        self.assertEqual(ids[10000], "AAAAAAAAABHCAAAA")  # 10000 = 0x2710, low digit first
        firsts = {r[0] for r in con.execute("SELECT DISTINCT C_FIRST_NAME FROM hybrid_customer")}
        lasts = {r[0] for r in con.execute("SELECT DISTINCT C_LAST_NAME FROM hybrid_customer")}
        self.assertTrue(any(f and not f.isascii() for f in firsts), firsts)
        self.assertTrue(any(l and "'" in l for l in lasts), lasts)
        self.assertTrue(any(l and not l.isascii() for l in lasts), lasts)
        self.assertIn(None, firsts)  # some NULLs in nullable columns
        logins, = con.execute("SELECT count(C_LOGIN) FROM hybrid_customer").fetchone()
        self.assertEqual(logins, 0)  # NULL in every TPC-DS row
        flags = {r[0] for r in con.execute("SELECT DISTINCT C_PREFERRED_CUST_FLAG FROM hybrid_customer")}
        self.assertEqual(flags, {"Y", "N", None})
        sal = {r[0] for r in con.execute("SELECT DISTINCT C_SALUTATION FROM hybrid_customer")}
        self.assertTrue({"Mr.", "Mrs.", "Ms.", "Dr."} <= sal, sal)
        for email, in con.execute("SELECT C_EMAIL_ADDRESS FROM hybrid_customer WHERE C_EMAIL_ADDRESS IS NOT NULL LIMIT 500"):
            self.assertRegex(email, r"^[A-Za-z]+\.[A-Za-z]+@[a-z]+\.com$")
        bad_dates = con.execute(
            "SELECT count(*) FROM hybrid_customer WHERE C_BIRTH_DAY IS NOT NULL AND "
            "date(printf('%04d-%02d-%02d', C_BIRTH_YEAR, C_BIRTH_MONTH, C_BIRTH_DAY)) IS NULL").fetchone()[0]
        self.assertEqual(bad_dates, 0)
        # TPC-DS's date surrogate: a Julian day number written as text ("2452508"), not a date
        for d, in con.execute("SELECT C_LAST_REVIEW_DATE FROM hybrid_customer WHERE C_LAST_REVIEW_DATE IS NOT NULL LIMIT 200"):
            self.assertRegex(d, r"^\d{7}$")
            self.assertTrue(2452000 <= int(d) <= 2453100, d)
        types = {r[0] for r in con.execute("SELECT DISTINCT typeof(C_LAST_REVIEW_DATE) FROM hybrid_customer")}
        self.assertEqual(types, {"text", "null"})
        con.close()

    def test_deterministic_bytes_and_rows_independent_of_count(self):
        a = self.demo("a.db")
        b = self.demo("b.db")
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())
        small = self.demo("small.db", "--rows", "100")
        self.assertEqual(rows_of(small), rows_of(a)[:100])

    def test_a_million_rows(self):
        p = self.demo("million.db", "--rows", "1000000")
        con = sqlite3.connect(p)
        self.assertEqual(con.execute("SELECT count(*), max(C_CUSTOMER_SK) FROM hybrid_customer").fetchone(),
                         (1000000, 1000000))
        con.close()
        self.assertEqual([x for x in os.listdir(self.dir) if "tmp" in x], [])

    def test_bad_arguments(self):
        for args in (["--rows", "0"], ["--rows", "abc"], ["--rows", "-5"], ["--rows"],
                     ["--rows", "5", "--csv", "x.csv"], ["--bogus"]):
            r = run("demo-db", self.path("x.db"), *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.startswith(b"papi: "), r.stderr)
        self.assertEqual(run("demo-db").returncode, 2)
        self.assertFalse(os.path.exists(self.path("x.db")))

    def test_unwritable_target_is_an_io_error(self):
        r = run("demo-db", self.path("no/such/dir/x.db"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"no/such/dir", r.stderr)


class Csv(Base):
    def write(self, name, text, bom=False):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode())
        return p

    def test_round_trip_of_a_generated_table(self):
        src = self.demo("src.db", "--rows", "2000")
        rows = rows_of(src)
        order = list(reversed(range(18)))  # any header order is accepted
        lines = [",".join(COLUMNS[i].lower() for i in order)]
        lines += [",".join(csv_field(r[i]) for i in order) for r in rows]
        csv_path = self.write("export.csv", "\r\n".join(lines) + "\r\n", bom=True)
        dst = self.path("dst.db")
        r = run("demo-db", dst, "--csv", csv_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"2000", r.stdout)
        self.assertEqual(rows_of(dst), rows)

    def test_quoting_nulls_and_empty_strings(self):
        header = ",".join(COLUMNS)
        rec = ['7', '"AAAAAAAAHAAAAAAA"', "", "", "", "", "", '""', '"Zoë"',
               '"O\'Brien, ""the elder""\nof Cork"', "N", "1", "2", "1980", "", "", "", ""]
        csv_path = self.write("q.csv", header + "\n" + ",".join(rec) + "\n\n")
        dst = self.path("q.db")
        r = run("demo-db", dst, "--csv", csv_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        (row,) = rows_of(dst)
        self.assertEqual(row[0], 7)
        self.assertIsNone(row[2])
        self.assertEqual(row[7], "")  # "" is an empty string, not NULL
        self.assertEqual(row[8], "Zoë")
        self.assertEqual(row[9], "O'Brien, \"the elder\"\nof Cork")
        self.assertEqual(row[13], 1980)
        self.assertIsNone(row[17])

    def test_malformed_lines_are_named_and_nothing_is_written(self):
        good = self.demo("keep.db", "--rows", "50")
        before = table_hash(good)
        header = ",".join(COLUMNS)

        def rec(key, **over):
            f = [str(key), '"AAAA"', "1", "2", "3", "4", "5", '"Mr."', '"Ann"', '"Lee"', '"Y"',
                 "1", "2", "1970", '"CHILE"', "", '"a@b.com"', '"2452276"']
            for i, v in over.items():
                f[int(i[1:])] = v
            return ",".join(f)

        cases = [
            ("wrong field count", [rec(1), rec(2), "3,AAAA,1"], "line 4", "expected 18 fields"),
            ("unterminated quote", [rec(1), rec(2, c17='"2002')], "line 3", "never closed"),
            ("number column", [rec(1), rec(2), rec(3), rec(4, c13="19x0")], "line 5", "C_BIRTH_YEAR"),
            ("duplicate key", [rec(1), rec(2), rec(3), rec(4), rec(2)], "line 6", "duplicate"),
            ("text after quote", [rec(1, c8='"Ann"x')], "line 2", "after a closing quote"),
            ("empty key", [rec(1), rec("")], "line 3", "C_CUSTOMER_SK"),
            ("negative key", [rec(-1)], "line 2", "C_CUSTOMER_SK"),
            ("quote in field", [rec(1, c8='An"n')], "line 2", "quote"),
            ("bad utf-8", [rec(1, c8='"\udcff"')], "line 2", "UTF-8"),
        ]
        for name, records, where, what in cases:
            with self.subTest(name):
                text = header + "\n" + "\n".join(records) + "\n"
                p = self.path("bad.csv")
                with open(p, "wb") as f:
                    f.write(text.encode("utf-8", "surrogateescape"))
                r = run("demo-db", good, "--csv", p)
                self.assertEqual(r.returncode, 2, r.stderr)
                err = r.stderr.decode()
                self.assertTrue(err.startswith("papi: "), err)
                self.assertIn(where + ":", err)
                self.assertIn(what, err)
                self.assertEqual(table_hash(good), before)  # all or nothing
        for header_text, what in ((header.replace("C_LOGIN", "C_LOGON"), "header field 16"),
                                  (header.replace(",C_LOGIN", ""), "lacks column C_LOGIN"),
                                  (header + ",C_LOGIN", "appears twice"),
                                  ("", "line 1")):
            with self.subTest(header_text[-20:]):
                p = self.write("h.csv", header_text + ("\n" if header_text else ""))
                r = run("demo-db", good, "--csv", p)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("line 1", r.stderr.decode())
                self.assertIn(what, r.stderr.decode())
        # no temporary file is left behind
        self.assertEqual(sorted(os.listdir(self.dir)), ["bad.csv", "h.csv", "keep.db"])

    def test_missing_csv_file(self):
        r = run("demo-db", self.path("x.db"), "--csv", self.path("absent.csv"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(os.path.exists(self.path("x.db")))


class Lookup(Base):
    def setUp(self):
        super().setUp()
        self.db = self.demo()
        self.src = "sqlite:" + self.db

    def test_success_prints_the_json_answer(self):
        r = run("lookup", "--source", self.src, "--cache", "none", "1885,1,2,99999")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(b"]\n"))
        self.assertEqual(r.stderr, b"")
        rows = json.loads(r.stdout)
        self.assertEqual([x["C_CUSTOMER_SK"] for x in rows], [1885, 1, 2])  # asked order, 99999 absent
        self.assertEqual(list(rows[0].keys()), COLUMNS)
        db_row = sqlite3.connect(self.db).execute(
            "SELECT * FROM hybrid_customer WHERE C_CUSTOMER_SK = 1885").fetchone()
        self.assertEqual([rows[0][c] for c in COLUMNS], list(db_row))
        self.assertEqual(rows[1]["C_CUSTOMER_ID"], "AAAAAAAABAAAAAAA")
        # the shape of the real table: C_LOGIN null, C_LAST_REVIEW_DATE a Julian day as text
        self.assertIn(b'"C_LOGIN":null,', r.stdout)
        self.assertRegex(r.stdout, rb'"C_LAST_REVIEW_DATE":"24\d{5}"}')

    def test_none_found_is_an_empty_array(self):
        r = run("lookup", "--source", self.src, "424242")
        self.assertEqual((r.returncode, r.stdout), (0, b"[]\n"), r.stderr)

    def test_flags_win_over_environment(self):
        env = {"PAPI_SOURCE": "sqlite:" + self.path("absent.db")}
        r = run("lookup", "1", env_extra=env)
        self.assertEqual(r.returncode, 3, r.stderr)
        r = run("lookup", "--source=" + self.src, "1", env_extra=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("lookup", "1", env_extra={"PAPI_SOURCE": self.src})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_input_exits_2(self):
        for ids in ("1;DROP TABLE x", ",,", "", "1,,2", "-1", "1 2", "%27"):
            with self.subTest(ids=ids):
                r = run("lookup", "--source", self.src, ids)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, b"")
                self.assertTrue(r.stderr.startswith(b"papi: "), r.stderr)
        self.assertEqual(rows_of(self.db)[0][0], 1)  # the table is still there
        self.assertEqual(run("lookup", "--source", self.src).returncode, 2)  # no ids
        self.assertEqual(run("lookup", "--no-such-option", "1", "1").returncode, 2)
        r = run("lookup", "--source", self.src, "--max-ids", "2", "1,2,3")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_unknown_dataset_exits_2(self):
        r = run("lookup", "--source", self.src, "--dataset", "nope", "1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"nope", r.stderr)

    def test_configuration_errors_exit_3(self):
        r = run("lookup", "--source", self.src, "--cache-ttl", "abc", "1")
        self.assertEqual(r.returncode, 3, r.stderr)
        r = run("lookup", "1", env_extra={"PAPI_SOURCE": self.src, "PAPI_CACHE_TTL": "-4"})
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"PAPI_CACHE_TTL", r.stderr)
        # a database path that does not exist is a configuration error, and is not created
        missing = self.path("missing.db")
        r = run("lookup", "--source", "sqlite:" + missing, "1")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(missing.encode(), r.stderr)
        self.assertIn(b"papi demo-db", r.stderr)
        self.assertFalse(os.path.exists(missing))

    def test_source_errors_exit_4(self):
        empty = self.path("empty.db")
        sqlite3.connect(empty).execute("CREATE TABLE other (x)").connection.close()
        r = run("lookup", "--source", "sqlite:" + empty, "1")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(b"no such table", r.stderr)

    def test_extra_dataset_with_text_keys(self):
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE stores (CODE TEXT PRIMARY KEY, CITY TEXT, SIZE INTEGER)")
        con.executemany("INSERT INTO stores VALUES (?, ?, ?)",
                        [("S-1", "Zürich", 120), ("S-2", None, 80)])
        con.commit()
        con.close()
        ds = self.path("datasets.json")
        with open(ds, "w") as f:
            json.dump({"datasets": [{"name": "store", "table": "api.data.STORES", "key": "CODE",
                                     "key_type": "text", "columns": [
                                         {"name": "CODE", "type": "text"},
                                         {"name": "CITY", "type": "text"},
                                         {"name": "SIZE", "type": "number"}]}]}, f)
        r = run("lookup", "--source", self.src, "--datasets", ds, "--dataset", "store",
                "S-2,S-1,S-9,x' OR '1'='1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [{"CODE": "S-2", "CITY": None, "SIZE": 80},
                                                {"CODE": "S-1", "CITY": "Zürich", "SIZE": 120}])


class Escaping(Base):
    """Messages from the library and the source reach a terminal: no control byte gets through
    (issue 13 A14), and a file given by mistake as the datasets file is never quoted (A13)."""

    def assert_printable_lines(self, stderr):
        self.assertTrue(stderr.endswith(b"\n"), stderr)
        for line in stderr[:-1].split(b"\n"):
            self.assertTrue(line.startswith((b"papi: ", b"usage: ")), stderr)
        text = stderr.decode("utf-8")  # strict: invalid UTF-8 would raise
        bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
        self.assertEqual(bad, [], stderr)

    def test_control_bytes_from_the_source_are_escaped(self):
        db = self.path("evil.db")
        con = sqlite3.connect(db)
        # the view's table does not exist: SQLite's message names it, control bytes and all
        con.execute('CREATE VIEW hybrid_customer AS SELECT * FROM '
                    '"evil\x1b[2J\r\npapi: forged\u009b31m\x7f\tname"')
        con.commit()
        con.close()
        for verbose in ([], ["-v"]):
            with self.subTest(verbose=verbose):
                r = run("lookup", *verbose, "--source", "sqlite:" + db, "--cache", "none", "1")
                self.assertEqual(r.returncode, 4, r.stderr)
                self.assertIn(rb"no such table: main.evil\x1b[2J\r\npapi: forged\u009b31m\x7f\tname",
                              r.stderr)
                self.assertEqual(r.stderr.count(b"papi: forged"), r.stderr.count(b"\\npapi: forged"))
                self.assert_printable_lines(r.stderr)

    def test_invalid_utf8_and_controls_in_a_path_are_escaped(self):
        missing = os.fsencode(self.dir) + b"/\xff\xfe\x1b]0;title\x07.db"
        r = run("lookup", b"--source", b"sqlite:" + missing, "1")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(rb"\xff\xfe\x1b]0;title\x07.db", r.stderr)
        self.assertIn(b"papi demo-db", r.stderr)
        self.assert_printable_lines(r.stderr)
        r = run("frobnicate\x1b[31m")
        self.assertEqual(r.returncode, 2)
        self.assertIn(rb"frobnicate\x1b[31m", r.stderr)
        self.assert_printable_lines(r.stderr)
        # cut to fit, never inside an escape or a character
        for junk in ("\x1b" * 300, "é" * 300, "x" * 100 + "\u009b" * 200):
            r = run("lookup", "--" + junk, "1")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"...\n", r.stderr)
            self.assert_printable_lines(r.stderr)

    def test_a_key_file_given_as_datasets_file_is_never_quoted(self):
        from cryptography.hazmat.primitives import serialization  # scripts/deps installs it
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        body = b"".join(pem.splitlines()[1:-1])
        db = self.demo("demo.db", "--rows", "10")
        for name, content in (("rsa_key.p8", pem), ("rsa_key.b64", body + b"\n")):
            with self.subTest(name):
                path = self.path(name)
                with open(path, "wb") as f:
                    f.write(content)
                r = run("lookup", "--source", "sqlite:" + db, "--datasets", path, "1")
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertIn(("datasets file %s: invalid JSON at line 1, column " % path).encode(),
                              r.stderr)
                shown = r.stderr.replace(path.encode(), b"")
                for word in (b"BEGIN", b"PRIVATE", b"-----", b"'"):
                    self.assertNotIn(word, shown)
                for i in range(len(body) - 6):
                    self.assertNotIn(body[i:i + 6], shown)
                self.assert_printable_lines(r.stderr)


class Misc(Base):
    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^papi \d+\.\d+\.\d+")
        r = run("help")
        self.assertEqual(r.returncode, 0)
        words = [b"lookup", b"demo-db", b"--source", b"PAPI_SOURCE"]
        if HAVE_SNOWFLAKE:  # a backend's options are listed when it is built in
            words.append(b"SNOWFLAKE_ACCOUNT")
        for word in words:
            self.assertIn(word, r.stdout)
        self.assertEqual(run().returncode, 2)
        r = run("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith(b"papi: "))

    def test_backend_not_built(self):
        """Without the snowflake backend (the minimal build) its commands and options are
        configuration errors saying so; with it, a missing key file is one too, but another."""
        cases = [["jwt"], ["fingerprint"], ["token", "--endpoint", "h.example"]]
        if not HAVE_SNOWFLAKE:  # with it, this would try to reach the account
            cases += [["lookup", "--source", "snowflake", "1"]]
        for args in cases:
            r = run(*args, env_extra={"SNOWFLAKE_PRIVATE_KEY_FILE": self.path("no-key.p8")})
            self.assertEqual(r.returncode, 3, (args, r.stderr))
            said = b"the snowflake backend is not built into this libpapi" in r.stderr
            self.assertEqual(said, not HAVE_SNOWFLAKE, (args, r.stderr))

    def test_option_of_a_backend_not_built(self):
        """A flag naming an option of a backend left out of the build says that the backend is
        not built in (as libpapi does), not "unknown option"; a typo stays a usage error. With
        the backend built, the same flags are taken (jwt then wants its key file)."""
        cases = [["jwt", "--snowflake-user", "u"], ["jwt", "--snowflake-account=x"]]
        if not HAVE_SNOWFLAKE:  # with it, a lookup would look the account up on the network
            cases += [["lookup", "--snowflake-account", "x", "1"],
                      ["lookup", "--snowflake-account=x", "1"]]
        for args in cases:
            r = run(*args)
            self.assertEqual(r.returncode, 3, (args, r.stderr))
            self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)
            key = args[1].split("=")[0][2:].encode()
            said = b"papi: " + key + b": the snowflake backend is not built into this libpapi"
            self.assertEqual(said in r.stderr, not HAVE_SNOWFLAKE, (args, r.stderr))
            self.assertNotIn(b"unknown option", r.stderr)
        r = run("lookup", "--snowflake-acount", "x", "1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"unknown option --snowflake-acount", r.stderr)

    def test_snowflake_commands_help_and_flags(self):
        """jwt, fingerprint and token use the tools' one parser: --help lists each command's
        own flags with the library's, and a bad value of one is bad input naming the flag."""
        for cmd, own in (("jwt", [b"--lifetime N", b"1..3600"]), ("fingerprint", []),
                         ("token", [b"--endpoint VALUE", b"--role VALUE"])):
            r = run(cmd, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(b"usage: papi " + cmd.encode()), r.stdout)
            for word in own + [b"--source VALUE", b"PAPI_SOURCE"]:
                self.assertIn(word, r.stdout, cmd)
            if HAVE_SNOWFLAKE:
                self.assertIn(b"SNOWFLAKE_PRIVATE_KEY_FILE", r.stdout)
        # "abc" once read as 0, the option's default: now refused before anything runs
        for bad in ("0", "3601", "abc", "-5", ""):
            r = run("jwt", "--lifetime", bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn(b"papi: jwt: --lifetime: a whole number from 1 to 3600 is required",
                          r.stderr)
        r = run("jwt", "--lifetime")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"a value is missing after --lifetime", r.stderr)
        r = run("token", "--role", "R")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--endpoint HOST is required", r.stderr)
        r = run("fingerprint", "stray")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_jwt_lifetime_flag(self):
        """--lifetime sets exp - iat of the JWT `papi jwt` mints (offline: no account reached);
        without the snowflake backend the command says it is not built in."""
        from cryptography.hazmat.primitives import serialization  # scripts/deps installs it
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = self.path("rsa_key.p8")
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        env = {"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "svc",
               "SNOWFLAKE_PRIVATE_KEY_FILE": path}
        for args, life in (([], 3540), (["--lifetime", "60"], 60), (["--lifetime=3600"], 3600)):
            r = run("jwt", *args, env_extra=env)
            if not HAVE_SNOWFLAKE:
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertIn(b"the snowflake backend is not built into this libpapi", r.stderr)
                continue
            import jwt as pyjwt  # python3-jwt, as above
            self.assertEqual(r.returncode, 0, r.stderr)
            claims = pyjwt.decode(r.stdout.strip(), options={"verify_signature": False})
            self.assertEqual(claims["exp"] - claims["iat"], life, args)

    def test_secrets_never_echoed(self):
        secret = "s3cr3t-token-value"
        r = run("lookup", "--source", "sqlite:" + self.path("absent.db"),
                "--snowflake-token", secret, "1")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(secret.encode(), r.stdout + r.stderr)


HAVE_SNOWFLAKE = os.environ.get("PAPI_TEST_HAVE_SNOWFLAKE", "1") == "1"

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_cli.py PATH/TO/papi")
    PAPI = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
