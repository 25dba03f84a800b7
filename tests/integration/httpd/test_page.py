"""The test page in a real browser: Debian's headless chromium driven through chromedriver's
W3C WebDriver protocol (plain HTTP on loopback, no selenium). Loads /test, enters 1885, submits
and reads the JSON the page shows; reads the curl line it shows, runs it, and copies it with the
page's button (the clipboard read back through chromium's own permission). Saves a screenshot as
<PAPI_TEST_TMP>/test-page.png.

Without Debian's chromium and chromium-driver it exits 77, which meson records as SKIP and
scripts/test counts as a failure: a browser test that cannot run has not passed.
PAPI_TEST_CHROMIUM and PAPI_TEST_CHROMEDRIVER name other binaries (tests/scripts uses them to
prove the skip)."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

import harness

CHROMIUM = os.environ.get("PAPI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PAPI_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
SKIP = 77  # meson's exit code for a test that could not run
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1100,800"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WebDriver:
    def __init__(self, profile_dir):
        self.port = free_port()
        self.proc = subprocess.Popen([CHROMEDRIVER, "--port=%d" % self.port],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 20
        while True:
            try:
                self.call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM,
                                   "args": CHROME_FLAGS + ["--user-data-dir=" + profile_dir]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("webdriver %s %s: %s" % (method, path, e.read()[:500]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def text(self, css):
        return self.s("GET", "/element/%s/text" % self.find(css))

    def wait_text(self, css, pred, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            t = self.text(css)
            if pred(t):
                return t
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting on %s, last text %r" % (css, t))
            time.sleep(0.05)

    def script(self, body, *args, asynchronous=False):
        return self.s("POST", "/execute/async" if asynchronous else "/execute/sync",
                      {"script": body, "args": list(args)})

    def quit(self):
        try:
            self.s("DELETE", "")
        except Exception:
            pass
        self.proc.kill()
        self.proc.wait(10)


class TestPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(source="sqlite:" + harness.demo_db())
        cls.profile = harness.tmpdir()
        try:
            cls.wd = WebDriver(cls.profile)
        except Exception:
            cls.srv.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.wd.quit()
        cls.srv.stop()
        shutil.rmtree(cls.profile, ignore_errors=True)

    def fill(self, ids, key="", select=""):
        wd = self.wd
        wd.s("POST", "/url", {"url": "http://127.0.0.1:%d/test" % self.srv.port})
        for css, text in (("#ids", ids), ("#key", key), ("#select", select)):
            field = wd.find(css)
            wd.s("POST", "/element/%s/clear" % field, {})
            if text:
                wd.s("POST", "/element/%s/value" % field, {"text": text})

    def submit(self, ids, select=""):
        wd = self.wd
        self.fill(ids, select=select)
        wd.s("POST", "/element/%s/click" % wd.find("#submit"), {})
        return wd.wait_text("#status", lambda t: "HTTP" in t or "failed" in t)

    def test_lookup_1885(self):
        status = self.submit("1885")
        self.assertRegex(status, r"^HTTP 200 in \d+(\.\d+)? ms")
        shown = self.wd.text("#result")
        self.assertIn('"C_CUSTOMER_SK": 1885', shown)  # formatted (indented) JSON
        rows = json.loads(shown)
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [1885])
        png = base64.b64decode(self.wd.s("GET", "/screenshot"))
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        out = os.path.join(os.environ.get("PAPI_TEST_TMP", harness.tmpdir()), "test-page.png")
        with open(out, "wb") as f:
            f.write(png)
        # the page's own fetch really reached the server (the access log is written in batches)
        for _ in range(100):
            seen = any(l["path"] == "/customer/1885" and l["status"] == 200
                       for l in self.srv.access_log())
            if seen:
                break
            time.sleep(0.02)
        self.assertTrue(seen)

    def test_several_ids(self):
        self.submit("3, 2,1")
        rows = json.loads(self.wd.text("#result"))
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], [3, 2, 1])

    def test_curl_line_runs(self):
        base = "http://127.0.0.1:%d" % self.srv.port
        self.fill("1885, 2")
        line = self.wd.text("#curl")
        self.assertEqual(line, "curl -sS '%s/customer/1885,2'" % base)
        out = subprocess.run(["sh", "-c", line], capture_output=True, timeout=30, check=True).stdout
        self.assertEqual([r["C_CUSTOMER_SK"] for r in json.loads(out)], [1885, 2])
        # the key stays out of the line: the shell supplies it
        self.fill("7", key="s3cret-key")
        line = self.wd.text("#curl")
        self.assertEqual(line, "curl -sS '%s/customer/7' -H \"Authorization: Bearer $PAPI_API_KEY\"" % base)
        self.assertNotIn("s3cret", line)

    def test_select_field(self):
        # the columns field narrows the answer, and the curl line carries it
        base = "http://127.0.0.1:%d" % self.srv.port
        status = self.submit("1885,2", select="c_email_address, C_FIRST_NAME")
        self.assertRegex(status, r"^HTTP 200 in ")
        rows = json.loads(self.wd.text("#result"))
        self.assertEqual([list(r) for r in rows], [["C_EMAIL_ADDRESS", "C_FIRST_NAME"]] * 2)
        line = self.wd.text("#curl")
        self.assertEqual(line, "curl -sS '%s/customer/1885,2?select=c_email_address,C_FIRST_NAME'"
                         % base)
        out = subprocess.run(["sh", "-c", line], capture_output=True, timeout=30, check=True).stdout
        self.assertEqual(json.loads(out), rows)
        status = self.submit("1", select="NOPE")
        self.assertIn("HTTP 400", status)
        self.assertIn('no column "NOPE"', json.loads(self.wd.text("#result"))["error"])

    def test_copy_button(self):
        base = "http://127.0.0.1:%d" % self.srv.port
        self.fill("3,1")
        self.wd.s("POST", "/goog/cdp/execute", {"cmd": "Browser.grantPermissions", "params": {
            "origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}})
        self.wd.s("POST", "/element/%s/click" % self.wd.find("#copy"), {})
        self.wd.wait_text("#copy", lambda t: t != "Copy")
        self.assertEqual(self.wd.text("#copy"), "Copied")
        want = "curl -sS '%s/customer/3,1'" % base
        # selected too, so Ctrl+C works where the clipboard API is refused
        self.assertEqual(self.wd.script("return window.getSelection().toString();"), want)
        got = self.wd.script("var done = arguments[arguments.length - 1];"
                             "navigator.clipboard.readText().then(done, function (e) { done('error: ' + e); });",
                             asynchronous=True)
        self.assertEqual(got, want)

    def test_error_shown_plainly(self):
        status = self.submit("12x")
        self.assertIn("HTTP 400", status)
        self.assertEqual(json.loads(self.wd.text("#result"))["code"], "EINVAL")


if __name__ == "__main__":
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        print("SKIP: %s not installed (Debian packages chromium, chromium-driver)" % ", ".join(missing))
        sys.exit(SKIP)
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
