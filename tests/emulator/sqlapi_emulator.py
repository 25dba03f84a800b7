#!/usr/bin/python3
"""A strict local emulator of the Snowflake SQL API v2 (../shared/docs/snowflake-sql-api.md).

Serves POST /api/v2/statements, GET /api/v2/statements/<handle>[?partition=N], POST .../cancel and
POST /oauth/token on 127.0.0.1, backed by a SQLite copy of the demo data (`papi demo-db`). It is
as strict as the real service where clients go wrong (section 9): User-Agent, Content-Type,
key-pair JWT claims and signature, bind variables only, string cells, gzip partitions.

Test hooks (not part of the SQL API):
  GET  /_emulator/counters   counters (jwt_expired: JWTs refused as past exp), every requestId
                             with its retry flag, its JWT's iat/exp and the statementHandle
                             it got, faults left
  POST /_emulator/faults     {"429": N, "503": N, "500_after_exec": N, "retry_after": S,
                              "slow_ms": M, "hang": N, "hang_ms": M, "truncated": N,
                              "expired_token": N, "async": N, "async_ms": M, "sql_error": N,
                              "rename_column": [INDEX, NAME], "bare_partitions": true,
                              "pad_bytes": N, "pause_partition": I, "fail_partition": I,
                              "expire_tokens": true, "clock_ahead_s": S}
                             expired_token N refuses the next N requests, whatever token they
                             carry: with fetches in flight at once it may refuse another fetch's
                             resend too, which Snowflake never does; tests of one fetch only.
                             expire_tokens (as Snowflake expires a token by its exp claim):
                             every token accepted so far is refused from now on, in every
                             request that carries it (401, 390144 for a JWT, 390318 for OAuth;
                             counted as tokens_expired), while any other token is judged as
                             usual; until reset. clock_ahead_s S: the emulator judges a JWT's
                             exp and iat by a clock S seconds ahead (the client's clock behind
                             Snowflake's); S >= the JWT lifetime refuses even a fresh JWT.
  POST /_emulator/config     {"oauth_tokens": [...], "pats": [...], "rows_per_partition": N,
                              "shuffle_seed": S|null, "sync_window_ms": M, "exec_ms": M,
                              "spcs_token_form": "bearer"|"snowflake",
                              "warehouse_slots": N, "statement_ms": M, "warehouse_paused": B}
  POST /_emulator/reset      zero counters, records and faults

Scans (replica syncs): `SELECT <cols> FROM <table> [WHERE <col> > ?] ORDER BY <key>` reads the
whole table (or the rows past a bound watermark) in partitions of --rows-per-partition rows (0:
one), cut at key boundaries when the statement runs and each read from the database when it is
fetched, so a million-row result costs the emulator one partition of memory. Counted as scans.
A test changes the table between syncs by writing to the --db file. Faults for them, which stay
until set to null:
  pause_partition I        GET of partition I sends its headers and half its body, then waits
                           (up to hang_ms, default 20 s) until the fault is cleared, and closes
                           the connection: a sync caught in the middle of a partition. Counted
                           as partitions_paused.
  fail_partition I         GET of partition I answers 422 (000709): the sync fails after it
                           wrote the earlier partitions. Counted as partitions_failed.

Realism (each also a command-line option):
  pad_bytes (fault)        a hostile answer: the result is padded to N bytes with rows of a key
                           nobody asked for, numRows and partitionInfo kept consistent
  --shuffle-seed S         result rows in an arbitrary (seeded) order, as an IN query returns them
  --exec-ms M              every statement runs M ms; past the synchronous window
                           (--sync-window-ms, 45000 like Snowflake's) the POST answers 202 and
                           the statement finishes later; past its body's `timeout` it is
                           cancelled: 408 QueryStatus (code 000630), also when polled
  --spcs-token-file F      SPCS session tokens: a new token is written to F (atomically) every
                           --spcs-token-rotate-ms; each is accepted as OAUTH until
                           --spcs-token-ttl-ms after it was issued, then refused (390318,
                           counted as oauth_expired). "spcs_token_form": "snowflake" accepts
                           them only as `Authorization: Snowflake Token="..."` with no token type
                           header (public SPCS code's form), "bearer" (default) only as Bearer
  --database/--schema/--warehouse/--role: the names that exist, compared case-sensitively as
                           Snowflake stores them (unquoted names uppercase)
  422 and 408 answers name the statementHandle; requests refused at authentication are recorded
  too (status 401), so a requestId reused without retry=true after a 401 is counted.

A warehouse (--warehouse-slots N, --statement-ms M) runs N lookup statements at once, each for M ms
(plus the query itself); more queue, first come first served, as a real warehouse's do above its
MAX_CONCURRENCY_LEVEL. Its counters: wh_statements, wh_queued (statements that waited for a slot),
wh_queue_wait_us and wh_queue_wait_max_us, wh_ids and wh_ids_max (distinct ids a statement asked
for), wh_running_max (most statements running at once), wh_fifo_violations (statements given a
slot before one queued earlier: always 0); gauges wh_running and wh_waiting; wh_batches, each
lookup's distinct ids in the order statements started. N = 0 (the default): no limit. Tests can
hold every statement in its slot with {"warehouse_paused": true} and let them go with false.
Every response carries X-Emulator-Time-Us: the emulator's own handling time (bench/).
With --tls-cert/--tls-key it speaks HTTPS only: each accepted connection is one TLS handshake,
counted as tls_handshakes (tls_failures when the client gives up, e.g. an untrusted CA), and
alpn_h2_offered counts ClientHellos that offered HTTP/2 (answered with HTTP/1.1: http.server has
no HTTP/2).
Usage: sqlapi_emulator.py --db DEMO.db --public-key KEY.pub --account ACC --user USER
       [--port 0] [--port-file F] [--oauth-token T]... [--pat T]... [--max-seconds S]
       [--tls-cert CERT.pem --tls-key KEY.pem] [--warehouse-slots N] [--statement-ms M]
"""
import argparse
import base64
import collections
import gzip
import hashlib
import json
import os
import random
import re
import socket
import sqlite3
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tls_server import Server  # next to this file

