#!/usr/bin/python3
"""One option system for both tools (issue 11): `papi --help` and `papi-httpd --help` list every
libpapi option, as libpapi itself enumerates them (list_options.c), with its env var; both list
their own options with env var and default; in both a flag beats its environment variable, for a
tool's own option and for a library option; errors name the flag, never a value.

Usage: test_options.py PATH/TO/papi PATH/TO/papi-httpd PATH/TO/papi-list-options
"""
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

PAPI = HTTPD = LIST = None
SECRET = "hunter2-s3cr3t"


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
    env.update(extra or {})
    return env


def run(binary, *args, env=None, timeout=60):
    return subprocess.run([binary, *args], capture_output=True, timeout=timeout,
                          env=clean_env(env), text=True)


def library_options():
    """(key, env or None, secret) for every option, from libpapi itself."""
    out = subprocess.run([LIST], capture_output=True, text=True, check=True, timeout=20).stdout
    opts = []
    for line in out.splitlines():
        key, env, secret = line.split("\t")
        opts.append((key, None if env == "-" else env, secret == "secret"))
    return opts


def option_lines(help_text):
    """{key: (first line, help line or "")} for every `--key` an option line of help_text starts
    with; a key listed twice fails."""
    lines = help_text.splitlines()
    found = {}
    for i, line in enumerate(lines):
        m = re.match(r"^  --([a-z0-9-]+)[ ,]", line)
        if not m:
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("      ") else ""
        assert m.group(1) not in found, "--%s listed twice" % m.group(1)
        found[m.group(1)] = (line, nxt)
    return found


class Help(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = library_options()
        cls.helps = {}
        for name, argv in (("papi", [PAPI, "--help"]), ("papi-httpd", [HTTPD, "--help"])):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=clean_env())
            assert r.returncode == 0, (name, r.stderr)
            cls.helps[name] = r.stdout

    def test_library_enumerates_options(self):
        keys = [k for k, _, _ in self.lib]
        self.assertGreater(len(keys), 10)
        expected = ["source", "cache", "max-ids"]
        if os.environ.get("PAPI_TEST_HAVE_SNOWFLAKE") != "0":  # a build with the backend
            expected += ["snowflake-account", "snowflake-token"]
        for k in expected:
            self.assertIn(k, keys)

    def test_every_library_option_with_its_env_var_in_both_tools(self):
        for tool, text in self.helps.items():
            listed = option_lines(text)
            for key, env, secret in self.lib:
                with self.subTest(tool=tool, key=key):
                    self.assertIn(key, listed)
                    line = listed[key][0]
                    want = "(%s" % env if env else "(no env var"
                    self.assertRegex(line, re.escape(want) + r"[,)]")
                    self.assertEqual(", secret" in line, secret, line)

    def test_library_options_read_the_same_in_both_tools(self):
        a, b = (option_lines(self.helps[t]) for t in ("papi", "papi-httpd"))
        for key, _, _ in self.lib:
            self.assertEqual(a[key], b[key])

    def test_tool_options_with_env_var_and_default(self):
        httpd = option_lines(self.helps["papi-httpd"])
        papi = option_lines(self.helps["papi"])
        expect = [
            (httpd, "listen", "(PAPI_LISTEN, default 0.0.0.0:8001)"),
            (httpd, "workers", "(PAPI_WORKERS, default 512, 1..4096)"),
            (httpd, "access-log", "(PAPI_ACCESS_LOG, default 1)"),
            (httpd, "log-level", "(PAPI_LOG_LEVEL, default info)"),
            (papi, "log-level", "(PAPI_LOG_LEVEL, default warn)"),
            (papi, "dataset", "(no env var, default customer)"),
            (papi, "rows", "(no env var, 1..100000000)"),
        ]
        for listed, key, text in expect:
            with self.subTest(key=key):
                self.assertIn(text, listed[key][0])
                self.assertTrue(listed[key][1].strip(), "no help line for --" + key)
        self.assertIn("(PAPI_API_KEYS, secret)", self.helps["papi-httpd"])
        self.assertIn("--verbose, -v ", self.helps["papi"])


