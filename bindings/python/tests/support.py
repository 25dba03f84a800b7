"""Shared set-up: the demo database and the library under test.

PAPI_LIBRARY names the built libpapi.so; PAPI_TEST_DB a demo database, or PAPI_TEST_TOOL the
built `papi` tool, used to create one (`papi demo-db`) in a temporary directory.
"""

import os
import subprocess
import tempfile

_tmp = None
_db = None

# The tests pass their own options: a caller's PAPI_* or SNOWFLAKE_* must not change what the
# library reads from the environment (papi_config_load_env).
for _k in list(os.environ):
    if (_k.startswith("SNOWFLAKE_") or _k.startswith("PAPI_")) and _k != "PAPI_LIBRARY" \
            and not _k.startswith("PAPI_TEST_"):
        del os.environ[_k]


def demo_db():
    global _tmp, _db
    if _db:
        return _db
    db = os.environ.get("PAPI_TEST_DB")
    if db:
        _db = db
        return db
    tool = os.environ.get("PAPI_TEST_TOOL")
    if not tool:
        raise RuntimeError("set PAPI_TEST_DB (a demo database) or PAPI_TEST_TOOL (the papi tool)")
    _tmp = tempfile.TemporaryDirectory(prefix="papi-py-")
    _db = os.path.join(_tmp.name, "demo.db")
    subprocess.run([tool, "demo-db", _db, "--rows", "3000"], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    return _db


def source():
    return "sqlite:" + demo_db()
