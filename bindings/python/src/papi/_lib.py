"""Finding libpapi and declaring its C ABI for ctypes.

Nothing here runs at import time: ``import papi`` succeeds without the library, and the first
``papi.Client`` (or ``papi.load_library()``) looks for it, so that a missing library is reported
as ``papi.LibraryNotFound`` naming every place that was tried.
"""

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading

__all__ = ["LibraryNotFound", "load_library", "library", "ErrorStruct", "StatsStruct",
           "LookupOptions"]

# libpapi's SONAME; the bare "libpapi.so" exists only with the -dev files installed.
_SONAME = "libpapi.so.0"
_NAMES = (_SONAME, "libpapi.so")

PAPI_ERROR_MESSAGE_MAX = 256


class LibraryNotFound(ImportError):
    """libpapi could not be loaded. ``tried`` lists (place, reason) pairs in search order."""

    def __init__(self, tried):
        self.tried = list(tried)
        lines = ["libpapi was not found; tried, in order:"]
        lines += ["  - %s: %s" % (place, why) for place, why in self.tried]
        lines.append("Set PAPI_LIBRARY to the path of libpapi.so.0, or install libpapi "
                     "(meson install) so that `pkg-config --variable=libdir papi` finds it.")
        super().__init__("\n".join(lines))


class ErrorStruct(ctypes.Structure):
    """struct papi_error (papi.h): caller-owned, one per call so threads never share one."""

    _fields_ = [
        ("status", ctypes.c_int),
        ("http_status", ctypes.c_int32),
        ("retry_after_s", ctypes.c_int32),
        ("source_code", ctypes.c_char * 16),
        ("sql_state", ctypes.c_char * 8),
        ("message", ctypes.c_char * PAPI_ERROR_MESSAGE_MAX),
        ("query_id", ctypes.c_char * 64),
        ("reserved", ctypes.c_uint8 * 64),
    ]


STATS_FIELDS = (
    "lookups", "cache_hits", "cache_negative_hits", "cache_misses", "cache_errors",
    "coalesced_waits", "source_calls", "source_errors", "source_latency_us", "stale_served",
    "token_renewals", "fetches_in_flight", "fetch_ids_bucket", "fetch_ids_sum", "queue_depth",
    "queue_wait_bucket", "queue_wait_us_sum", "fetches_at_limit",
    "chain_calls", "chain_ids", "chain_rows", "chain_errors",
)
# Array members: histograms (PAPI_STATS_*_BUCKETS in papi.h: one count per bucket, not cumulative)
# and the chain's per-source counters (PAPI_STATS_SOURCES: element i counts source i).
STATS_ARRAYS = {"fetch_ids_bucket": 16, "queue_wait_bucket": 16, "chain_calls": 4,
                "chain_ids": 4, "chain_rows": 4, "chain_errors": 4}
# Upper bounds of those buckets (the last one is +Inf): ids per fetch, queue wait in microseconds.
STATS_BOUNDS = {
    "fetch_ids_bucket": tuple(2 ** i for i in range(15)) + (float("inf"),),
    "queue_wait_bucket": (0, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
                          500000, 1000000, 2500000, float("inf")),
}


class StatsStruct(ctypes.Structure):
    """struct papi_stats (papi.h); struct_size tells an older library how much we can take."""

    _fields_ = [("struct_size", ctypes.c_uint32)] + [
        (f, ctypes.c_uint64 * STATS_ARRAYS[f] if f in STATS_ARRAYS else ctypes.c_uint64)
        for f in STATS_FIELDS]


class LookupOptions(ctypes.Structure):
    """struct papi_lookup_options (papi.h): struct_size first, so the library knows our version."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("select", ctypes.POINTER(ctypes.c_char_p)),
        ("nselect", ctypes.c_size_t),
    ]


class CallState:
    """One thread's reusable papi_error and out-parameters for lookup calls."""

    __slots__ = ("err", "res", "size", "perr", "pres", "psize", "busy")

    def __init__(self):
        self.err = ErrorStruct()
        self.res = ctypes.c_void_p()
        self.size = ctypes.c_size_t()
        # Prebuilt pointers: ctypes converts them faster than byref() made on every call.
        self.perr = ctypes.pointer(self.err)
        self.pres = ctypes.pointer(self.res)
        self.psize = ctypes.pointer(self.size)
        self.busy = False


LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

_vp = ctypes.c_void_p
_pvp = ctypes.POINTER(ctypes.c_void_p)
_perr = ctypes.POINTER(ErrorStruct)
_size = ctypes.c_size_t
_psize = ctypes.POINTER(ctypes.c_size_t)
_str = ctypes.c_char_p
_int = ctypes.c_int

