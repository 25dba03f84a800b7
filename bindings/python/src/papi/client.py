"""papi.Client: a libpapi client (one source, its caches, its datasets) for Python."""

import ctypes
import json
import logging
import threading

from . import _lib
from .errors import ClientClosed, InvalidInput, error_class

__all__ = ["Client", "Result", "version", "options", "strerror", "status_name"]

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_OUTCOMES = {0: "HIT", 1: "MISS", 2: "STALE"}
# papi_log_level → logging level.
_LOG_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


def _text(raw):
    return raw.decode("utf-8", "replace") if raw else ""


def _raise(lib, status, err):
    """Raises the Error subclass of status with the detail the call wrote into err."""
    st = int(status)
    raise error_class(st)(
        status=st,
        name=_text(lib.papi_status_name(st)),
        detail=_text(err.message),
        strerror=_text(lib.papi_strerror(st)),
        http_status=err.http_status,
        retry_after_s=err.retry_after_s,
        source_code=_text(err.source_code),
        sql_state=_text(err.sql_state),
        query_id=_text(err.query_id),
    )


def _value(key, value):
    """Option values are text in the C API; Python values are spelled the way flags are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, (int, float, str)):
        return str(value)
    if hasattr(value, "__fspath__"):
        return str(value.__fspath__())
    raise TypeError("option %r: unsupported value type %s" % (key, type(value).__name__))


def version():
    """libpapi's version string, e.g. "0.1.0" (the loaded library's, not the package's)."""
    return _text(_lib.library().papi_version())


def strerror(status):
    """papi_strerror(): the sentence naming a papi_status."""
    return _text(_lib.library().papi_strerror(int(status)))


def status_name(status):
    """papi_status_name(): the stable token naming a papi_status, e.g. "EINVAL"."""
    return _text(_lib.library().papi_status_name(int(status)))


def options():
    """Every option key the library knows, as a list of dicts: key, env (or None), secret."""
    lib = _lib.library()
    out = []
    for i in range(lib.papi_config_option_count()):
        env = ctypes.c_char_p()
        secret = ctypes.c_int()
        key = lib.papi_config_option_key(i, ctypes.byref(env), ctypes.byref(secret))
        if key is not None:
            out.append({"key": _text(key), "env": _text(env.value) or None,
                        "secret": bool(secret.value)})
    return out


class Result:
    """A lookup's answer, for callers that want more than the rows: ``rows`` (list of bytes, one
    JSON object each, in the order the ids were asked), ``json`` (bytes of the whole array) and
    ``outcome`` ("HIT", "MISS" or "STALE")."""

    __slots__ = ("rows", "json", "outcome")

    def __init__(self, rows, json_bytes, outcome):
        self.rows = rows
        self.json = json_bytes
        self.outcome = outcome

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def dicts(self):
        return json.loads(self.json)

    def __repr__(self):
        return "<papi.Result %d rows %s>" % (len(self.rows), self.outcome)


