"""The test command's honesty: scripts/count-results fails a run in which a required suite was
skipped or missing, and names it; and the browser test really skips (exit 77) when chromium
is missing, so that in CI a missing browser is a failed browser test."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("PAPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
COUNT = os.path.join(ROOT, "scripts", "count-results")
PAGE_TEST = os.path.join(ROOT, "tests", "integration", "httpd", "test_page.py")


def run_count(results, required):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        for name, result in results:
            f.write(json.dumps({"name": name, "result": result}) + "\n")
    try:
        p = subprocess.run([sys.executable, COUNT, f.name, required], capture_output=True, text=True,
                           timeout=60)
    finally:
        os.unlink(f.name)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    return tuple(int(x) for x in lines[0].split()), lines[1:]


class CountResults(unittest.TestCase):
    def test_clean_run(self):
        counts, problems = run_count([("papi:httpd / httpd-routes", "OK"),
                                      ("papi:contract+core / c", "OK")], "httpd core contract")
        self.assertEqual((counts, problems), ((2, 0, 0), []))

    def test_skip_in_required_suite_fails_and_is_named(self):
        counts, problems = run_count([("papi:httpd / httpd-routes", "OK"),
                                      ("papi:httpd / httpd-page", "SKIP")], "httpd")
        self.assertEqual(counts, (1, 1, 0))
        self.assertEqual(len(problems), 1)
        self.assertIn("papi:httpd / httpd-page", problems[0])
        self.assertIn("skipped", problems[0])

    def test_skip_elsewhere_is_only_a_skip(self):
        counts, problems = run_count([("papi:httpd / httpd-routes", "OK"),
                                      ("papi:bench / b", "SKIP")], "httpd")
        self.assertEqual((counts, problems), ((1, 0, 1), []))

    def test_missing_required_suite_fails_and_is_named(self):
        counts, problems = run_count([("papi:httpd / httpd-routes", "OK"),
                                      ("papi:abi / a", "FAIL")], "httpd docs")
        self.assertEqual(counts, (1, 2, 0))
        self.assertEqual(problems, ["required suite 'docs' ran no test (counted as a failure)"])


class BrowserTestSkipsHonestly(unittest.TestCase):
    def test_exits_77_without_chromium(self):
        env = dict(os.environ, PAPI_TEST_CHROMIUM="/nonexistent/chromium")
        p = subprocess.run([sys.executable, PAGE_TEST], capture_output=True, text=True, env=env,
                           timeout=60, cwd=os.path.dirname(PAGE_TEST))
        self.assertEqual(p.returncode, 77, p.stdout + p.stderr)
        self.assertIn("SKIP", p.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