ALLOWED_PARAMETERS = {"query_tag", "timezone", "multi_statement_count", "rows_per_resultset",
                      "use_cached_result", "client_result_chunk_size", "binary_output_format",
                      "date_output_format", "time_output_format", "timestamp_output_format",
                      "timestamp_ltz_output_format", "timestamp_ntz_output_format",
                      "timestamp_tz_output_format"}
SELECT_RE = re.compile(r"^\s*SELECT\s+(.+?)\s+FROM\s+([A-Za-z0-9_.\"]+)\s+WHERE\s+([A-Za-z0-9_]+)"
                       r"\s+IN\s*\((.*)\)\s*;?\s*$", re.S | re.I)
SCAN_RE = re.compile(r"^\s*SELECT\s+(.+?)\s+FROM\s+([A-Za-z0-9_.\"]+)"
                     r"(?:\s+WHERE\s+([A-Za-z0-9_]+)\s*>\s*(\S+?))?"
                     r"\s+ORDER\s+BY\s+([A-Za-z0-9_]+)\s*;?\s*$", re.S | re.I)
HANDLE_RE = re.compile(r"^/api/v2/statements/([0-9A-Za-z-]+)(/cancel)?$")


def b64url_decode(part):
    if "=" in part or not re.fullmatch(r"[A-Za-z0-9_-]*", part):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


WAREHOUSE_COUNTERS = ("wh_statements", "wh_queued", "wh_queue_wait_us", "wh_queue_wait_max_us",
                      "wh_ids", "wh_ids_max", "wh_running_max", "wh_fifo_violations")


class Warehouse:
    """A warehouse's statement slots (MAX_CONCURRENCY_LEVEL): at most `slots` statements run at
    once (0: no limit); the others wait in arrival order, each on its own event, and a finishing
    statement hands its slot straight to the oldest waiter."""

    def __init__(self, slots, statement_ms):
        self.lock = threading.Lock()
        self.slots = slots
        self.statement_ms = statement_ms
        self.running = 0
        self.waiting = collections.deque()
        self.unpaused = threading.Event()
        self.unpaused.set()
        self.arrivals = 0  # tickets in arrival order, to check that slots are given FIFO
        self.last_started = 0

    def configure(self, slots=None, statement_ms=None, paused=None):
        with self.lock:
            if slots is not None:
                self.slots = int(slots)
            if statement_ms is not None:
                self.statement_ms = float(statement_ms)
            if paused is not None:
                (self.unpaused.clear if paused else self.unpaused.set)()
            while self.waiting and (not self.slots or self.running < self.slots):
                self.running += 1
                self.hand(self.waiting.popleft())

    def acquire(self):
        """Takes a slot; returns (seconds waited for it, running statements then, True when it
        got its slot before a statement that arrived earlier)."""
        with self.lock:
            self.arrivals += 1
            ticket = self.arrivals
            if not self.slots or (self.running < self.slots and not self.waiting):
                self.running += 1
                return 0.0, self.running, self.started(ticket)
            waiter = [threading.Event(), ticket, False]
            self.waiting.append(waiter)
        t0 = time.monotonic()
        waiter[0].wait()
        with self.lock:
            return time.monotonic() - t0, self.running, waiter[2]

    def release(self):
        with self.lock:
            if self.waiting:  # the slot passes on: running stays the same
                self.hand(self.waiting.popleft())
            else:
                self.running -= 1

    def hand(self, waiter):
        waiter[2] = self.started(waiter[1])
        waiter[0].set()

    def started(self, ticket):
        """Lock held, when a statement gets its slot: the order slots are given in."""
        late = ticket < self.last_started
        self.last_started = max(self.last_started, ticket)
        return late

    def gauges(self):
        with self.lock:
            return {"wh_running": self.running, "wh_waiting": len(self.waiting),
                    "wh_paused": not self.unpaused.is_set()}