class WithDemoDb(unittest.TestCase):
    """A ten-customer demo database for the class, in cls.src."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="papi-options-")
        cls.db = os.path.join(cls.tmp.name, "demo.db")
        r = run(PAPI, "demo-db", cls.db, "--rows", "10")
        assert r.returncode == 0, r.stderr
        cls.src = "sqlite:" + cls.db

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


class Cli(WithDemoDb):
    def test_flag_beats_env_for_a_tool_option(self):
        env = {"PAPI_LOG_LEVEL": "debug"}
        r = run(PAPI, "lookup", "--source", self.src, "1", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("papi: debug: ", r.stderr)
        for flag in (["--log-level", "error"], ["--log-level=error"]):
            r = run(PAPI, "lookup", "--source", self.src, *flag, "1", env=env)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run(PAPI, "lookup", "--source", self.src, "1", env={"PAPI_LOG_LEVEL": "loud"})
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("PAPI_LOG_LEVEL", r.stderr)

    def test_flag_beats_env_for_a_library_option(self):
        env = {"PAPI_MAX_IDS": "2"}
        self.assertEqual(run(PAPI, "lookup", "--source", self.src, "1,2,3", env=env).returncode, 2)
        for flag in (["--max-ids", "3"], ["--max-ids=3"]):
            r = run(PAPI, "lookup", "--source", self.src, *flag, "1,2,3", env=env)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_errors_name_the_flag_never_the_value(self):
        for args, code, name in ((["--snowflake-tokn=" + SECRET], 2, "--snowflake-tokn"),
                                 (["--snowflake-tokn", SECRET], 2, "--snowflake-tokn"),
                                 (["--log-level", SECRET], 3, "--log-level")):
            with self.subTest(args=args):
                r = run(PAPI, "lookup", "--source", self.src, *args, "1")
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(name, r.stderr)
                self.assertNotIn(SECRET, r.stdout + r.stderr)


class Httpd(WithDemoDb):
    def serve(self, args, env):
        """Starts papi-httpd; returns (process, its "listening on" line, stderr file)."""
        err = tempfile.TemporaryFile(dir=self.tmp.name)
        p = subprocess.Popen([HTTPD, "--source", self.src, "--access-log", "0", *args],
                             stdout=subprocess.DEVNULL, stderr=err, env=clean_env(env))
        self.addCleanup(self.stop, p, err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            err.seek(0)
            m = re.search(r"listening on (\S+) port (\d+)", err.read().decode())
            if m:
                return p, m
            if p.poll() is not None:
                break
            time.sleep(0.05)
        err.seek(0)
        self.fail("papi-httpd did not start: " + err.read().decode())

    @staticmethod
    def stop(p, err):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        err.close()

    @staticmethod
    def status(port, path):
        c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=20)
        try:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def test_flag_beats_env_for_a_tool_option(self):
        env = {"PAPI_LISTEN": "127.0.0.2:0"}
        _, m = self.serve([], env)
        self.assertEqual(m.group(1), "127.0.0.2:0")
        for flag in (["--listen", "127.0.0.1:0"], ["--listen=127.0.0.1:0"]):
            _, m = self.serve(flag, env)
            self.assertEqual(m.group(1), "127.0.0.1:0")

    def test_flag_beats_env_for_a_library_option(self):
        env = {"PAPI_MAX_IDS": "2"}
        _, m = self.serve(["--listen", "127.0.0.1:0"], env)
        self.assertEqual(self.status(m.group(2), "/customer/1,2,3"), 400)
        _, m = self.serve(["--listen", "127.0.0.1:0", "--max-ids=3"], env)
        self.assertEqual(self.status(m.group(2), "/customer/1,2,3"), 200)

    def test_errors_name_the_flag_or_variable_never_the_value(self):
        cases = (([], {"PAPI_WORKERS": SECRET}, "PAPI_WORKERS"),
                 (["--workers=" + SECRET], {}, "--workers"),
                 (["--log-level", SECRET], {}, "--log-level"),
                 (["--snowflake-tokn=" + SECRET], {}, "--snowflake-tokn"),
                 (["--max-ids", "5", SECRET], {}, "argument 3"))
        for args, env, name in cases:
            with self.subTest(args=args, env=env):
                r = run(HTTPD, *args, env=env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(name, r.stderr)
                self.assertNotIn(SECRET, r.stdout + r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: test_options.py PATH/TO/papi PATH/TO/papi-httpd PATH/TO/papi-list-options")
    PAPI, HTTPD, LIST = (os.path.abspath(a) for a in sys.argv[1:4])
    del sys.argv[1:4]
    unittest.main(verbosity=2)
