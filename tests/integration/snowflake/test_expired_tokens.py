#!/usr/bin/python3
"""Expired credentials under concurrent fetches, against the emulator's token-based faults (as
Snowflake expires a token: every request carrying it is refused, a fresh one is accepted).

Several lookups in flight at once all meet the same expired token: the transport renews it once
(the first 401 renews, the others take the renewed token), resends each refused statement once
with its requestId and retry=true, and every lookup succeeds. A credential the source keeps
refusing still ends in EAUTH after exactly one resend per fetch, never a loop. Both for key-pair
JWTs and for the OAuth token file (SPCS), whose rotation papi may learn of only from a 401.

The emulator's counted expired_token fault refuses the next N requests whatever they carry, so
with fetches in flight at once it also refuses another fetch's resend: that, not the transport,
gave the 502 EAUTH seen with papi-httpd under many concurrent misses.

Needs PAPI, SF_DRIVER and SF_EMULATOR, as test_snowflake.py (whose emulators it shares)."""
import json
import os
import subprocess
import time
import unittest

import test_snowflake as ts

THREADS = 8
LOOKUPS = THREADS + 1  # one to show the emulator the token, then a burst of THREADS at once


def setUpModule():
    ts.setUpModule()


def tearDownModule():
    ts.tearDownModule()


class ExpiredTokenCase(ts.EmulatorCase):
    """Helpers: a driver that looks up once, pauses, then starts THREADS lookups together."""

    def env(self, auth="key", **extra):
        e = super().env(auth, **extra)
        e["PAPI_POOL_SIZE"] = str(THREADS)  # every lookup of the burst in flight at once
        return e

    def burst(self, between, **env):
        """sf_driver: one lookup, then between() while every thread waits, then THREADS lookups
        of distinct ids at once; its final JSON line."""
        p = subprocess.Popen([ts.DRIVER, "--lookups", str(LOOKUPS), "--threads", str(THREADS),
                              "--ids", "seq", "--wait-after", "1"],
                             env=self.env(**env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "WAITING")
            between()
            out, _ = p.communicate("go\n", timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return json.loads(out.strip().splitlines()[-1])

    def wait_accepted(self, counter):
        """Until the first lookup's credential was accepted (it may still be on its way)."""
        for _ in range(600):
            if self.counters()[counter] >= 1:
                return
            time.sleep(0.05)
        self.fail("the first lookup never reached the emulator")

    def by_rid(self):
        """{requestId: [(retry, status), ...]} of every statement POST."""
        out = {}
        for r in self.counters()["records"]:
            out.setdefault(r["requestId"], []).append((r["retry"], r["status"]))
        return out

    def assert_renewed_once(self, r, ok_counter):
        """Every lookup succeeded after one renewal; each refused statement was resent once."""
        self.assertEqual((r["ok"], r["failed"]), (LOOKUPS, 0), r)
        self.assertEqual(r["token_renewals"], 2, r)  # at start-up, and once after the 401s
        c = self.counters()
        self.assertGreaterEqual(c["tokens_expired"], 1, "the fault never fired")
        self.assertEqual(c["auth_failures"], c["tokens_expired"])
        self.assertEqual(c[ok_counter], LOOKUPS)
        self.assertEqual(c["rid_reuse_without_retry"], 0)
        for rid, sends in self.by_rid().items():
            self.assertIn(sends, ([(False, 200)], [(False, 401), (True, 200)]), rid)
        return c

    def assert_eauth_without_loop(self, r, code):
        """Every lookup of the burst failed with EAUTH after exactly one resend."""
        self.assertEqual((r["ok"], r["failed"]), (1, THREADS), r)
        self.assertEqual((r["status"], r["http_status"], r["source_code"]), ("EAUTH", 401, code),
                         r)
        c = self.counters()
        self.assertEqual(c["auth_failures"], 2 * THREADS)
        sends = list(self.by_rid().values())
        self.assertEqual(sorted(sends), [[(False, 200)]] + [[(False, 401), (True, 401)]] * THREADS)


class JwtTest(ExpiredTokenCase):

    def test_concurrent_fetches_renew_an_expired_jwt_once(self):
        def expire():
            self.wait_accepted("jwt_ok")
            # a JWT's claims count whole seconds: a re-mint within the second of the first mint
            # would be that very token (and, on Snowflake, just as expired)
            time.sleep(1.1)
            # slow_ms: every lookup of the burst has sent the expired token before any 401 is back
            self.faults(expire_tokens=True, slow_ms=300)

        r = self.burst(expire)
        c = self.assert_renewed_once(r, "jwt_ok")
        iats = sorted({x["jwt_iat"] for x in c["records"] if x["status"] == 200})
        self.assertEqual(len(iats), 2, c["records"])  # the first token, then the renewed one

    def test_jwt_refused_even_fresh_is_eauth_without_loop(self):
        def skew():
            self.wait_accepted("jwt_ok")
            # papi's clock two hours behind Snowflake's: a fresh JWT is expired too
            self.faults(clock_ahead_s=7200, slow_ms=300)

        r = self.burst(skew)
        self.assert_eauth_without_loop(r, "390144")
        self.assertLessEqual(r["token_renewals"], 1 + THREADS, r)


class TokenFileTest(ExpiredTokenCase):
    """The OAuth token file (the SPCS session token's path) with tokens the emulator accepts."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(ts.ENV.dir, "token-expiry")
        with open(self.path, "w") as f:
            f.write("oauth-A1\n")
        self.post("/_emulator/config", {"oauth_tokens": ["oauth-A1", "oauth-B2"]})

    def test_concurrent_fetches_reread_an_expired_token_file_once(self):
        def rotate():
            self.wait_accepted("oauth_ok")
            self.faults(expire_tokens=True, slow_ms=300)
            # the new token arrives with the old file's size and mtime, as if it had come
            # between papi's look at the file and Snowflake's check: papi learns of it only
            # from the 401, and then reads the file once for every fetch
            st = os.stat(self.path)
            with open(self.path, "w") as f:
                f.write("oauth-B2\n")
            os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns))

        r = self.burst(rotate, auth="none", SNOWFLAKE_TOKEN_FILE=self.path)
        self.assert_renewed_once(r, "oauth_ok")

    def test_expired_token_file_not_rotated_is_eauth_without_loop(self):
        def expire():
            self.wait_accepted("oauth_ok")
            self.faults(expire_tokens=True, slow_ms=300)

        r = self.burst(expire, auth="none", SNOWFLAKE_TOKEN_FILE=self.path)
        self.assert_eauth_without_loop(r, "390318")


class SpcsBurstTest(ExpiredTokenCase):
    """The SPCS emulator rewrites its session token file every 500 ms; each token lives 3 s."""

    @property
    def emu(self):
        return ts.ENV.spcs

    def test_concurrent_fetches_follow_rotated_session_tokens(self):
        def outlive():
            self.wait_accepted("oauth_ok")
            time.sleep(3.5)  # every token papi has read so far expires meanwhile

        r = self.burst(outlive, auth="none", SNOWFLAKE_TOKEN_FILE=ts.ENV.session_token)
        self.assertEqual((r["ok"], r["failed"]), (LOOKUPS, 0), r)
        c = self.counters()
        self.assertEqual(c["oauth_ok"], LOOKUPS)
        self.assertGreaterEqual(r["token_renewals"], 2)
        for rid, sends in self.by_rid().items():  # a 401 only if a rotation raced the request
            self.assertIn(sends, ([(False, 200)], [(False, 401), (True, 200)]), rid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