# name: (restype, argtypes). Status-returning calls are declared c_int: papi_status is an enum.
_PROTOTYPES = {
    "papi_strerror": (_str, [_int]),
    "papi_status_name": (_str, [_int]),
    "papi_version": (_str, []),
    "papi_config_create": (_int, [_pvp]),
    "papi_config_destroy": (None, [_vp]),
    "papi_config_set": (_int, [_vp, _str, _str, _perr]),
    "papi_config_load_env": (_int, [_vp, _perr]),
    "papi_config_get": (_str, [_vp, _str]),
    "papi_config_option_count": (_size, []),
    "papi_config_option_key": (_str, [_size, ctypes.POINTER(_str), ctypes.POINTER(_int)]),
    "papi_config_set_log": (_int, [_vp, LOG_FN, _vp, _int]),
    "papi_client_create": (_int, [_vp, _pvp, _perr]),
    "papi_client_destroy": (None, [_vp]),
    "papi_lookup": (_int, [_vp, _str, ctypes.POINTER(_str), _size, _pvp, _perr]),
    "papi_lookup_list": (_int, [_vp, _str, _str, _size, _pvp, _perr]),
    "papi_lookup_customers": (_int, [_vp, ctypes.POINTER(ctypes.c_int64), _size, _pvp, _perr]),
    "papi_result_free": (None, [_vp]),
    "papi_result_count": (_size, [_vp]),
    # void * rather than char *: rows are not NUL-terminated, we read them with string_at(p, len).
    "papi_result_row_json": (_vp, [_vp, _size, _psize]),
    "papi_result_json": (_vp, [_vp, _psize]),
    "papi_result_outcome": (_int, [_vp]),
    "papi_client_ping": (_int, [_vp, _perr]),
    "papi_client_dataset_count": (_size, [_vp]),
    "papi_client_dataset_name": (_str, [_vp, _size]),
    "papi_client_stats": (_int, [_vp, ctypes.POINTER(StatsStruct)]),
}
# Calls a libpapi older than the binding may lack; a Client using one there raises Error.
_OPTIONAL = {
    "papi_lookup_opts": (_int, [_vp, _str, ctypes.POINTER(_str), _size,
                                ctypes.POINTER(LookupOptions), _pvp, _perr]),
    "papi_lookup_list_opts": (_int, [_vp, _str, _str, _size, ctypes.POINTER(LookupOptions), _pvp,
                                     _perr]),
}

_lock = threading.Lock()
_lib = None


def _candidates():
    """Yields (place, path-or-name) in the documented search order."""
    env = os.environ.get("PAPI_LIBRARY")
    if env:
        if os.path.isdir(env):
            for name in _NAMES:
                yield "PAPI_LIBRARY=%s" % env, os.path.join(env, name)
        else:
            yield "PAPI_LIBRARY", env
    else:
        yield "PAPI_LIBRARY", None

    pkg_config = shutil.which("pkg-config")
    libdir, why = None, None
    if not pkg_config:
        why = "pkg-config is not installed"
    else:
        try:
            proc = subprocess.run([pkg_config, "--variable=libdir", "papi"],
                                  capture_output=True, text=True, timeout=10, check=False)
            libdir = proc.stdout.strip() if proc.returncode == 0 else None
            if not libdir:
                why = "`pkg-config --variable=libdir papi` found no papi.pc (PKG_CONFIG_PATH?)"
        except (OSError, subprocess.SubprocessError) as exc:
            why = "pkg-config failed: %s" % exc
    if libdir:
        for name in _NAMES:
            yield "pkg-config libdir", os.path.join(libdir, name)
    else:
        yield "pkg-config", why

    found = ctypes.util.find_library("papi")
    if found:
        yield "ctypes.util.find_library('papi')", found
    else:
        yield "ctypes.util.find_library('papi')", None
    yield "system loader", _SONAME


# Calls that only read or free memory: they never block, so they keep the GIL (through a
# PyDLL handle). Releasing and retaking it three times per lookup made two Python threads
# slower than one; now only the calls that may wait for a source or a lock release it.
_KEEP_GIL = frozenset((
    "papi_strerror", "papi_status_name", "papi_version", "papi_config_option_count",
    "papi_config_option_key", "papi_config_get", "papi_result_free", "papi_result_count",
    "papi_result_row_json", "papi_result_json", "papi_result_outcome",
    "papi_client_dataset_count", "papi_client_dataset_name",
))


def _declare(lib, path):
    keep = ctypes.PyDLL(path, handle=lib._handle)
    optional = {name: proto for name, proto in _OPTIONAL.items() if hasattr(lib, name)}
    for name, (restype, argtypes) in list(_PROTOTYPES.items()) + list(optional.items()):
        fn = getattr(keep if name in _KEEP_GIL else lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
        setattr(lib, name, fn)
    # papi_result_json once more as returning char *: the answer is NUL-terminated, and ctypes
    # turns a char * into bytes faster than string_at(void *, len).
    cstr = keep._FuncPtr(("papi_result_json", keep))
    cstr.restype = ctypes.c_char_p
    cstr.argtypes = [_vp, _psize]
    lib.papi_result_json_cstr = cstr
    return lib


def load_library(path=None):
    """Loads libpapi once per process and returns the ctypes handle.

    With ``path`` only that file is tried. Otherwise: the ``PAPI_LIBRARY`` environment variable
    (a file, or a directory holding libpapi.so.0), then ``pkg-config --variable=libdir papi``,
    then ``ctypes.util.find_library("papi")``, then the loader's own search for libpapi.so.0.
    Raises LibraryNotFound listing every attempt.
    """
    global _lib
    with _lock:
        if _lib is not None and path is None:
            return _lib
        tried = []
        cands = [("path", path)] if path is not None else _candidates()
        for place, cand in cands:
            if cand is None:
                tried.append((place, "not set" if place == "PAPI_LIBRARY" else "nothing found"))
                continue
            if place in ("pkg-config",):
                tried.append((place, cand))
                continue
            if os.sep in cand and not os.path.exists(cand):
                tried.append((place, "%s does not exist" % cand))
                continue
            try:
                lib = ctypes.CDLL(cand)
            except OSError as exc:
                tried.append((place, "%s: %s" % (cand, exc)))
                continue
            try:
                _declare(lib, cand)
            except AttributeError as exc:
                tried.append((place, "%s is not libpapi (%s)" % (cand, exc)))
                continue
            lib._papi_path = cand
            if path is None:
                _lib = lib
            return lib
        raise LibraryNotFound(tried)


def library():
    """The loaded library (loading it on first use)."""
    return _lib if _lib is not None else load_library()
