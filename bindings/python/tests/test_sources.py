"""Failures of a network source reach Python as the right papi.Error with every papi_error field,
and a lookup blocked in the library does not hold the GIL. The source is the snowflake transport
pointed at loopback stand-ins: a tiny HTTP server answering errors, and a socket that never
answers. Both are closed when the tests end."""

import json
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import papi


class _ErrorHandler(BaseHTTPRequestHandler):
    status = 401

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"code": "390303", "message": "Invalid OAuth access token. [1]",
                           "sqlState": "08001"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def snowflake_client(port, timeout_ms=3000):
    return papi.Client(source="snowflake", use_env=False, snowflake_account="acct",
                       snowflake_user="u", snowflake_token="not-a-real-token",
                       snowflake_authenticator="PROGRAMMATIC_ACCESS_TOKEN",
                       snowflake_host="127.0.0.1", snowflake_port=port,
                       snowflake_protocol="http", timeout_ms=timeout_ms, max_attempts=1)


class SourceErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), _ErrorHandler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join(10)

    def fail_with(self, http_status):
        _ErrorHandler.status = http_status
        with snowflake_client(self.server.server_address[1]) as c:
            with self.assertRaises(papi.Error) as cm:
                c.lookup_customers([1885])
        e = cm.exception
        self.assertEqual(e.http_status, http_status)
        self.assertEqual(e.source_code, "390303")
        self.assertEqual(e.sql_state, "08001")
        self.assertIn("390303", str(e))
        self.assertNotIn("not-a-real-token", str(e))  # no secrets in messages
        return e

    def test_401_is_auth_error(self):
        e = self.fail_with(401)
        self.assertIsInstance(e, papi.AuthError)
        self.assertEqual(e.name, "EAUTH")

    def test_503_is_source_unavailable(self):
        e = self.fail_with(503)
        self.assertIsInstance(e, papi.SourceUnavailable)
        self.assertEqual(e.name, "EUNAVAIL")

    def test_422_is_source_error(self):
        e = self.fail_with(422)
        self.assertIsInstance(e, papi.SourceError)
        self.assertEqual(e.name, "ESOURCE")


class BlockedLookupTest(unittest.TestCase):
    def test_timeout_and_the_gil_is_released(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # accepts connections, never answers
        try:
            with snowflake_client(silent.getsockname()[1], timeout_ms=1500) as c:
                counter = [0]
                stop = threading.Event()

                def spin():
                    while not stop.is_set():
                        counter[0] += 1

                # Calibrate: how far the spinner gets in 0.2 s with the GIL to itself.
                th = threading.Thread(target=spin)
                th.start()
                time.sleep(0.2)
                stop.set()
                th.join()
                rate = counter[0] / 0.2

                counter[0] = 0
                stop.clear()
                th = threading.Thread(target=spin)
                th.start()
                t0 = time.monotonic()
                with self.assertRaises(papi.SourceTimeout) as cm:
                    c.lookup_customers([1])
                blocked = time.monotonic() - t0
                stop.set()
                th.join()
        finally:
            silent.close()
        self.assertEqual(cm.exception.name, "ETIMEDOUT")
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertGreater(blocked, 1.0)
        self.assertLess(blocked, 10.0)
        # Held GIL: the spinner would get at most one switch interval (5 ms) in 1.5 s.
        self.assertGreater(counter[0], rate * 0.3,
                           "the spinner barely ran while the lookup waited: GIL held?")


if __name__ == "__main__":
    unittest.main()
