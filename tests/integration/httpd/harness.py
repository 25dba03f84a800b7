"""Starts papi-httpd (or its fault-injecting twin) on a free loopback port and talks HTTP to it.

Every server is started with port 0, the port is read from its "listening" log line, and it is
killed when the test ends, even on failure. Paths come from the environment meson test sets:
PAPI_HTTPD, PAPI_FAULT_HTTPD, PAPI_CLI, PAPI_TEST_TMP.

Every JSON answer a test gets through a Server (request(), get_json(), raw(), conn()) is checked
against the server's own OpenAPI document (GET /openapi.json, read once at start): the schema of
its route, method and status, and the headers that answer declares. Without python3-jsonschema
(Debian; scripts/deps) every test importing this module exits 77, which scripts/test counts as
a failure: the check is never skipped silently.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (Debian package python3-jsonschema; scripts/deps)")
    sys.exit(77)

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


def datasets_file(datasets):
    """A --datasets file holding these dataset descriptions; returns its path."""
    path = os.path.join(tmpdir(), "datasets.json")
    with open(path, "w") as f:
        json.dump({"datasets": datasets}, f)
    return path


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


def _pointer(doc, ref):
    """The object a local JSON pointer ("#/components/schemas/Error") names; KeyError if none."""
    node = doc
    for part in ref[2:].split("/") if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


class ApiSchema:
    """An OpenAPI 3.1 document, and the check of one answer against it."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.templates = []
        for path in doc["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$"
            self.templates.append((re.compile(pattern), path))

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = _pointer(self.doc, node["$ref"])
        return node

    def response(self, method, target, status):
        """The Response Object for an answer, or None when the route or method is not one the
        document describes (then only an error answer is expected: its schema is Error)."""
        path = target.split("?", 1)[0].split("#", 1)[0]
        template = next((t for rx, t in self.templates if rx.match(path)), None)
        op = self.doc["paths"][template].get(method.lower()) if template else None
        if op is None:
            return None
        responses = op["responses"]
        return self.deref(responses.get(str(status), responses.get("default")))

    def check(self, method, target, status, headers, body):
        if "x-content-type-options" not in headers:
            return  # libmicrohttpd's own page (docs/HTTP.md): papi never saw the request
        resp = self.response(method, target, status)
        if resp is not None:
            for name, h in resp.get("headers", {}).items():
                h = self.deref(h)
                value = headers.get(name.lower())
                if value is None:
                    assert not h.get("required"), "%s %s %d: no %s header" % (method, target, status, name)
                    continue
                if "schema" in h:
                    self.validate(value, h["schema"], method, target, status, name)
        if method == "HEAD" or not headers.get("content-type", "").startswith("application/json"):
            return
        doc = json.loads(body.decode("utf-8"))
        if resp is None:
            schema = {"$ref": "#/components/schemas/Error"}
            assert status >= 400, "%s %s %d: JSON from a route the document does not describe" % (
                method, target, status)
        else:
            content = resp.get("content", {}).get("application/json")
            assert content, "%s %s: the document describes no JSON for status %d" % (method, target, status)
            schema = content["schema"]
        self.validate(doc, schema, method, target, status, "body")

    def validate(self, value, schema, method, target, status, what):
        try:
            jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator,
                                resolver=self.resolver)
        except jsonschema.ValidationError as e:
            raise AssertionError("%s %s %d: %s does not match the OpenAPI document: %s"
                                 % (method, target[:120], status, what, e.message[:300]))


class CheckedResponse:
    """An http.client response whose body is checked once it has been read in full."""

    def __init__(self, resp, api, method, target):
        self._resp, self._api, self._method, self._target = resp, api, method, target

    def read(self, *args):
        data = self._resp.read(*args)
        if not args and self._api:
            headers = {k.lower(): v for k, v in self._resp.getheaders()}
            self._api.check(self._method, self._target, self._resp.status, headers, data)
        return data

    def __getattr__(self, name):
        return getattr(self._resp, name)


class CheckedConnection(http.client.HTTPConnection):
    """A keep-alive connection whose answers are checked against the document."""

    api = None

    def putrequest(self, method, url, *args, **kw):
        self._checked = (method, url)
        return super().putrequest(method, url, *args, **kw)

    def getresponse(self):
        resp = super().getresponse()
        return CheckedResponse(resp, self.api, *self._checked)


def _open_server_sockets(port):
    """Connections on the server's side of port that the server has not closed yet (states
    ESTABLISHED and CLOSE_WAIT in /proc/net/tcp and tcp6)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] in ("01", "08"):
                n += 1
    return n


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
        self.api = None
        keys = [k.strip() for k in full_env.get("PAPI_API_KEYS", "").split(",") if k.strip()]
        self.auth = {"Authorization": "Bearer " + keys[0]} if keys else {}
        st, _, body = self.request("GET", "/openapi.json", headers=dict(self.auth), timeout=30)
        if st != 200:
            self.stop()
            raise RuntimeError("papi-httpd answered GET /openapi.json with %d" % st)
        self.api = ApiSchema(json.loads(body))
        # The document's connection must be gone on the server's side too before a test starts:
        # tests of connection limits count every connection the server still holds.
        deadline = time.monotonic() + START_TIMEOUT_S
        while _open_server_sockets(self.port) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def access_log(self):
        return [json.loads(line) for line in self.stdout().splitlines() if line.strip()]

    def conn(self, timeout=10):
        c = CheckedConnection("127.0.0.1", self.port, timeout=timeout)
        c.api = self.api
        return c

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
            data = r.read()  # checked against the document
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
            answer = b"".join(chunks)
        finally:
            s.close()
        self.check_raw(data, answer)
        return answer

    def check_raw(self, sent, answer):
        """Checks a raw exchange's first answer when it is one whole JSON answer."""
        line = sent.split(b"\r\n", 1)[0].split(b" ")
        if not self.api or len(line) != 3 or not answer.startswith(b"HTTP/1."):
            return
        try:
            status, headers, body = parse_raw_response(answer)
            method, target = line[0].decode("ascii"), line[1].decode("ascii")
        except (ValueError, IndexError, UnicodeDecodeError):
            return
        if headers.get("content-length") == str(len(body)):
            self.api.check(method, target, status, headers, body)

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
