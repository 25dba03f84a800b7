#!/usr/bin/python3
"""The snowflake transport against the strict SQL API emulator: every auth path, retries with the
same requestId, 202 polling and cancel, partitions, errors, bind variables and connection reuse,
and HTTPS with a CA generated for this run. Each fault test asserts from the emulator's counters
that its fault was injected.

Needs PAPI (the papi binary), SF_DRIVER (sf_driver) and SF_EMULATOR (sqlapi_emulator.py)."""
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PAPI = os.environ["PAPI"]
DRIVER = os.environ["SF_DRIVER"]
EMULATOR = os.environ["SF_EMULATOR"]
PAT = "pat-secret-0123456789"
POOL = 4


def make_tls_files(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it, valid for a day; returns
    (ca, cert, key) paths. Nothing is committed: every run has its own CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "papi test CA (throwaway)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(valid[0]).not_valid_after(valid[1])
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0]).not_valid_after(valid[1])
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key"))
    for path, data in zip(paths, (
            ca.public_bytes(serialization.Encoding.PEM),
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))):
        with open(path, "wb") as f:
            f.write(data)
    return paths


class Emulator:
    """One emulator process on a free loopback port, killed by close()."""

    def __init__(self, args, ca=None):
        self.proc = subprocess.Popen(["/usr/bin/python3", EMULATOR] + args + ["--max-seconds", "280"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError("emulator did not start: %r" % line)
        self.port = int(line.split()[1])
        self.base = "%s://127.0.0.1:%d" % ("https" if ca else "http", self.port)
        self.ssl = ssl.create_default_context(cafile=ca) if ca else None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Env:
    """Key files, the demo database, a CA and two emulator processes (http and https) for the run."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="papi-sf-")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pub = os.path.join(self.dir, "key.pub")
        self.p8 = os.path.join(self.dir, "key.p8")
        self.enc = os.path.join(self.dir, "key_enc.p8")
        pub = key.public_key()
        with open(self.pub, "wb") as f:
            f.write(pub.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))
        with open(self.p8, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(self.enc, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"open sesame")))
        der = pub.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()
        self.db = os.path.join(self.dir, "demo.db")
        subprocess.run([PAPI, "demo-db", self.db, "--rows", "2000"], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.ca, cert, key = make_tls_files(self.dir)
        args = ["--db", self.db, "--public-key", self.pub, "--account", "MYORG-MYACCOUNT",
                "--user", "SVC_PAPI", "--pat", PAT, "--database", "API", "--role", "DATA_API_ROLE",
                "--warehouse", "TUTORIAL_WAREHOUSE", "--schema", "Mixed Case"]
        self.plain = self.tls = self.spcs = None
        # SPCS: the session token file is rewritten every 500 ms; each token lives 3 s
        self.session_token = os.path.join(self.dir, "session-token")
        try:
            self.plain = Emulator(args)
            self.tls = Emulator(args + ["--tls-cert", cert, "--tls-key", key], ca=self.ca)
            self.spcs = Emulator(args + ["--spcs-token-file", self.session_token,
                                         "--spcs-token-rotate-ms", "500",
                                         "--spcs-token-ttl-ms", "3000"])
        except Exception:
            self.close()
            raise

    def close(self):
        for emu in (self.plain, self.tls, self.spcs):
            if emu:
                emu.close()
        shutil.rmtree(self.dir, ignore_errors=True)


ENV = None


def setUpModule():
    global ENV
    ENV = Env()


def tearDownModule():
    if ENV:
        ENV.close()


class EmulatorCase(unittest.TestCase):
    """Helpers against one emulator (self.emu); no tests of its own."""
    maxDiff = None

    @property
    def emu(self):
        return ENV.plain

    def setUp(self):
        self.post("/_emulator/reset", {})
        self.post("/_emulator/config", {"oauth_tokens": [], "pats": [PAT],
                                        "rows_per_partition": 0, "shuffle_seed": None,
                                        "sync_window_ms": 45000, "exec_ms": 0,
                                        "spcs_token_form": "bearer"})

    # ------------------------------------------------------------ helpers
    def post(self, path, body):
        req = urllib.request.Request(self.emu.base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=self.emu.ssl) as r:
            return json.loads(r.read())

    def counters(self):
        with urllib.request.urlopen(self.emu.base + "/_emulator/counters", timeout=10,
                                    context=self.emu.ssl) as r:
            return json.loads(r.read())

    def faults(self, **f):
        self.post("/_emulator/faults", {k.lstrip("_"): v for k, v in f.items()})

    def env(self, auth="key", **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("SNOWFLAKE_") and not k.startswith("PAPI_")}
        e.update({"SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "svc_papi",
                  "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(self.emu.port),
                  "SNOWFLAKE_PROTOCOL": "https" if self.emu.ssl else "http",
                  "PAPI_SOURCE": "snowflake",
                  "PAPI_CACHE": "none", "PAPI_POOL_SIZE": str(POOL),
                  # no dispatcher: each lookup fetches at once, and only the pool (which the
                  # transport raises to source-concurrency when that is set) caps them
                  "PAPI_SOURCE_CONCURRENCY": "0"})
        if auth == "key":
            e["SNOWFLAKE_PRIVATE_KEY_FILE"] = ENV.p8
        e.update(extra)
        return e

    def papi(self, *args, timeout=60, **env):
        return subprocess.run([PAPI] + list(args), env=self.env(**env), capture_output=True,
                              text=True, timeout=timeout)

    def driver(self, *args, timeout=120, **env):
        p = subprocess.run([DRIVER] + list(args), env=self.env(**env), capture_output=True,
                           text=True, timeout=timeout)
        self.assertGreaterEqual(p.returncode, 0, "driver crashed: %s" % p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def raw_statement(self, body, headers):
        """POSTs body as a statement, with the PAT unless headers say otherwise (None drops a
        header); (status, body)."""
        h = {"Authorization": "Bearer " + PAT,
             "X-Snowflake-Authorization-Token-Type": "PROGRAMMATIC_ACCESS_TOKEN",
             "Content-Type": "application/json", "Accept": "application/json",
             "User-Agent": "test/1"}
        h.update(headers)
        h = {k: v for k, v in h.items() if v is not None}
        req = urllib.request.Request(self.emu.base + "/api/v2/statements?requestId=x",
                                     data=json.dumps(body).encode(), headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def driver_paused(self, lookups, pause_after, between, **env):
        """sf_driver doing `lookups` lookups, paused after `pause_after` of them while
        between() runs; its final JSON line."""
        p = subprocess.Popen([DRIVER, "--lookups", str(lookups), "--wait-after", str(pause_after)],
                             env=self.env(**env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "WAITING")
            between()
            out, _ = p.communicate("go\n", timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return json.loads(out.strip().splitlines()[-1])

    def lookup(self, ids, **env):
        p = self.papi("lookup", ids, **env)
        self.assertGreaterEqual(p.returncode, 0, "papi crashed: %s" % p.stderr)
        return p

    def assert_rows(self, p, ids):
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = json.loads(p.stdout)
        self.assertEqual([r["C_CUSTOMER_SK"] for r in rows], ids)
        return rows

    def lookup_rusage(self, ids, **env):
        """`papi lookup` with its own peak RSS (os.wait4: this child only, not the emulator)."""
        p = subprocess.Popen([PAPI, "lookup", ids], env=self.env(**env), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out, err = p.stdout.read(), p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        p.stderr.close()
        return subprocess.CompletedProcess(p.args, p.returncode, out, err), usage.ru_maxrss


class SnowflakeTest(EmulatorCase):

    # ------------------------------------------------------------ authentication
    def test_keypair_jwt_plain_key(self):
        rows = self.assert_rows(self.lookup("1885,2,3,99999"), [1885, 2, 3])
        self.assertEqual(len(rows[0]), 18)
        c = self.counters()
        self.assertEqual(c["jwt_ok"], 1)
        self.assertEqual(c["auth_failures"], 0)
        self.assertEqual(c["executions"], 1)
        # ids travel as bind variables: 4 ids padded to the bucket of 4, none in the text
        self.assertEqual(c["bindings"], 1)
        self.assertEqual(c["bound_values"], 4)
        self.assertEqual(c["literal_rejects"], 0)
        self.assertGreaterEqual(c["gzip_accepted"], 1)

    def test_keypair_jwt_encrypted_key(self):
        p = self.lookup("7", SNOWFLAKE_PRIVATE_KEY_FILE=ENV.enc,
                        SNOWFLAKE_PRIVATE_KEY_FILE_PWD="open sesame")
        self.assert_rows(p, [7])
        self.assertEqual(self.counters()["jwt_ok"], 1)
        bad = self.lookup("7", SNOWFLAKE_PRIVATE_KEY_FILE=ENV.enc,
                          SNOWFLAKE_PRIVATE_KEY_FILE_PWD="wrong")
        self.assertEqual(bad.returncode, 3, bad.stderr)  # configuration error, nothing sent
        self.assertNotIn("wrong", bad.stderr.replace("wrong or missing", ""))
        self.assertEqual(self.counters()["requests"], 1)

    def test_wrong_account_is_rejected_by_the_emulator(self):
        # proves the emulator's iss check can fail: the region must not be in the JWT, but a
        # different account name must be refused
        p = self.lookup("7", SNOWFLAKE_ACCOUNT="otherorg-acct")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("390144", p.stderr)
        ok = self.lookup("7", SNOWFLAKE_ACCOUNT="myorg-myaccount.us-east-1.privatelink")
        self.assert_rows(ok, [7])

    def test_jwt_verified_by_pyjwt(self):
        p = self.papi("jwt")
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.strip()
        self.assertEqual(pyjwt.get_unverified_header(token), {"alg": "RS256", "typ": "JWT"})
        with open(ENV.pub) as f:
            claims = pyjwt.decode(token, f.read(), algorithms=["RS256"])
        self.assertEqual(claims["iss"], "MYORG-MYACCOUNT.SVC_PAPI." + ENV.fingerprint)
        self.assertEqual(claims["sub"], "MYORG-MYACCOUNT.SVC_PAPI")
        self.assertEqual(claims["exp"] - claims["iat"], 59 * 60)
        self.assertLessEqual(claims["iat"], time.time() + 1)

    def test_jwt_renewed_by_the_clock(self):
        """snowflake-jwt-lifetime=10: the JWT lasts 10 s and is renewed 9 s after its iat
        (10 * 54/59 rounded down), by the clock, before the server could refuse it. Two lookups at
        once share the first JWT; the third, sent between the renewal point and the old JWT's exp,
        must carry a newer one. Without renewal by the clock it would carry the old iat, or, if
        late, meet a 401 (jwt_expired) and renew after it: both fail here."""
        def until_renewal_is_due():
            first = self.counters()["records"][0]
            # time(NULL) in libpapi and time.time() read the same clock; iat is whole seconds,
            # backdated by a tenth of the lifetime (1 s) for clock skew, so the renewal is due
            # from iat + 9.0 and the old JWT is refused from iat + 10.0
            self.assertLessEqual(first["jwt_iat"], time.time() - 1)
            time.sleep(max(0.0, first["jwt_iat"] + 9.3 - time.time()))

        r = self.driver_paused(3, 2, until_renewal_is_due, SNOWFLAKE_JWT_LIFETIME="10")
        self.assertEqual((r["ok"], r["failed"]), (3, 0), r)
        c = self.counters()
        rec = c["records"]
        self.assertEqual([x["status"] for x in rec], [200, 200, 200])
        self.assertEqual([x["jwt_exp"] - x["jwt_iat"] for x in rec], [10, 10, 10])
        self.assertEqual(rec[1]["jwt_iat"], rec[0]["jwt_iat"])  # not renewed before it is due
        # a newer JWT, minted at iat0 + 9.3 or later and backdated by 1 s
        self.assertGreaterEqual(rec[2]["jwt_iat"], rec[0]["jwt_iat"] + 8)
        self.assertEqual(c["jwt_expired"], 0)  # renewed before the server refused it...
        self.assertEqual(c["auth_failures"], 0)  # ...so no 401 at all
        self.assertEqual(r["token_renewals"], 2)  # minted at open, renewed once by the clock

    def test_jwt_lifetime_option(self):
        p = self.papi("jwt", SNOWFLAKE_JWT_LIFETIME="600")
        self.assertEqual(p.returncode, 0, p.stderr)
        claims = pyjwt.decode(p.stdout.strip(), options={"verify_signature": False})
        self.assertEqual(claims["exp"] - claims["iat"], 600)
        for bad in ("7200", "3601", "9", "5", "x", "-1"):
            p = self.lookup("7", SNOWFLAKE_JWT_LIFETIME=bad)
            self.assertEqual(p.returncode, 3, (bad, p.stderr))  # configuration
            self.assertIn("SNOWFLAKE_JWT_LIFETIME", p.stderr)
            self.assertIn("snowflake-jwt-lifetime", p.stderr)
            r = self.driver("--snowflake-jwt-lifetime", bad)
            self.assertEqual((r["status"], r["phase"]), ("ECONFIG", "create"), (bad, r))
            self.assertIn("snowflake-jwt-lifetime", r["message"])
        self.assertEqual(self.counters()["requests"], 0)  # refused before anything was sent

    def test_fingerprint_command(self):
        p = self.papi("fingerprint")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), ENV.fingerprint)

    def test_pat(self):
        p = self.lookup("42", auth="none", SNOWFLAKE_TOKEN=PAT)
        self.assert_rows(p, [42])
        self.assertEqual(self.counters()["pat_ok"], 1)
        bad = self.lookup("42", auth="none", SNOWFLAKE_TOKEN="not-the-pat")
        self.assertEqual(bad.returncode, 4, bad.stderr)
        self.assertIn("HTTP 401", bad.stderr)
        self.assertNotIn("not-the-pat", bad.stderr)  # never echo a credential

    def test_oauth_token_file_reread_on_change(self):
        path = os.path.join(ENV.dir, "token")
        with open(path, "w") as f:
            f.write("oauth-first\n")
        self.post("/_emulator/config", {"oauth_tokens": ["oauth-first"]})

        def rotate():
            # SPCS rotates the file; the old token stops working at once
            with open(path + ".new", "w") as f:
                f.write("oauth-second-rotated\n")
            os.replace(path + ".new", path)
            self.post("/_emulator/config", {"oauth_tokens": ["oauth-second-rotated"]})

        r = self.driver_paused(6, 3, rotate, auth="none", SNOWFLAKE_TOKEN_FILE=path)
        self.assertEqual((r["ok"], r["failed"]), (6, 0), r)
        self.assertEqual(r["token_renewals"], 2)
        c = self.counters()
        self.assertEqual(c["oauth_ok"], 6)
        self.assertEqual(c["auth_failures"], 0)  # picked up by mtime, not by a 401

    def test_expired_token_renews_once(self):
        self.faults(expired_token=1)
        r = self.driver("--lookups", "1")
        self.assertEqual(r["status"], "OK", r)
        self.assertEqual(r["token_renewals"], 2)  # minted at open, re-minted after the 401
        c = self.counters()
        self.assertEqual(c["faults_injected"], 1)
        self.assertEqual(c["auth_failures"], 1)
        self.assertEqual(c["executions"], 1)
        # a second 401 is configuration, not expiry: fail with EAUTH and the code
        self.faults(expired_token=2)
        r = self.driver("--lookups", "1")
        self.assertEqual(r["status"], "EAUTH", r)
        self.assertEqual(r["http_status"], 401)
        self.assertEqual(r["source_code"], "390144")

    def test_oauth_token_file_401_rereads(self):
        path = os.path.join(ENV.dir, "token401")
        with open(path, "w") as f:
            f.write("oauth-A")
        self.post("/_emulator/config", {"oauth_tokens": ["oauth-A"]})
        self.faults(expired_token=1)
        r = self.driver("--lookups", "2", auth="none", SNOWFLAKE_TOKEN_FILE=path)
        self.assertEqual((r["ok"], r["failed"]), (2, 0), r)
        self.assertEqual(r["token_renewals"], 2)
        self.assertEqual(self.counters()["faults_injected"], 1)

    def test_token_exchange_for_ingress(self):
        p = self.papi("token", "--endpoint", "https://abcd-myorg-myaccount.snowflakecomputing.app",
                      "--role", "DATA_API_ROLE")
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.strip()
        self.assertTrue(token.startswith("ingress-"), token)
        self.assertEqual(self.counters()["oauth_exchanges"], 1)
        ok = self.lookup("5", auth="none", SNOWFLAKE_TOKEN=token, SNOWFLAKE_AUTHENTICATOR="OAUTH")
        self.assert_rows(ok, [5])

    # ------------------------------------------------------------ retries
    def records(self):
        return [(r["requestId"], r["retry"], r["status"]) for r in self.counters()["records"]]

    def test_429_retry_after_same_request_id(self):
        self.faults(_429=2, retry_after=1)
        t0 = time.monotonic()
        self.assert_rows(self.lookup("10"), [10])
        self.assertGreaterEqual(time.monotonic() - t0, 2.0)  # Retry-After: 1, twice
        rec = self.records()
        self.assertEqual(len(rec), 3)
        self.assertEqual(len({r[0] for r in rec}), 1)  # one requestId for all attempts
        self.assertEqual([r[1] for r in rec], [False, True, True])
        self.assertEqual([r[2] for r in rec], [429, 429, 200])
        c = self.counters()
        self.assertEqual(c["faults_injected"], 2)
        self.assertEqual(c["executions"], 1)
        self.assertEqual(c["rid_reuse_without_retry"], 0)

    def test_503_then_success(self):
        self.faults(_503=1)
        self.assert_rows(self.lookup("11"), [11])
        rec = self.records()
        self.assertEqual([(r[1], r[2]) for r in rec], [(False, 503), (True, 200)])
        self.assertEqual(rec[0][0], rec[1][0])

    def test_lost_answer_is_not_executed_twice(self):
        self.faults(_500_after_exec=1)
        self.assert_rows(self.lookup("12"), [12])
        c = self.counters()
        self.assertEqual(c["faults_injected"], 1)
        self.assertEqual(c["statements"], 2)
        self.assertEqual(c["executions"], 1)   # the retry=true resubmission was deduplicated
        self.assertEqual(c["deduplicated"], 1)

    def test_429_exhausted_is_unavailable(self):
        self.faults(_429=10, retry_after=1)
        r = self.driver("--max-attempts", "2")
        self.assertEqual(r["status"], "EUNAVAIL", r)
        self.assertEqual(r["http_status"], 429)
        self.assertEqual(r["retry_after_s"], 1)
        self.assertEqual(r["source_code"], "390505")
        self.assertEqual(len(self.records()), 2)

    def test_hang_times_out(self):
        self.faults(hang=1, hang_ms=8000)
        t0 = time.monotonic()
        p = self.lookup("13", PAPI_TIMEOUT_MS="800")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("deadline", p.stderr)
        self.assertEqual(self.counters()["faults_injected"], 1)

    def test_truncated_json_is_a_clear_error(self):
        self.faults(truncated=1)
        p = self.lookup("14", PAPI_MAX_ATTEMPTS="1")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("malformed result", p.stderr)
        self.assertEqual(self.counters()["faults_injected"], 1)

    # ------------------------------------------------------------ results
    def test_202_is_polled(self):
        self.faults(_async=1, async_ms=400)
        self.assert_rows(self.lookup("15,16"), [15, 16])
        c = self.counters()
        self.assertEqual(c["faults_injected"], 1)
        self.assertGreaterEqual(c["polls"], 2)
        self.assertEqual(c["cancels"], 0)

    def test_202_past_the_deadline_is_cancelled(self):
        self.faults(_async=1, async_ms=60000)
        r = self.driver("--timeout-ms", "1200")
        self.assertEqual(r["status"], "ETIMEDOUT", r)
        c = self.counters()
        self.assertEqual(c["cancels"], 1)
        self.assertGreaterEqual(c["polls"], 1)

    def test_partitions_are_fetched_and_counted(self):
        self.post("/_emulator/config", {"rows_per_partition": 2})
        ids = [21, 22, 23, 24, 25, 26, 27]
        self.assert_rows(self.lookup(",".join(map(str, ids))), ids)
        self.assertEqual(self.counters()["partitions_served"], 3)  # 4 partitions, first inline
        self.faults(bare_partitions=True)
        self.assert_rows(self.lookup(",".join(map(str, ids))), ids)

    def test_column_mismatch(self):
        self.faults(rename_column=[2, "C_SOMETHING_ELSE"])
        p = self.lookup("17")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("column 3 is C_SOMETHING_ELSE", p.stderr)
        self.assertIn("dataset expects C_CURRENT_CDEMO_SK", p.stderr)

    def test_422_carries_snowflake_code(self):
        self.faults(sql_error=1)
        r = self.driver()
        self.assertEqual(r["status"], "ESOURCE", r)
        self.assertEqual(r["http_status"], 422)
        self.assertEqual(r["source_code"], "002003")
        self.assertEqual(r["sql_state"], "42S02")
        self.assertIn("does not exist", r["message"])
        self.assertEqual(len(self.records()), 1)  # not retried

    def test_context_names_in_the_case_show_reports(self):
        """B1: the emulator knows API, DATA_API_ROLE, TUTORIAL_WAREHOUSE and the quoted schema
        "Mixed Case" and compares names case-sensitively, as Snowflake stores them: unquoted names
        are uppercased (Snowflake's SPCS tutorials write tutorial_warehouse), quoted ones keep
        their case and characters."""
        r = self.driver(SNOWFLAKE_DATABASE="API", SNOWFLAKE_ROLE="DATA_API_ROLE")
        self.assertEqual(r["status"], "OK", r)
        r = self.driver(SNOWFLAKE_DATABASE="api", SNOWFLAKE_ROLE="data_api_role",
                        SNOWFLAKE_WAREHOUSE="tutorial_warehouse", SNOWFLAKE_SCHEMA='"Mixed Case"')
        self.assertEqual(r["status"], "OK", r)
        self.assertEqual(self.counters()["executions"], 2)
        r = self.driver("--ping", SNOWFLAKE_WAREHOUSE="tutorial_warehouse")
        self.assertEqual(r["status"], "OK", r)
        # quoted, the lowercase name is another object, which does not exist
        r = self.driver(SNOWFLAKE_WAREHOUSE='"tutorial_warehouse"')
        self.assertEqual((r["status"], r["source_code"]), ("ESOURCE", "002003"), r)
        r = self.driver(SNOWFLAKE_SCHEMA="mixed case")  # not a plain identifier: configuration
        self.assertEqual((r["status"], r["phase"]), ("ECONFIG", "create"), r)
        self.assertIn("snowflake-schema", r["message"])
        p = self.lookup("7", SNOWFLAKE_SCHEMA='"Mixed Case')
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("snowflake-schema", p.stderr)

    # ------------------------------------------------------------ hostile and late answers
    def test_oversized_answer_is_refused_early(self):
        """A8: a lookup's answer is capped by what its rows can need (here about 1 MiB for one
        customer), not by the 64 MiB that any answer may take: a 20 MiB answer padded with rows of
        an unasked key fails fast with EPROTO, with the statement's id."""
        self.faults(pad_bytes=20 << 20)
        t0 = time.monotonic()
        r = self.driver("--max-attempts", "1")
        self.assertEqual(r["status"], "EPROTO", r)
        self.assertIn("bytes this request allows", r["message"])
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(self.counters()["faults_injected"], 1)

    def test_big_answer_costs_a_small_multiple_of_itself(self):
        """A8: with cells allowed to be huge (max-cell-bytes), a 24 MiB answer is accepted; its
        rows are read straight from the body (no DOM of `data`), so papi's peak RSS stays a
        small multiple of the answer: it was about 18 times (a json_t, a copy and a slot for
        each of 6 million short cells) before."""
        self.faults(pad_bytes=24 << 20)
        p, rss_kib = self.lookup_rusage("1885", PAPI_MAX_CELL_BYTES="16777216",
                                        PAPI_MAX_ATTEMPTS="1", PAPI_TIMEOUT_MS="60000")
        self.assert_rows(p, [1885])
        self.assertLess(rss_kib, 4 * 24 * 1024, "peak RSS %d KiB for a 24 MiB answer" % rss_kib)

    # ------------------------------------------------------------ header injection (A12)
    def test_control_characters_in_header_values_are_refused(self):
        injected = "pat-secret\r\nX-Injected: 1"
        for how in ("env", "flag"):
            if how == "env":
                p = self.lookup("7", auth="none", SNOWFLAKE_TOKEN=injected)
            else:
                p = self.papi("lookup", "--snowflake-token", injected, "7", auth="none")
            self.assertEqual(p.returncode, 3, (how, p.stderr))  # configuration, nothing sent
            self.assertIn("snowflake-token", p.stderr)
            self.assertIn("control character", p.stderr)
            self.assertNotIn("pat-secret", p.stderr)  # never the value
        path = os.path.join(ENV.dir, "token-injected")
        with open(path, "w") as f:
            f.write("oauth-x\r\nX-Injected: 1\n")
        p = self.lookup("7", auth="none", SNOWFLAKE_TOKEN_FILE=path)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(path, p.stderr)
        self.assertNotIn("oauth-x", p.stderr)
        p = self.lookup("7", SNOWFLAKE_HOST="127.0.0.1\r\nX-Injected: 1")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("snowflake-host", p.stderr)
        self.assertEqual(self.counters()["requests"], 0)

    # ------------------------------------------------------------ operator messages (A16)
    def test_missing_key_file_names_path_and_reason(self):
        path = os.path.join(ENV.dir, "no-such-key.p8")
        p = self.lookup("7", SNOWFLAKE_PRIVATE_KEY_FILE=path)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(path, p.stderr)
        self.assertIn("No such file or directory", p.stderr)

    def test_connection_failure_logs_curls_reason(self):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        p = self.papi("lookup", "-v", "7", SNOWFLAKE_PORT=str(port), PAPI_MAX_ATTEMPTS="2")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertNotIn("HTTP 0", p.stderr)
        retry = [ln for ln in p.stderr.splitlines() if "retrying in" in ln]
        self.assertEqual(len(retry), 1, p.stderr)
        self.assertIn("connection failed", retry[0])
        self.assertIn(str(port), retry[0])  # curl's own words name the address

    # ------------------------------------------------------------ query ids (A14)
    def test_failures_carry_the_statement_handle(self):
        self.faults(sql_error=1)
        r = self.driver()
        self.assertEqual((r["status"], r["http_status"]), ("ESOURCE", 422), r)
        handle = self.counters()["records"][0]["handle"]
        self.assertEqual(r["query_id"], handle)
        self.assertNotIn("\n", r["message"])
        self.assertIn("\\n", r["message"])  # Snowflake's newline, escaped
        # a result papi refuses (wrong columns) names its statement too
        self.post("/_emulator/reset", {})
        self.faults(rename_column=[2, "C_SOMETHING_ELSE"])
        r = self.driver()
        self.assertEqual(r["status"], "EPROTO", r)
        self.assertEqual(r["query_id"], self.counters()["records"][0]["handle"])

    def test_cancelled_202_carries_the_statement_handle(self):
        self.faults(_async=1, async_ms=60000)
        r = self.driver("--timeout-ms", "1200")
        self.assertEqual(r["status"], "ETIMEDOUT", r)
        self.assertEqual(r["query_id"], self.counters()["records"][0]["handle"])
        self.assertEqual(self.counters()["cancels"], 1)

    # ------------------------------------------------------------ retries after a 401 (B4)
    def test_resend_after_401_says_retry(self):
        """The statement was refused before it ran, yet its requestId was already sent: the
        resend keeps the id (one id traces the request) and says retry=true, as the API asks."""
        self.faults(expired_token=1)
        self.assert_rows(self.lookup("8"), [8])
        rec = self.records()
        self.assertEqual([(r[1], r[2]) for r in rec], [(False, 401), (True, 200)])
        self.assertEqual(rec[0][0], rec[1][0])
        c = self.counters()
        self.assertEqual(c["rid_reuse_without_retry"], 0)
        self.assertEqual(c["executions"], 1)

    # ------------------------------------------------------------ emulator realism (B7)
    def test_rows_in_arbitrary_order(self):
        self.post("/_emulator/config", {"shuffle_seed": 7})
        ids = list(range(30, 50))
        self.assert_rows(self.lookup(",".join(map(str, ids))), ids)
        self.assertEqual(self.counters()["rows_shuffled"], 1)
        self.post("/_emulator/config", {"rows_per_partition": 3})
        self.assert_rows(self.lookup(",".join(map(str, ids))), ids)

    def test_sync_window_turns_into_202(self):
        """A statement running past the synchronous window (45 s at Snowflake, 300 ms here) is
        answered 202 and polled to its result."""
        self.post("/_emulator/config", {"sync_window_ms": 300, "exec_ms": 900})
        self.assert_rows(self.lookup("15,16"), [15, 16])
        c = self.counters()
        self.assertEqual(c["sync_window_202"], 1)
        self.assertGreaterEqual(c["polls"], 1)
        self.assertEqual(c["cancels"], 0)
        self.assertEqual([r[2] for r in self.records()], [202])

    def test_statement_timeout_is_408(self):
        """Past its `timeout` (statement-timeout) Snowflake cancels a statement: 408 QueryStatus,
        ETIMEDOUT with its id, not retried; the same when the 408 comes to a poll."""
        self.post("/_emulator/config", {"exec_ms": 3000})
        r = self.driver(PAPI_STATEMENT_TIMEOUT="1")
        self.assertEqual((r["status"], r["http_status"], r["source_code"]),
                         ("ETIMEDOUT", 408, "000630"), r)
        c = self.counters()
        self.assertEqual(r["query_id"], c["records"][0]["handle"])
        self.assertEqual(c["timeouts_408"], 1)
        self.assertEqual(len(c["records"]), 1)  # not retried
        self.post("/_emulator/reset", {})
        self.post("/_emulator/config", {"sync_window_ms": 300, "exec_ms": 5000})
        r = self.driver(PAPI_STATEMENT_TIMEOUT="1")
        self.assertEqual((r["status"], r["http_status"]), ("ETIMEDOUT", 408), r)
        c = self.counters()
        self.assertEqual(r["query_id"], c["records"][0]["handle"])
        self.assertEqual((c["sync_window_202"], c["timeouts_408"]), (1, 1))

    def test_ping(self):
        r = self.driver("--ping")
        self.assertEqual(r["status"], "OK", r)
        self.assertEqual(self.counters()["executions"], 1)

    # ------------------------------------------------------------ connections
    def test_connections_are_reused(self):
        before = self.counters()["connections"]
        r = self.driver("--lookups", "50", "--ids", "1,2,3")
        self.assertEqual((r["ok"], r["source_calls"]), (50, 50), r)
        opened = self.counters()["connections"] - before - 1  # minus our counters request
        self.assertLessEqual(opened, POOL)
        before = self.counters()["connections"]
        r = self.driver("--lookups", "200", "--threads", "8", "--ids", "4,5")
        self.assertEqual(r["ok"], 200, r)
        opened = self.counters()["connections"] - before - 1
        self.assertLessEqual(opened, POOL)

    # ------------------------------------------------------------ the emulator is strict
    def test_emulator_rejects_what_snowflake_rejects(self):
        sql = "SELECT C_CUSTOMER_SK FROM API.DATA.HYBRID_CUSTOMER WHERE C_CUSTOMER_SK IN (1885)"
        status, _ = self.raw_statement({"statement": sql}, {})
        self.assertEqual(status, 422)
        self.assertEqual(self.counters()["literal_rejects"], 1)
        ok = {"statement": sql.replace("(1885)", "(?)"),
              "bindings": {"1": {"type": "FIXED", "value": "1885"}}}
        self.assertEqual(self.raw_statement(ok, {})[0], 200)
        status, body = self.raw_statement(ok, {"User-Agent": ""})
        self.assertEqual(status, 400)
        self.assertIn(b"391903", body)
        status, _ = self.raw_statement(ok, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415)
        num = {"statement": ok["statement"], "bindings": {"1": {"type": "FIXED", "value": 1885}}}
        self.assertEqual(self.raw_statement(num, {})[0], 400)


class HttpsTest(EmulatorCase):
    """The same transport over TLS: the emulator's certificate is signed by a CA made for this run,
    which only SNOWFLAKE_CA_FILE makes papi trust. The emulator counts one handshake per accepted
    connection (tls_handshakes) and the handshakes clients gave up on (tls_failures)."""

    @property
    def emu(self):
        return ENV.tls

    def env(self, auth="key", **extra):
        e = super().env(auth, **extra)
        if "SNOWFLAKE_CA_FILE" not in extra:
            e["SNOWFLAKE_CA_FILE"] = ENV.ca
        return {k: v for k, v in e.items() if v is not None}

    def test_lookup_over_https_with_the_ca_file(self):
        before = self.counters()["tls_handshakes"]
        rows = self.assert_rows(self.lookup("1885,2"), [1885, 2])
        self.assertEqual(len(rows[0]), 18)
        c = self.counters()
        self.assertEqual(c["executions"], 1)
        self.assertEqual(c["jwt_ok"], 1)
        self.assertEqual(c["tls_failures"], 0)
        # papi's connection and our second counters request: one handshake each
        self.assertEqual(c["tls_handshakes"] - before, 2)

    def test_untrusted_certificate_is_a_clear_error(self):
        before = self.counters()
        p = self.lookup("7", SNOWFLAKE_CA_FILE=None)  # the system's CAs do not know this one
        self.assertEqual(p.returncode, 4, p.stderr)  # source error, not a crash
        self.assertIn("EUNAVAIL", p.stderr)
        self.assertIn("TLS certificate", p.stderr)
        self.assertIn("SNOWFLAKE_CA_FILE", p.stderr)
        r = self.driver("--lookups", "1", SNOWFLAKE_CA_FILE=None)
        self.assertEqual(r["status"], "EUNAVAIL", r)
        self.assertIn("certificate", r["message"])
        c = self.counters()
        self.assertEqual(c["requests"], 0)  # nothing got past the handshake
        # one refused handshake per lookup: a certificate does not become trusted by retrying
        self.assertEqual(c["tls_failures"] - before["tls_failures"], 2)

    def test_unreadable_ca_file_is_configuration(self):
        p = self.lookup("7", SNOWFLAKE_CA_FILE=os.path.join(ENV.dir, "no-such-ca.pem"))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("snowflake-ca-file", p.stderr)
        self.assertEqual(self.counters()["tls_failures"], 0)

    def test_handshakes_are_bounded_by_the_pool(self):
        before = self.counters()["tls_handshakes"]
        r = self.driver("--lookups", "50", "--ids", "1,2,3")
        self.assertEqual((r["ok"], r["source_calls"]), (50, 50), r)
        c = self.counters()
        self.assertEqual(c["executions"], 50)
        self.assertLessEqual(c["tls_handshakes"] - before - 1, POOL)  # minus our counters call
        before = c["tls_handshakes"]
        r = self.driver("--lookups", "200", "--threads", "8", "--ids", "seq")
        self.assertEqual((r["ok"], r["source_calls"]), (200, 200), r)
        c = self.counters()
        self.assertEqual(c["executions"], 250)
        self.assertLessEqual(c["tls_handshakes"] - before - 1, POOL)
        self.assertEqual(c["tls_failures"], 0)

    def test_http2_is_offered(self):
        # the emulator (http.server) answers HTTP/1.1 only; what this proves is that papi asks
        # for h2 in ALPN, so a server that offers HTTP/2 gets it
        self.assert_rows(self.lookup("3"), [3])
        c = self.counters()
        self.assertEqual(c["executions"], 1)
        # urllib's counters call offers http/1.1 only, so every h2 offer is papi's
        self.assertEqual(c["alpn_h2_offered"], 1)


class SpcsTest(EmulatorCase):
    """The SPCS session token against an emulator that rewrites its token file every 500 ms and
    accepts each token for 3 s (as SPCS rotates them every few minutes, each valid at most an
    hour)."""

    @property
    def emu(self):
        return ENV.spcs

    def env(self, auth="none", **extra):
        e = super().env(auth, **extra)
        e.setdefault("SNOWFLAKE_TOKEN_FILE", ENV.session_token)
        return e

    def test_rotating_tokens_are_followed(self):
        # meanwhile every token papi has read so far expires
        r = self.driver_paused(4, 2, lambda: time.sleep(3.5))
        self.assertEqual((r["ok"], r["failed"]), (4, 0), r)
        c = self.counters()
        self.assertGreaterEqual(c["spcs_rotations"], 6)
        self.assertEqual(c["oauth_expired"], 0)  # re-read by mtime before it expired
        self.assertEqual(c["auth_failures"], 0)
        self.assertGreaterEqual(r["token_renewals"], 2)
        # the emulator does refuse an expired token: proves the test above could fail
        with open(ENV.session_token) as f:
            old = f.read().strip()
        time.sleep(3.5)
        status, body = self.raw_statement({"statement": "SELECT 1"},
                                          {"Authorization": "Bearer " + old,
                                           "X-Snowflake-Authorization-Token-Type": "OAUTH"})
        self.assertEqual(status, 401)
        self.assertIn(b"390318", body)
        self.assertEqual(self.counters()["oauth_expired"], 1)

    def test_bearer_form_is_kept_when_it_works(self):
        p = self.papi("lookup", "-v", "3")
        self.assert_rows(p, [3])
        self.assertIn("works as Authorization: Bearer", p.stderr)
        c = self.counters()
        self.assertEqual((c["auth_failures"], c["snowflake_token_form_ok"]), (0, 0))

    def test_snowflake_token_form_after_bearer_is_refused(self):
        """B3: where the SQL API refuses Bearer + OAUTH for the session token, papi renews the
        token once, then tries `Authorization: Snowflake Token="..."` (no token type) once, logs
        which form worked, and keeps using it."""
        self.post("/_emulator/config", {"spcs_token_form": "snowflake"})
        p = self.papi("lookup", "-v", "3")
        self.assert_rows(p, [3])
        self.assertIn('works as Authorization: Snowflake Token="..."', p.stderr)
        self.assertNotIn("spcs-", p.stderr)  # never the token
        c = self.counters()
        self.assertEqual((c["auth_failures"], c["snowflake_token_form_ok"]), (2, 1))
        self.post("/_emulator/reset", {})
        r = self.driver("--lookups", "5", "--ids", "seq")
        self.assertEqual((r["ok"], r["failed"]), (5, 0), r)
        c = self.counters()
        self.assertEqual((c["auth_failures"], c["snowflake_token_form_ok"]), (2, 5))
        rec = c["records"]  # the resends of the first statement keep its requestId, retry=true
        self.assertEqual([(x["retry"], x["status"]) for x in rec[:3]],
                         [(False, 401), (True, 401), (True, 200)])
        self.assertEqual(c["rid_reuse_without_retry"], 0)

    def test_no_form_works_is_eauth(self):
        self.post("/_emulator/config", {"spcs_token_form": "none"})
        r = self.driver()
        self.assertEqual((r["status"], r["http_status"]), ("EAUTH", 401), r)
        self.assertEqual(self.counters()["auth_failures"], 3)  # Bearer, renewed, other form


if __name__ == "__main__":
    unittest.main(verbosity=2)
