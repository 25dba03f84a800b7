"""papi.Error and one subclass per papi_status (papi.h)."""

__all__ = [
    "Error", "InvalidInput", "OutOfMemory", "UnknownDataset", "ConfigError", "AuthError",
    "SourceUnavailable", "SourceTimeout", "SourceError", "ProtocolError", "LocalIOError",
    "InternalError", "ClientClosed", "error_class",
]


class Error(Exception):
    """A libpapi call failed.

    Attributes: ``status`` (the papi_status number), ``name`` (its stable token, e.g. "EINVAL"),
    ``detail`` (papi_error's message: a sentence, never SQL or secrets; may be empty),
    ``strerror`` (papi_strerror's sentence), ``http_status``, ``retry_after_s``, ``source_code``
    ``sql_state`` and ``query_id`` (the source's, when it gave them; 0 or "" otherwise; the
    query id is what Snowflake support asks for).
    """

    status = None

    def __init__(self, status=None, name="", detail="", strerror="", http_status=0,
                 retry_after_s=0, source_code="", sql_state="", query_id=""):
        if status is None:
            status = type(self).status
        self.status = status
        self.name = name
        self.detail = detail
        self.strerror = strerror
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.source_code = source_code
        self.sql_state = sql_state
        self.query_id = query_id
        super().__init__(self._text())

    def _text(self):
        text = self.detail or self.strerror or "papi error"
        extra = []
        if self.source_code:
            extra.append("source code %s" % self.source_code)
        if self.sql_state:
            extra.append("SQL state %s" % self.sql_state)
        if self.query_id:
            extra.append("query id %s" % self.query_id)
        if self.http_status:
            extra.append("HTTP %d" % self.http_status)
        tail = " (%s)" % ", ".join(extra) if extra else ""
        return "%s: %s%s" % (self.name or "papi", text, tail)

    def __reduce__(self):
        return (type(self), (self.status, self.name, self.detail, self.strerror,
                             self.http_status, self.retry_after_s, self.source_code,
                             self.sql_state, self.query_id))


class InvalidInput(Error, ValueError):
    """PAPI_EINVAL: a malformed id, an empty list, too many ids, a bad argument."""
    status = 1


class OutOfMemory(Error, MemoryError):
    """PAPI_ENOMEM."""
    status = 2


class UnknownDataset(Error, LookupError):
    """PAPI_ENODATASET: the dataset name is not configured."""
    status = 3


class ConfigError(Error):
    """PAPI_ECONFIG: a bad option value, dataset file or key file."""
    status = 4


class AuthError(Error):
    """PAPI_EAUTH: the source rejected the credentials."""
    status = 5


class SourceUnavailable(Error):
    """PAPI_EUNAVAIL: the source is overloaded or down, after retries."""
    status = 6


class SourceTimeout(Error, TimeoutError):
    """PAPI_ETIMEDOUT: the source did not answer within the deadline."""
    status = 7


class SourceError(Error):
    """PAPI_ESOURCE: the source refused the query (SQL error, missing object, grant)."""
    status = 8


class ProtocolError(Error):
    """PAPI_EPROTO: the source answered something malformed."""
    status = 9


class LocalIOError(Error):
    """PAPI_EIO: a local file or socket failed."""
    status = 10


class InternalError(Error):
    """PAPI_EINTERNAL: a bug in papi."""
    status = 11


class ClientClosed(Error):
    """The Python client was closed; raised by the binding itself (status None)."""


_BY_STATUS = {cls.status: cls for cls in (
    InvalidInput, OutOfMemory, UnknownDataset, ConfigError, AuthError, SourceUnavailable,
    SourceTimeout, SourceError, ProtocolError, LocalIOError, InternalError)}


def error_class(status):
    """The Error subclass raised for a papi_status (Error itself for a status this binding
    does not know, so a newer library never breaks an older binding)."""
    return _BY_STATUS.get(status, Error)
