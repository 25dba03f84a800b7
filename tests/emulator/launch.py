"""The SQL API emulator as the integration tests run it: one sqlapi_emulator.py process on a
free loopback port (it prints "PORT n" once listening), its test-only routes (/_emulator/...),
the Snowflake environment that points papi at it, and its end.

Import it with this folder on sys.path (tests/integration/*/ do so)."""
import http.client
import json
import os
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sqlapi_emulator.py")


class Emulator:
    def __init__(self, args, max_seconds=280, quiet=True):
        """args: the emulator's own options (--db, --pat, ...); max_seconds bounds its life
        should a test never close it; quiet drops its stderr."""
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", SCRIPT] + list(args) + ["--max-seconds", str(max_seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if quiet else None, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError("emulator did not start: %r" % line)
        self.port = int(line.split()[1])

    def snowflake_env(self, pat):
        """The environment of a papi process that signs in to this emulator with token pat."""
        return {"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_HOST": "127.0.0.1",
                "SNOWFLAKE_PORT": str(self.port), "SNOWFLAKE_PROTOCOL": "http",
                "SNOWFLAKE_TOKEN": pat}

    def call(self, method, path, body=None, headers=None, timeout=30):
        """(status, decoded JSON body or None)"""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def counters(self):
        return self.call("GET", "/_emulator/counters")[1]

    def config(self, **kw):
        self.call("POST", "/_emulator/config", kw)

    def reset(self):
        self.call("POST", "/_emulator/reset", {})

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