class Emulator:
    def __init__(self, args):
        self.db_path = args.db
        self.account = args.account.upper()
        self.user = args.user.upper()
        self.keys = []
        for path in args.public_key or []:
            with open(path, "rb") as f:
                key = serialization.load_pem_public_key(f.read())
            der = key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
            fp = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()
            self.keys.append((key, fp))
        self.oauth_tokens = set(args.oauth_token or [])
        self.pats = set(args.pat or [])
        self.expect = {"database": args.database, "schema": args.schema,
                       "warehouse": args.warehouse, "role": args.role}
        self.lock = threading.Lock()
        self.rows_per_partition = args.rows_per_partition
        self.shuffle_seed = args.shuffle_seed
        self.sync_window_ms = args.sync_window_ms
        self.exec_ms = args.exec_ms
        self.spcs_tokens = {}  # token -> expiry (time.monotonic())
        self.spcs_token_form = "bearer"
        self.warehouse = Warehouse(args.warehouse_slots, args.statement_ms)
        self.reset()

    def reset(self):
        with self.lock:
            self.counters = {k: 0 for k in (
                "requests", "statements", "executions", "bindings", "bound_values", "connections",
                "literal_rejects", "partitions_served", "polls", "cancels", "oauth_exchanges",
                "auth_failures", "retries", "deduplicated", "faults_injected", "gzip_accepted",
                "handling_us", "rid_reuse_without_retry", "jwt_ok", "oauth_ok", "pat_ok",
                "tls_handshakes", "tls_failures", "alpn_h2_offered", "jwt_expired",
                "oauth_expired", "spcs_rotations", "snowflake_token_form_ok", "timeouts_408",
                "sync_window_202", "rows_shuffled", "scans", "partitions_paused",
                "partitions_failed", "tokens_expired")}
            self.counters.update({k: 0 for k in WAREHOUSE_COUNTERS})
            self.wh_batches = []
            self.records = []
            self.faults = {}
            self.by_rid = {}
            self.accepted_tokens = set()
            self.expired_tokens = set()
            self.statements = {}
            self.seen_rids = set()

    def count(self, key, n=1):
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + n

    def take_fault(self, name):
        """Consumes one unit of a counted fault; True when it fires."""
        with self.lock:
            left = self.faults.get(name, 0)
            if isinstance(left, int) and left > 0:
                self.faults[name] = left - 1
                self.counters["faults_injected"] += 1
                return True
        return False

    # ------------------------------------------------------------------ authentication
    def check_jwt(self, token):
        parts = token.split(".")
        if len(parts) != 3:
            return "JWT is not three base64url parts"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, json.JSONDecodeError):
            return "JWT parts are not base64url JSON"
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            return "JWT header must be RS256/JWT"
        signing_input = (parts[0] + "." + parts[1]).encode()
        prefix = self.account + "." + self.user
        for key, fp in self.keys:
            try:
                key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                continue
            if claims.get("iss") != prefix + "." + fp:
                return "iss is not ACCOUNT.USER.fingerprint"
            if claims.get("sub") != prefix:
                return "sub is not ACCOUNT.USER"
            with self.lock:
                ahead = self.faults.get("clock_ahead_s", 0)
            iat, exp, now = claims.get("iat"), claims.get("exp"), time.time() + ahead
            if not isinstance(iat, int) or not isinstance(exp, int):
                return "iat/exp must be integers"
            if iat > now + 5:
                return "iat is in the future"
            if exp > iat + 3600:
                return "exp is more than one hour after iat"
            if exp <= now:
                self.count("jwt_expired")
                return "JWT expired"
            return None
        return "signature does not verify with a registered key"

    def authenticate(self, h):
        """None when the request's credential is accepted, else (http status, code, message)."""
        auth = h.headers.get("Authorization", "")
        kind = h.headers.get("X-Snowflake-Authorization-Token-Type", "OAUTH")
        m = re.fullmatch(r'Snowflake Token="([^"]+)"', auth)
        token = m.group(1) if m else auth[7:] if auth.startswith("Bearer ") else None
        with self.lock:
            expired = token in self.expired_tokens
        if expired:  # the expire_tokens fault
            self.count("tokens_expired")
            if kind == "KEYPAIR_JWT":
                return 401, "390144", "JWT token is invalid. [%s]" % uuid.uuid4()
            return 401, "390318", "OAuth access token expired. [%s]" % uuid.uuid4()
        bad = self.judge(h, auth, kind, m)
        if bad is None:
            with self.lock:
                self.accepted_tokens.add(token)
        return bad

    def expire_tokens(self):
        """The expire_tokens fault: every token accepted so far is expired from now on."""
        with self.lock:
            self.expired_tokens |= self.accepted_tokens
            self.counters["faults_injected"] += 1

    def judge(self, h, auth, kind, snowflake_form):
        """authenticate() for a token the expire_tokens fault has not expired."""
        if snowflake_form:
            return self.authenticate_snowflake_form(h, snowflake_form.group(1))
        if not auth.startswith("Bearer ") or len(auth) < 8:
            return 401, "390101", "Authorization header is missing or not Bearer."
        token = auth[7:]
        if self.take_fault("expired_token"):
            code = "390144" if kind == "KEYPAIR_JWT" else "390318"
            return 401, code, "Token expired (emulated). [%s]" % uuid.uuid4()
        if kind == "KEYPAIR_JWT":
            why = self.check_jwt(token)
            if why:
                return 401, "390144", "JWT token is invalid: %s. [%s]" % (why, uuid.uuid4())
            self.count("jwt_ok")
        elif kind == "OAUTH":
            with self.lock:
                ok = token in self.oauth_tokens
                spcs = self.spcs_tokens.get(token)
                form = self.spcs_token_form
            if spcs is not None:
                return self.check_spcs_token(spcs, form == "bearer")
            if not ok:
                return 401, "390303", "Invalid OAuth access token. [%s]" % uuid.uuid4()
            self.count("oauth_ok")
        elif kind == "PROGRAMMATIC_ACCESS_TOKEN":
            with self.lock:
                ok = token in self.pats
            if not ok:
                return 401, "394400", "Programmatic access token is invalid."
            self.count("pat_ok")
        else:
            return 401, "390100", "Unknown token type."
        return None

    def check_spcs_token(self, expires, form_ok):
        """An SPCS session token: refused after its expiry, or in a form this run refuses."""
        if time.monotonic() >= expires:
            self.count("oauth_expired")
            return 401, "390318", "OAuth access token expired. [%s]" % uuid.uuid4()
        if not form_ok:
            return 401, "390303", "Invalid OAuth access token. [%s]" % uuid.uuid4()
        self.count("oauth_ok")
        return None

    def authenticate_snowflake_form(self, h, token):
        """`Authorization: Snowflake Token="..."`: an SPCS session token, with no token type."""
        if h.headers.get("X-Snowflake-Authorization-Token-Type") is not None:
            return 401, "390100", "Token type header with the Snowflake Token form (emulator)."
        with self.lock:
            spcs = self.spcs_tokens.get(token)
            form = self.spcs_token_form
        if spcs is None:
            return 401, "390303", "Invalid OAuth access token. [%s]" % uuid.uuid4()
        bad = self.check_spcs_token(spcs, form == "snowflake")
        if bad is None:
            self.count("snowflake_token_form_ok")
        return bad

    def issue_spcs_token(self, path, ttl_ms):
        """Writes a new session token to path (atomically, as SPCS does) and accepts it until
        ttl_ms from now; earlier tokens keep their own expiry."""
        token = "spcs-" + uuid.uuid4().hex
        with self.lock:
            self.spcs_tokens[token] = time.monotonic() + ttl_ms / 1000.0
            self.counters["spcs_rotations"] += 1
        with open(path + ".tmp", "w") as f:
            f.write(token + "\n")
        os.replace(path + ".tmp", path)

    def spcs_rotation(self, path, every_ms, ttl_ms):
        while True:
            time.sleep(every_ms / 1000.0)
            self.issue_spcs_token(path, ttl_ms)

    # ------------------------------------------------------------------ statements
    def run_statement(self, body):
        """execute(), on the warehouse when the statement is a lookup: it waits for a free slot
        and holds it statement_ms before running."""
        stmt = body.get("statement")
        if not isinstance(stmt, str) or not SELECT_RE.match(stmt):
            return self.execute(body)
        bindings = body.get("bindings")
        ordered_ids = []  # distinct, in bind order (padding repeats the last id)
        if isinstance(bindings, dict):
            for k in sorted(bindings, key=lambda x: int(x) if x.isdigit() else 0):
                b = bindings[k]
                v = str(b.get("value")) if isinstance(b, dict) else None
                if v is not None and v not in ordered_ids:
                    ordered_ids.append(v)
        ids = len(ordered_ids)
        waited, running, late = self.warehouse.acquire()
        try:
            with self.lock:
                c = self.counters
                c["wh_statements"] += 1
                c["wh_fifo_violations"] += int(late)
                self.wh_batches.append(ordered_ids)
                c["wh_ids"] += ids
                c["wh_ids_max"] = max(c["wh_ids_max"], ids)
                c["wh_running_max"] = max(c["wh_running_max"], running)
                if waited > 0:
                    us = int(waited * 1e6)
                    c["wh_queued"] += 1
                    c["wh_queue_wait_us"] += us
                    c["wh_queue_wait_max_us"] = max(c["wh_queue_wait_max_us"], us)
                ms = self.warehouse.statement_ms
            self.warehouse.unpaused.wait()
            if ms:
                time.sleep(ms / 1000.0)
            return self.execute(body)
        finally:
            self.warehouse.release()

    def execute(self, body):
        """Returns (http status, payload dict) for a statement request body."""
        stmt = body.get("statement")
        if not isinstance(stmt, str):
            return 400, {"code": "390142",
                         "message": "Incoming request does not contain a valid payload."}
        for k in ("database", "schema", "warehouse", "role"):
            want = self.expect[k]
            if want is not None and body.get(k) is not None and body[k] != want:
                return 422, {"code": "002003", "sqlState": "02000",
                             "message": "SQL compilation error:\n%s '%s' does not exist or not "
                                        "authorized." % (k.capitalize(), body[k])}
        params = body.get("parameters", {})
        if not isinstance(params, dict) or any(k.lower() not in ALLOWED_PARAMETERS for k in params):
            return 400, {"code": "390142", "message": "Unsupported parameter."}
        if "timeout" in body and not isinstance(body["timeout"], int):
            return 400, {"code": "390142", "message": "timeout must be an integer."}
        if self.take_fault("sql_error"):
            return 422, {"code": "002003", "sqlState": "42S02",
                         "message": "SQL compilation error:\nObject 'API.DATA.HYBRID_CUSTOMERX' "
                                    "does not exist or not authorized."}
        if re.fullmatch(r"\s*SELECT\s+1\s*;?\s*", stmt, re.I):
            self.count("executions")
            return 200, {"rowType": [{"name": "1", "type": "fixed", "scale": 0,
                                      "precision": 1, "nullable": False}], "rows": [["1"]]}
        m = SELECT_RE.match(stmt)
        scan = None if m else SCAN_RE.match(stmt)
        if scan:
            return self.scan(body, scan)
        if not m:
            return 422, {"code": "001003", "sqlState": "42000",
                         "message": "SQL compilation error: unsupported statement (emulator)."}
        cols = [c.strip() for c in m.group(1).split(",")]
        table = m.group(2).replace('"', "").split(".")[-1].lower()
        key = m.group(3)
        items = [i.strip() for i in m.group(4).split(",")]
        if any(i != "?" for i in items):
            self.count("literal_rejects")
            return 422, {"code": "000999", "sqlState": "42000",
                         "message": "emulator: ids must be bind variables, not literals"}
        bindings = body.get("bindings")
        if not isinstance(bindings, dict) or sorted(bindings, key=lambda x: int(x) if x.isdigit()
                                                    else -1) != [str(i + 1) for i in
                                                                 range(len(items))]:
            return 422, {"code": "100132", "sqlState": "07001",
                         "message": "Bind variable count does not match the placeholders."}
        values = []
        for i in range(len(items)):
            b = bindings[str(i + 1)]
            if not isinstance(b, dict) or not isinstance(b.get("value"), str):
                return 400, {"code": "390142", "message": "Binding values must be strings."}
            t, v = b.get("type"), b["value"]
            if t == "FIXED":
                if not re.fullmatch(r"-?[0-9]{1,38}", v):
                    return 422, {"code": "100037", "sqlState": "22018",
                                 "message": "FIXED value '%s' is not recognized" % v[:40]}
                values.append(int(v))
            elif t == "TEXT":
                values.append(v)
            else:
                return 422, {"code": "100037", "sqlState": "22018",
                             "message": "Unsupported binding type %s" % t}
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True)
        try:
            decl, refused = self.declared(con, table, m.group(2), cols + [key])
            if refused:
                return refused
            sql = "SELECT %s FROM %s WHERE %s IN (%s)" % (
                ", ".join(decl[c.upper()][0] for c in cols), table, decl[key.upper()][0],
                ", ".join("?" * len(values)))
            rows = con.execute(sql, values).fetchall()
        finally:
            con.close()
        self.count("executions")
        self.count("bindings")
        self.count("bound_values", len(values))
        row_type = self.row_type(cols, decl, table)
        with self.lock:
            ren = self.faults.get("rename_column")
        if ren:
            row_type[int(ren[0])]["name"] = ren[1]
        cells = [[None if v is None else str(v) for v in r] for r in rows]
        with self.lock:
            seed = self.shuffle_seed
        if seed is not None:  # an IN query returns rows in no particular order (5.2)
            before = list(cells)
            random.Random(seed).shuffle(cells)
            if cells != before:
                self.count("rows_shuffled")
        return 200, {"rowType": row_type, "rows": cells}

    @staticmethod
    def declared(con, table, written, names):
        """({NAME: (name, declared type)}, None) for the table's columns, or (None, a 422 answer)
        when the table or one of names does not exist (written: the table as the statement
        wrote it)."""
        info = con.execute("PRAGMA table_info(%s)" % table).fetchall()
        if not info:
            return None, (422, {"code": "002003", "sqlState": "42S02",
                                "message": "SQL compilation error:\nObject '%s' does not exist "
                                           "or not authorized." % written})
        decl = {r[1].upper(): (r[1], (r[2] or "").upper()) for r in info}
        for c in names:
            if c.upper() not in decl:
                return None, (422, {"code": "000904", "sqlState": "42000", "message":
                                    "SQL compilation error: invalid identifier '%s'" % c})
        return decl, None

    @staticmethod
    def row_type(cols, decl, table):
        """rowType entries (5.3) for the columns, from the SQLite declared types."""
        row_type = []
        for c in cols:
            t = decl[c.upper()][1]
            if "INT" in t:
                rt = {"type": "fixed", "precision": 38, "scale": 0, "length": None}
            elif any(x in t for x in ("REAL", "FLOA", "DOUB")):
                rt = {"type": "real", "precision": None, "scale": None, "length": None}
            else:
                rt = {"type": "text", "precision": None, "scale": None, "length": 50}
            rt.update({"name": c.upper(), "database": "API", "schema": "DATA",
                       "table": table.upper(), "byteLength": None, "nullable": True,
                       "collation": None})
            row_type.append(rt)
        return row_type

    def scan(self, body, m):
        """A whole-table statement: (200, {"rowType", "scan"}) with the partitions cut at key
        boundaries now and read when fetched (Scan)."""
        cols = [c.strip() for c in m.group(1).split(",")]
        table = m.group(2).replace('"', "").split(".")[-1].lower()
        wm, placeholder, key = m.group(3), m.group(4), m.group(5)
        if placeholder is not None and placeholder != "?":
            self.count("literal_rejects")
            return 422, {"code": "000999", "sqlState": "42000",
                         "message": "emulator: values must be bind variables, not literals"}
        bindings = body.get("bindings") or {}
        want = ["1"] if wm else []
        if not isinstance(bindings, dict) or sorted(bindings) != want:
            return 422, {"code": "100132", "sqlState": "07001",
                         "message": "Bind variable count does not match the placeholders."}
        values = []
        if wm:
            b = bindings["1"]
            if not isinstance(b, dict) or not isinstance(b.get("value"), str) or \
                    b.get("type") not in ("FIXED", "TEXT"):
                return 400, {"code": "390142", "message": "Binding values must be strings."}
            if b["type"] == "FIXED":
                if not re.fullmatch(r"-?[0-9]{1,38}", b["value"]):
                    return 422, {"code": "100037", "sqlState": "22018",
                                 "message": "FIXED value is not recognized"}
                values.append(int(b["value"]))
            else:
                values.append(b["value"])
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True)
        try:
            names = cols + [key] + ([wm] if wm else [])
            decl, refused = self.declared(con, table, m.group(2), names)
            if refused:
                return refused
            with self.lock:
                rpp = self.rows_per_partition
            result = Scan(self.db_path, table, [decl[c.upper()][0] for c in cols],
                          decl[key.upper()][0], decl[wm.upper()][0] if wm else None, values, rpp,
                          con)
        finally:
            con.close()
        self.count("executions")
        self.count("scans")
        self.count("bound_values", len(values))
        return 200, {"rowType": self.row_type(cols, decl, table), "scan": result}

    def padded(self, result, key_index, size):
        """The JSON of result with short rows of an unasked key appended to its first partition until it
        is about size bytes; numRows and partitionInfo agree with the rows sent."""
        result = json.loads(json.dumps(result))  # the deduplication record keeps the original
        rows = result["data"]
        ncols = len(result["resultSetMetaData"]["rowType"])
        fake = ["1"] * ncols  # the shortest cells: the most JSON values per byte
        fake[key_index] = "999999999999"
        text = json.dumps(fake)
        k = max(1, size // (len(text) + 1))
        meta = result["resultSetMetaData"]
        meta["numRows"] += k
        if meta["partitionInfo"]:
            meta["partitionInfo"][0]["rowCount"] += k
        result = dict(result, data=rows + ["@@PAD@@"])
        return json.dumps(result).encode().replace(
            b'"@@PAD@@"', ",".join([text] * k).encode())

    def statement_timeout_ms(self, body):
        """The body's `timeout` in ms (0 or absent: Snowflake's default of two days)."""
        t = body.get("timeout") if isinstance(body, dict) else None
        return (t if isinstance(t, int) and t > 0 else 172800) * 1000

    def query_status(self, handle, st, code, state, message):
        return {"code": code, "sqlState": state, "message": message, "statementHandle": handle,
                "statementStatusUrl": st["status_url"]}

    def timed_out(self, handle, st):
        self.count("timeouts_408")
        return self.query_status(
            handle, st, "000630", "57014",
            "Statement reached its statement or warehouse timeout of %d second(s) and was "
            "canceled." % (st["timeout_ms"] // 1000))

    def result_set(self, handle, rid, st):
        scan = st.get("scan")
        if scan:
            first = scan.partition(0) if scan.counts else []
            info = [{"rowCount": n, "uncompressedSize": size} for n, size in
                    zip(scan.counts, scan.sizes)]
            nrows, data = scan.total, first
        else:
            rpp = self.rows_per_partition
            rows = st["rows"]
            parts = [rows[i:i + rpp] for i in range(0, len(rows), rpp)] if rpp and rows else [rows]
            st["partitions"] = parts
            info = [{"rowCount": len(p), "uncompressedSize": len(json.dumps(p))} for p in parts]
            nrows, data = len(rows), parts[0]
        return {
            "resultSetMetaData": {
                "numRows": nrows, "format": "jsonv2", "rowType": st["rowType"],
                "partitionInfo": info},
            "data": data, "code": "090001", "sqlState": "00000",
            "message": "Statement executed successfully.", "statementHandle": handle,
            "statementStatusUrl": "/api/v2/statements/%s?requestId=%s" % (handle, rid),
            "createdOn": int(time.time() * 1000)}


class Scan:
    """The result of a whole-table statement: partitions of rpp rows (0: one) in key order, cut
    when the statement runs (their first and last keys and row counts) and each read from the
    database when it is fetched, so the emulator holds one partition at a time."""

    def __init__(self, db_path, table, cols, key, wm, values, rpp, con):
        self.db_path, self.table, self.cols, self.key = db_path, table, cols, key
        self.where = "%s > ?" % wm if wm else None
        self.values = values
        self.bounds, self.counts = [], []
        sql = "SELECT %s FROM %s%s ORDER BY %s" % (
            key, table, " WHERE " + self.where if self.where else "", key)
        first = last = None
        n = 0
        for (k,) in con.execute(sql, values):
            if n == 0:
                first = k
            last = k
            n += 1
            if rpp and n == rpp:
                self.bounds.append((first, last))
                self.counts.append(n)
                n = 0
        if n:
            self.bounds.append((first, last))
            self.counts.append(n)
        self.total = sum(self.counts)
        # an estimate: clients rely on rowCount, not on the size (5.2)
        self.sizes = [c * 40 * len(cols) for c in self.counts]

    def partition(self, i):
        lo, hi = self.bounds[i]
        cond = (self.where + " AND " if self.where else "") + "%s >= ? AND %s <= ?" % (
            self.key, self.key)
        sql = "SELECT %s FROM %s WHERE %s ORDER BY %s" % (", ".join(self.cols), self.table, cond,
                                                          self.key)
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True)
        try:
            return [[None if v is None else str(v) for v in r]
                    for r in con.execute(sql, self.values + [lo, hi])]
        finally:
            con.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sqlapi-emulator/1"
    emu = None

    def setup(self):
        super().setup()
        # without it Nagle holds the body behind the headers until the client's delayed ACK:
        # 40 ms per response that a real service does not add
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.emu.count("connections")  # one handler instance per TCP connection

    def log_message(self, fmt, *args):  # quiet: tests read counters, not logs
        pass

    def send(self, status, payload=None, raw=None, headers=(), gz=False):
        if raw is None:
            raw = b"" if payload is None else json.dumps(payload).encode()
        if gz:
            raw = gzip.compress(raw)
        self.sent_status = status
        self.send_response(status)
        if raw or payload is not None:
            self.send_header("Content-Type", "application/json")
        if gz:
            self.send_header("Content-Encoding", "gzip")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("X-Emulator-Time-Us", str(int((time.monotonic() - self.t0) * 1e6)))
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        try:
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (a cap)
            self.close_connection = True
        self.emu.count("handling_us", int((time.monotonic() - self.t0) * 1e6))

    def error(self, status, code, message, sql_state=None):
        body = {"code": code, "message": message}
        if sql_state:
            body["sqlState"] = sql_state
        self.send(status, body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def common_checks(self, post):
        """Headers every SQL API call needs (section 2); True when the request may go on."""
        emu = self.emu
        emu.count("requests")
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            emu.count("gzip_accepted")
        if not self.headers.get("User-Agent", "").strip():
            self.error(400, "391903", "Invalid or empty User-Agent header.")
            return False
        accept = self.headers.get("Accept", "")
        if "application/json" not in accept and "*/*" not in accept:
            self.error(400, "391904", "Accept must allow application/json.")
            return False
        if post and self.headers.get("Content-Type", "").split(";")[0].strip() != \
                "application/json":
            self.send(415, raw=b"")
            return False
        if self.headers.get("Expect"):
            self.error(400, "390142", "Expect: 100-continue is not wanted (emulator).")
            return False
        hang = False
        with emu.lock:
            slow = emu.faults.get("slow_ms", 0)
        if emu.take_fault("hang"):
            hang = True
        if slow:
            time.sleep(slow / 1000.0)
        if hang:
            with emu.lock:
                hang_ms = emu.faults.get("hang_ms", 20000)
            time.sleep(hang_ms / 1000.0)
            self.close_connection = True
            return False
        bad = emu.authenticate(self)
        if bad:
            emu.count("auth_failures")
            self.error(bad[0], bad[1], bad[2])
            return False
        return True

    def do_GET(self):
        self.t0 = time.monotonic()
        url = urlsplit(self.path)
        emu = self.emu
        if url.path == "/_emulator/counters":
            with emu.lock:
                out = dict(emu.counters)
                out["records"] = list(emu.records)
                out["faults"] = dict(emu.faults)
                out["wh_batches"] = list(emu.wh_batches)
            out.update(emu.warehouse.gauges())
            return self.send(200, out)
        m = HANDLE_RE.match(url.path)
        if not m or m.group(2):
            return self.send(404, raw=b"")
        if not self.common_checks(post=False):
            return
        q = parse_qs(url.query)
        with emu.lock:
            st = emu.statements.get(m.group(1))
        if st is None:
            return self.error(422, "000709", "Statement %s not found" % m.group(1), "02000")
        if "partition" in q:
            i = int(q["partition"][0])
            scan = st.get("scan")
            count = len(scan.counts) if scan else len(st.get("partitions") or [])
            if not scan and st.get("partitions") is None or not 0 <= i < count:
                return self.error(422, "000709", "Partition not found", "02000")
            with emu.lock:
                bare = emu.faults.get("bare_partitions")
                failed = emu.faults.get("fail_partition") == i
            if failed:
                emu.count("partitions_failed")
                emu.count("faults_injected")
                return self.error(422, "000709", "Partition not found (emulated)", "02000")
            emu.count("partitions_served")
            rows = scan.partition(i) if scan else st["partitions"][i]
            payload = rows if bare else {"data": rows}
            if self.paused_partition(i, payload):
                return None
            return self.send(200, payload, gz=i > 0)  # partitions >= 1 are gzip (5.5)
        emu.count("polls")
        if st["state"] == "cancelled":
            return self.error(422, "000604", "SQL execution canceled", "57014")
        if st.get("deadline") is not None and time.monotonic() >= st["deadline"]:
            st["state"] = "cancelled"  # cancelled by its timeout: 408 (5.6)
            return self.send(408, emu.timed_out(m.group(1), st))
        if time.monotonic() < st["ready_at"]:
            return self.send(202, {"code": "333334", "sqlState": "00000",
                                   "message": "Asynchronous execution in progress.",
                                   "statementHandle": m.group(1),
                                   "statementStatusUrl": st["status_url"]})
        return self.send(200, emu.result_set(m.group(1), st["rid"], st))

    def paused_partition(self, i, payload):
        """The pause_partition fault: headers and half the gzip body of partition i, then a wait
        until the fault is cleared (or hang_ms), then the connection closes. True when it fired."""
        emu = self.emu
        with emu.lock:
            if emu.faults.get("pause_partition") != i:
                return False
            hang_ms = emu.faults.get("hang_ms", 20000)
        raw = gzip.compress(json.dumps(payload).encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(raw[:len(raw) // 2])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return True
        emu.count("partitions_paused")
        emu.count("faults_injected")
        end = time.monotonic() + hang_ms / 1000.0
        while time.monotonic() < end:
            with emu.lock:
                if emu.faults.get("pause_partition") != i:
                    break
            time.sleep(0.05)
        return True

    def do_POST(self):
        self.t0 = time.monotonic()
        url = urlsplit(self.path)
        emu = self.emu
        raw = self.read_body()
        if url.path.startswith("/_emulator/"):
            data = json.loads(raw or b"{}")
            if url.path == "/_emulator/faults":
                if data.pop("expire_tokens", False):
                    emu.expire_tokens()
                with emu.lock:
                    emu.faults.update(data)
            elif url.path == "/_emulator/config":
                with emu.lock:
                    if "oauth_tokens" in data:
                        emu.oauth_tokens = set(data["oauth_tokens"])
                    if "pats" in data:
                        emu.pats = set(data["pats"])
                    if "rows_per_partition" in data:
                        emu.rows_per_partition = int(data["rows_per_partition"])
                    for key, conv in (("shuffle_seed", lambda v: v), ("sync_window_ms", int),
                                      ("exec_ms", int), ("spcs_token_form", str)):
                        if key in data:
                            setattr(emu, key, conv(data[key]))
                emu.warehouse.configure(data.get("warehouse_slots"), data.get("statement_ms"),
                                        data.get("warehouse_paused"))
            elif url.path == "/_emulator/reset":
                emu.reset()
            else:
                return self.send(404, raw=b"")
            return self.send(200, {"ok": True})
        if url.path == "/oauth/token":
            return self.oauth_token(raw)
        m = HANDLE_RE.match(url.path)
        if m and m.group(2):
            if not self.common_checks(post=True):
                return
            with emu.lock:
                st = emu.statements.get(m.group(1))
                if st:
                    st["state"] = "cancelled"
                emu.counters["cancels"] += 1
            if not st:
                return self.error(422, "000709", "Statement %s not found" % m.group(1), "02000")
            return self.send(200, {"code": "000604", "sqlState": "57014",
                                   "message": "SQL execution canceled",
                                   "statementHandle": m.group(1)})
        if url.path != "/api/v2/statements":
            return self.send(404, raw=b"")
        self.statement(url, raw)

    def statement(self, url, raw):
        emu = self.emu
        q = parse_qs(url.query)
        rid = q.get("requestId", [None])[0]
        retry = q.get("retry", ["false"])[0] == "true"
        self.sent_status = None
        if not self.common_checks(post=True):
            if getattr(self, "sent_status", None) == 401:  # refused before it could run
                with emu.lock:
                    emu.records.append({"requestId": rid, "retry": retry, "status": 401,
                                        "jwt_iat": None, "jwt_exp": None})
                    if rid in emu.seen_rids and not retry:
                        emu.counters["rid_reuse_without_retry"] += 1
                    emu.seen_rids.add(rid)
            return
        emu.count("statements")
        if retry:
            emu.count("retries")
        record = {"requestId": rid, "retry": retry, "status": None, "jwt_iat": None,
                  "jwt_exp": None}
        if self.headers.get("X-Snowflake-Authorization-Token-Type") == "KEYPAIR_JWT":
            # already verified by common_checks; tests compare iat to see renewals
            claims = json.loads(b64url_decode(self.headers["Authorization"][7:].split(".")[1]))
            record["jwt_iat"], record["jwt_exp"] = claims["iat"], claims["exp"]
        with emu.lock:
            emu.records.append(record)
            if rid in emu.seen_rids and not retry:
                emu.counters["rid_reuse_without_retry"] += 1
            emu.seen_rids.add(rid)
            done = emu.by_rid.get(rid)
        if self.take_status_fault(record):
            return
        if retry and done is not None:  # resubmission of a finished request: do not run again
            emu.count("deduplicated")
            record["status"] = 200
            return self.send(200, done)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            record["status"] = 400
            return self.error(400, "390142", "Incoming request does not contain a valid payload.")
        status, res = emu.run_statement(body)
        record["status"] = status
        handle = str(uuid.uuid4())
        record["handle"] = handle
        if status == 422:  # a QueryFailureStatus names the statement (5.8)
            res = dict(res, statementHandle=handle)
        if status != 200:
            return self.send(status, res)
        st = {"rowType": res["rowType"], "rows": res.get("rows"), "scan": res.get("scan"),
              "rid": rid, "state": "done",
              "ready_at": 0.0, "status_url": "/api/v2/statements/%s?requestId=%s" % (handle, rid)}
        if self.run_for_exec_ms(body, handle, st, record):
            return
        if emu.take_fault("async"):
            with emu.lock:
                st["ready_at"] = time.monotonic() + emu.faults.get("async_ms", 300) / 1000.0
            with emu.lock:
                emu.statements[handle] = st
            record["status"] = 202
            return self.send(202, {"code": "333334", "sqlState": "00000",
                                   "message": "Asynchronous execution in progress.",
                                   "statementHandle": handle, "statementStatusUrl":
                                   st["status_url"]})
        result = emu.result_set(handle, rid, st)
        with emu.lock:
            emu.statements[handle] = st
            emu.by_rid[rid] = result
        if emu.take_fault("500_after_exec"):  # ran, but the answer is lost on the way back
            record["status"] = 500
            return self.send(500, {"code": "000603", "message": "Internal error (emulated)."})
        if emu.take_fault("truncated"):
            full = json.dumps(result).encode()
            return self.send(200, raw=full[:len(full) // 2])
        with emu.lock:
            pad = emu.faults.get("pad_bytes", 0)
        if pad and SELECT_RE.match(body["statement"]):
            emu.count("faults_injected")
            key = SELECT_RE.match(body["statement"]).group(3).upper()
            names = [c["name"] for c in result["resultSetMetaData"]["rowType"]]
            return self.send(200, raw=emu.padded(result, names.index(key), pad))
        self.send(200, result)

    def run_for_exec_ms(self, body, handle, st, record):
        """Statement execution time (--exec-ms): within the synchronous window the POST waits for
        it; past the window it answers 202 and the statement finishes later; past the body's
        timeout it is cancelled with a 408. True when the answer was sent here."""
        emu = self.emu
        with emu.lock:
            exec_ms, window_ms = emu.exec_ms, emu.sync_window_ms
        if not exec_ms:
            return False
        timeout_ms = emu.statement_timeout_ms(body)
        now = time.monotonic()
        st["timeout_ms"] = timeout_ms
        if exec_ms > timeout_ms:
            st["deadline"] = now + timeout_ms / 1000.0
        st["ready_at"] = now + exec_ms / 1000.0
        wait_ms = min(exec_ms, timeout_ms, window_ms)
        time.sleep(wait_ms / 1000.0)
        with emu.lock:
            emu.statements[handle] = st
        if exec_ms > timeout_ms and timeout_ms <= window_ms:
            st["state"] = "cancelled"
            record["status"] = 408
            self.send(408, emu.timed_out(handle, st))
            return True
        if exec_ms > window_ms:
            emu.count("sync_window_202")
            record["status"] = 202
            self.send(202, emu.query_status(handle, st, "333334", "00000",
                                            "Asynchronous execution in progress."))
            return True
        return False

    def take_status_fault(self, record):
        emu = self.emu
        with emu.lock:
            ra = str(emu.faults.get("retry_after", 1))
        if emu.take_fault("429"):
            record["status"] = 429
            self.send(429, {"code": "390505", "message": "Too many requests."},
                      headers=[("Retry-After", ra)])
            return True
        if emu.take_fault("503"):
            record["status"] = 503
            self.send(503, raw=b"<html><body>503 Service Unavailable</body></html>")
            return True
        return False

    def oauth_token(self, raw):
        """Key-pair JWT -> OAuth token exchange (section 7.2); the answer is plain text."""
        emu = self.emu
        emu.count("requests")
        form = parse_qs(raw.decode())
        if self.headers.get("Content-Type", "").split(";")[0] != \
                "application/x-www-form-urlencoded":
            return self.send(415, raw=b"")
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return self.send(400, {"error": "unsupported_grant_type"})
        why = emu.check_jwt(form.get("assertion", [""])[0])
        if why:
            return self.send(400, {"error": "invalid_grant", "error_description": why})
        scope = form.get("scope", [""])[0].split(" ")
        if not scope or not scope[-1] or scope[-1].startswith("session:role:"):
            return self.send(400, {"error": "invalid_scope"})
        token = "ingress-" + uuid.uuid4().hex
        with emu.lock:
            emu.oauth_tokens.add(token)
            emu.counters["oauth_exchanges"] += 1
            emu.last_scope = " ".join(scope)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(token)))
        self.end_headers()
        self.wfile.write(token.encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--public-key", action="append")
    ap.add_argument("--account", default="MYORG-MYACCOUNT")
    ap.add_argument("--user", default="SVC_PAPI")
    ap.add_argument("--oauth-token", action="append")
    ap.add_argument("--pat", action="append")
    ap.add_argument("--database")
    ap.add_argument("--schema")
    ap.add_argument("--warehouse")
    ap.add_argument("--role")
    ap.add_argument("--rows-per-partition", type=int, default=0)
    ap.add_argument("--shuffle-seed", type=int, default=None,
                    help="return result rows shuffled with this seed (arbitrary order)")
    ap.add_argument("--sync-window-ms", type=int, default=45000,
                    help="a statement running longer is answered 202 (Snowflake: 45 s)")
    ap.add_argument("--exec-ms", type=int, default=0, help="execution time of every statement")
    ap.add_argument("--spcs-token-file", help="write rotating SPCS session tokens here")
    ap.add_argument("--spcs-token-rotate-ms", type=int, default=0,
                    help="write a new session token this often (0: once at start)")
    ap.add_argument("--spcs-token-ttl-ms", type=int, default=3600000,
                    help="a session token is accepted this long after it was written")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--max-seconds", type=float, default=600,
                    help="exit after this long, so a forgotten emulator never lingers")
    ap.add_argument("--tls-cert", help="PEM certificate (chain): serve HTTPS")
    ap.add_argument("--tls-key", help="PEM private key of --tls-cert")
    ap.add_argument("--warehouse-slots", type=int, default=0,
                    help="lookup statements running at once; more queue FIFO (0: no limit)")
    ap.add_argument("--statement-ms", type=float, default=0,
                    help="how long each lookup statement holds its warehouse slot")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        sys.exit("emulator: --tls-cert and --tls-key go together")
    if not os.path.exists(args.db):
        sys.exit("emulator: no database at %s (create it with: papi demo-db %s)" %
                 (args.db, args.db))
    Handler.emu = Emulator(args)
    if args.spcs_token_file:
        Handler.emu.issue_spcs_token(args.spcs_token_file, args.spcs_token_ttl_ms)
        if args.spcs_token_rotate_ms > 0:
            threading.Thread(target=Handler.emu.spcs_rotation, daemon=True,
                             args=(args.spcs_token_file, args.spcs_token_rotate_ms,
                                   args.spcs_token_ttl_ms)).start()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.count = Handler.emu.count
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        srv.tls = ctx
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print("PORT %d" % port, flush=True)
    timer = threading.Timer(args.max_seconds, srv.shutdown)
    timer.daemon = True
    timer.start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
