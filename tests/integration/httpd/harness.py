"""Starts papi-httpd (or its fault-injecting twin) on a free loopback port and talks HTTP to it.

Every server is started with port 0, the port is read from its "listening" log line, and it is
killed when the test ends, even on failure. Paths come from the environment meson test sets:
PAPI_HTTPD, PAPI_FAULT_HTTPD, PAPI_CLI, PAPI_TEST_TMP.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

HTTPD = os.environ.get("PAPI_HTTPD", "")
FAULT_HTTPD = os.environ.get("PAPI_FAULT_HTTPD", "")
CLI = os.environ.get("PAPI_CLI", "")
START_TIMEOUT_S = 15

_demo_lock = threading.Lock()
_demo_path = None


def tmpdir():
    base = os.environ.get("PAPI_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix="papi-httpd-", dir=base)


def demo_db():
    """A demo database made by `papi demo-db` (10,000 customers), made once per test run."""
    global _demo_path
    with _demo_lock:
        if _demo_path is None:
            path = os.path.join(tmpdir(), "demo.db")
            subprocess.run([CLI, "demo-db", path], check=True, timeout=120,
                           stdout=subprocess.DEVNULL)
            _demo_path = path
        return _demo_path


class Server:
    def __init__(self, args=(), env=None, binary=None, source=None):
        self.binary = binary or HTTPD
        self.dir = tmpdir()
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
        full_env.update(env or {})
        argv = [self.binary, "--listen", "127.0.0.1:0"]
        if source is not None:
            argv += ["--source", source]
        argv += list(args)
        self.out = open(self.stdout_path, "wb")
        self.err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err, env=full_env)
        self.port = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            m = re.search(r"listening on \S+ port (\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError("papi-httpd did not start: " + self.stderr())

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def access_log(self):
        return [json.loads(line) for line in self.stdout().splitlines() if line.strip()]

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=10):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        c = self.conn(timeout)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                c.putheader(k, v)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get_json(self, path, **kw):
        st, h, body = self.request("GET", path, **kw)
        return st, h, json.loads(body.decode("utf-8"))

    def raw(self, data, timeout=10):
        """Sends raw bytes, returns everything the server answers until it closes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            s.close()

    def metrics(self):
        st, _, body = self.request("GET", "/metrics")
        assert st == 200, st
        values = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, v = line.rpartition(" ")
                values[name] = float(v)
        return values

    def terminate(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.out.close()
        self.err.close()


def parse_raw_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body