class Client:
    """A lookup client over libpapi, safe to share between threads.

    Keyword arguments are libpapi options with underscores for dashes (``cache_ttl=60`` sets
    "cache-ttl"); see ``papi.options()``. The environment (PAPI_*, SNOWFLAKE_*) is read first,
    so arguments win; ``use_env=False`` skips it. ``None`` leaves an option at its default.
    ``logger`` (a logging.Logger, or True for the "papi" logger) receives the library's log
    lines at up to ``log_level`` (a logging level).

    Use it as a context manager or call ``close()``; lookups running in other threads finish
    before the C client is destroyed.
    """

    def __init__(self, source=None, cache=None, cache_ttl=None, max_ids=None, datasets=None,
                 *, use_env=True, logger=None, log_level=logging.INFO, library=None, **options):
        self._lib = _lib.load_library(library) if library else _lib.library()
        self._handle = None
        self._closed = False
        self._inflight = []  # one item per running call: list.append/pop are atomic
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._tls = threading.local()
        self._log_cb = None

        opts = {"source": source, "cache": cache, "cache_ttl": cache_ttl, "max_ids": max_ids,
                "datasets": datasets}
        opts.update(options)
        lib = self._lib
        err = _lib.ErrorStruct()
        cfg = ctypes.c_void_p()
        st = lib.papi_config_create(ctypes.byref(cfg))
        if st != 0:
            _raise(lib, st, err)
        try:
            if use_env:
                st = lib.papi_config_load_env(cfg, ctypes.byref(err))
                if st != 0:
                    _raise(lib, st, err)
            for name, value in opts.items():
                if value is None:
                    continue
                key = name.replace("_", "-")
                st = lib.papi_config_set(cfg, key.encode(), _value(key, value).encode(),
                                         ctypes.byref(err))
                if st != 0:
                    if not err.message:
                        err.message = ("option %s" % key).encode()
                    _raise(lib, st, err)
            if logger is not None:
                self._install_logger(cfg, logger, log_level)
            handle = ctypes.c_void_p()
            st = lib.papi_client_create(cfg, ctypes.byref(handle), ctypes.byref(err))
            if st != 0:
                _raise(lib, st, err)
            self._handle = handle
        finally:
            lib.papi_config_destroy(cfg)

    def _install_logger(self, cfg, logger, log_level):
        if logger is True:
            logger = logging.getLogger("papi")
        max_level = max((lvl for lvl, py in _LOG_LEVELS.items() if py >= log_level), default=0)

        def emit(_user, level, message):
            # Runs on whatever thread called into the library; ctypes takes the GIL for us.
            try:
                logger.log(_LOG_LEVELS.get(level, logging.INFO), "%s", _text(message))
            except Exception:  # a log failure must never unwind through C frames
                pass

        self._log_cb = _lib.LOG_FN(emit)  # kept alive as long as the C client
        st = self._lib.papi_config_set_log(cfg, self._log_cb, None, max_level)
        if st != 0:
            _raise(self._lib, st, _lib.ErrorStruct())

    # ---------------------------------------------------------------- lifetime

    def _enter(self):
        # No lock on the hot path: register first, then look at _closed. close() sets _closed
        # before it looks at _inflight, so either it sees this call and waits for it, or this
        # call sees _closed and backs out (the GIL orders the two).
        self._inflight.append(None)
        if self._closed:
            self._leave()
            raise ClientClosed(name="CLOSED", detail="the client is closed")
        return self._handle

    def _leave(self):
        self._inflight.pop()
        if self._closed and not self._inflight:
            self._idle.set()

    def close(self):
        """Destroys the C client once running calls have returned. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if not self._inflight:
            self._idle.set()
        self._idle.wait()
        with self._lock:
            handle, self._handle = self._handle, None
        if handle:
            self._lib.papi_client_destroy(handle)

    @property
    def closed(self):
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, "_handle", None) and not self._closed:
                self.close()
        except Exception:
            pass

    # ---------------------------------------------------------------- lookups

    def _state(self):
        """This thread's papi_error and out-pointers: never shared between threads, reused
        across calls (allocating them costs about as much as a cache hit). A call made while
        another is running on the same thread (from a log callback) gets its own."""
        cs = getattr(self._tls, "state", None)
        if cs is None:
            cs = self._tls.state = _lib.CallState()
        elif cs.busy:
            cs = _lib.CallState()
        return cs

    def _call(self, fn, args, want_result=False):
        """Runs one lookup-style C call: the answer's JSON as bytes (or a Result)."""
        lib = self._lib
        cs = self._state()
        cs.busy = True
        try:
            handle = self._enter()
            try:
                rc = fn(handle, *args, cs.pres, cs.perr)
            finally:
                self._leave()
            if rc != 0:
                _raise(lib, rc, cs.err)
            res = cs.res.value
            try:
                if want_result:
                    return self._result(res, cs)
                # The answer is NUL-terminated: c_char_p reads it in one step. Should it ever
                # hold a NUL, the length tells and exactly that many bytes are read instead.
                out = lib.papi_result_json_cstr(res, cs.psize)
                if len(out) != cs.size.value:
                    out = ctypes.string_at(lib.papi_result_json(res, None), cs.size.value)
                return out
            finally:
                lib.papi_result_free(res)
        finally:
            cs.busy = False

    def _result(self, res, cs):
        lib = self._lib
        rows = []
        for i in range(lib.papi_result_count(res)):
            p = lib.papi_result_row_json(res, i, cs.psize)
            rows.append(ctypes.string_at(p, cs.size.value))
        p = lib.papi_result_json(res, cs.psize)
        whole = ctypes.string_at(p, cs.size.value)
        return Result(rows, whole, _OUTCOMES.get(lib.papi_result_outcome(res), "MISS"))

    @staticmethod
    def _int_ids(ids):
        """Customer ids as a list of ints, checked as papi_lookup_customers takes them."""
        if isinstance(ids, int):
            ids = (ids,)
        ids = list(ids)
        for i, v in enumerate(ids):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("customer id #%d: expected int, got %s" % (i + 1, type(v).__name__))
            if not _INT64_MIN <= v <= _INT64_MAX:
                raise InvalidInput(status=1, name="EINVAL",
                                   detail="id #%d (%d) does not fit in 64 bits" % (i + 1, v))
        return ids

    def _customers(self, ids):
        """(function, args) for papi_lookup_customers."""
        if type(ids) is list and len(ids) == 1 and type(ids[0]) is int \
                and 0 <= ids[0] <= _INT64_MAX:  # the common case, checked cheaply
            return self._lib.papi_lookup_customers, (ctypes.byref(ctypes.c_int64(ids[0])), 1)
        ids = self._int_ids(ids)
        arr = (ctypes.c_int64 * len(ids))(*ids)
        return self._lib.papi_lookup_customers, (arr, len(ids))

    def _ids(self, dataset, ids, select=None):
        """(function, args) for papi_lookup or papi_lookup_list, or their _opts forms when
        columns are selected."""
        ds = dataset.encode() if isinstance(dataset, str) else bytes(dataset)
        opts = self._options(select)
        if isinstance(ids, (str, bytes)):
            raw = ids.encode() if isinstance(ids, str) else ids
            if opts is not None:
                return self._opts_call("papi_lookup_list_opts"), (ds, raw, len(raw), opts)
            return self._lib.papi_lookup_list, (ds, raw, len(raw))
        if isinstance(ids, int):
            ids = (ids,)
        enc = []
        for i, v in enumerate(ids):
            if isinstance(v, bool):
                raise TypeError("id #%d: expected str, bytes or int, got bool" % (i + 1))
            if isinstance(v, int):
                b = str(v).encode()
            elif isinstance(v, str):
                b = v.encode()
            elif isinstance(v, (bytes, bytearray)):
                b = bytes(v)
            else:
                raise TypeError("id #%d: expected str, bytes or int, got %s"
                                % (i + 1, type(v).__name__))
            if b"\0" in b:
                raise InvalidInput(status=1, name="EINVAL",
                                   detail="id #%d contains a NUL byte" % (i + 1))
            enc.append(b)
        arr = (ctypes.c_char_p * len(enc))(*enc)
        if opts is not None:
            return self._opts_call("papi_lookup_opts"), (ds, arr, len(enc), opts)
        return self._lib.papi_lookup, (ds, arr, len(enc))

    @staticmethod
    def _options(select):
        """A papi_lookup_options selecting columns, or None for every column. ``select``: column
        names (str or bytes), or one comma-separated string."""
        if select is None:
            return None
        if isinstance(select, (str, bytes)):
            select = select.split("," if isinstance(select, str) else b",")
        names = []
        for i, v in enumerate(select):
            if isinstance(v, str):
                v = v.encode()
            elif not isinstance(v, (bytes, bytearray)):
                raise TypeError("select #%d: expected str or bytes, got %s"
                                % (i + 1, type(v).__name__))
            if b"\0" in v:
                raise InvalidInput(status=1, name="EINVAL",
                                   detail="select #%d contains a NUL byte" % (i + 1))
            names.append(bytes(v))
        if not names:
            raise InvalidInput(status=1, name="EINVAL",
                               detail="select is empty: name the columns to answer with")
        arr = (ctypes.c_char_p * len(names))(*names)
        opts = _lib.LookupOptions(struct_size=ctypes.sizeof(_lib.LookupOptions), flags=0,
                                  select=arr, nselect=len(names))
        opts._names = arr  # kept alive with the options
        return ctypes.byref(opts)

    def _opts_call(self, name):
        fn = getattr(self._lib, name, None)
        if fn is None:
            raise InvalidInput(status=1, name="EINVAL",
                               detail="this libpapi (%s) has no column selection (%s)"
                               % (version(), name))
        return fn

    def _customer_ids(self, ids, select):
        """(function, args) for customers by key: papi_lookup_customers, or papi_lookup_opts on
        the `customer` dataset when columns are selected."""
        if select is None:
            return self._customers(ids)
        ids = self._int_ids(ids)
        for i, v in enumerate(ids):
            if v < 0:  # as papi_lookup_customers says it; as text, "-1" would be a bad id
                raise InvalidInput(status=1, name="EINVAL", detail="id %d is negative" % (i + 1))
        return self._ids("customer", ids, select)

    def lookup_customers(self, ids, select=None):
        """Customers of the built-in `customer` dataset by C_CUSTOMER_SK: a list of dicts in the
        order asked; ids that do not exist are left out. ``ids``: ints (or one int). ``select``:
        the columns to answer with, in that order (names in any case, or one comma-separated
        string); None: every column."""
        return json.loads(self._call(*self._customer_ids(ids, select)))

    def lookup(self, dataset, ids, select=None):
        """Rows of ``dataset`` by key: a list of dicts. ``ids``: a list of str/int/bytes, or one
        comma-separated string as URLs carry it ("1,2,3"). ``select``: the columns to answer
        with, in that order (matched case-insensitively; a list, or "A,B"); None: every column.
        An unknown or repeated column raises InvalidInput naming it."""
        return json.loads(self._call(*self._ids(dataset, ids, select)))

    def lookup_raw(self, dataset, ids, select=None):
        """Like lookup(), but the JSON array as bytes, for callers that forward it."""
        return self._call(*self._ids(dataset, ids, select))

    def lookup_customers_raw(self, ids, select=None):
        """Like lookup_customers(), but the JSON array as bytes."""
        return self._call(*self._customer_ids(ids, select))

    def lookup_result(self, dataset, ids, select=None):
        """Like lookup_raw(), but a papi.Result: each row's bytes and the cache outcome."""
        return self._call(*self._ids(dataset, ids, select), want_result=True)

    # ---------------------------------------------------------------- the rest

    def ping(self):
        """Checks that the source answers; raises the source's Error otherwise."""
        err = _lib.ErrorStruct()
        handle = self._enter()
        try:
            st = self._lib.papi_client_ping(handle, ctypes.byref(err))
        finally:
            self._leave()
        if st != 0:
            _raise(self._lib, st, err)

    def datasets(self):
        """Names of the datasets this client serves ("customer" first)."""
        handle = self._enter()
        try:
            lib = self._lib
            return [_text(lib.papi_client_dataset_name(handle, i))
                    for i in range(lib.papi_client_dataset_count(handle))]
        finally:
            self._leave()

    def stats(self):
        """The client's counters (papi_stats) as a dict; histograms (papi._lib.STATS_ARRAYS) are
        lists of per-bucket counts."""
        s = _lib.StatsStruct()
        s.struct_size = ctypes.sizeof(s)
        handle = self._enter()
        try:
            st = self._lib.papi_client_stats(handle, ctypes.byref(s))
        finally:
            self._leave()
        if st != 0:
            _raise(self._lib, st, _lib.ErrorStruct())
        return {f: list(getattr(s, f)) if f in _lib.STATS_ARRAYS else getattr(s, f)
                for f in _lib.STATS_FIELDS}

    def __repr__(self):
        return "<papi.Client %s>" % ("closed" if self._closed else "open")
