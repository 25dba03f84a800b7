"""papi: real-time point lookups of customer profiles (and any keyed dataset) from Snowflake or
SQLite, through libpapi's C ABI (ctypes; nothing to compile).

    import papi
    with papi.Client(source="sqlite:/tmp/demo.db", cache_ttl=60) as client:
        rows = client.lookup_customers([1885, 2])      # list of dicts
        raw = client.lookup_raw("customer", "1885,2")  # bytes of the JSON array

Every failure is a papi.Error subclass carrying libpapi's status and detail.
"""

from ._lib import LibraryNotFound, load_library
from .client import Client, Result, options, status_name, strerror, version
from .errors import (AuthError, ClientClosed, ConfigError, Error, InternalError, InvalidInput,
                     LocalIOError, OutOfMemory, ProtocolError, SourceError, SourceTimeout,
                     SourceUnavailable, UnknownDataset, error_class)

__version__ = "0.1.0"

__all__ = [
    "Client", "Result", "Error", "InvalidInput", "OutOfMemory", "UnknownDataset", "ConfigError",
    "AuthError", "SourceUnavailable", "SourceTimeout", "SourceError", "ProtocolError",
    "LocalIOError", "InternalError", "ClientClosed", "LibraryNotFound", "load_library",
    "error_class", "version", "options", "strerror", "status_name", "__version__",
]
