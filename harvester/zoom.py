"""A small ctypes binding over libyaz's ZOOM API: the Z39.50 client the Z39.50 harvester drives.

Nothing usable for Python 3 exists on PyPI, so the few ZOOM functions a harvest needs are declared
here over Debian's ``libyaz5``: connect, search, present records in batches, read errors. Records
come back as the server sent them (ISO2709 or MARCXML bytes).
"""
from __future__ import annotations

import ctypes
import ctypes.util

from harvester import HarvestError

# ZOOM error codes (yaz/zoom.h) that mean "the network or the server is unwell": worth retrying
ZOOM_ERROR_CONNECT, ZOOM_ERROR_CONNECTION_LOST, ZOOM_ERROR_TIMEOUT = 10000, 10004, 10007
RETRYABLE = {ZOOM_ERROR_CONNECT, ZOOM_ERROR_CONNECTION_LOST, ZOOM_ERROR_TIMEOUT}


class ZoomError(Exception):
    """A ZOOM error or a server diagnostic, with its code, message and additional info."""

    def __init__(self, code: int, message: str, addinfo: str = ""):
        self.code, self.message, self.addinfo = code, message, addinfo
        super().__init__(self.describe())

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE

    def describe(self) -> str:
        kind = "Z39.50 error" if self.code >= 10000 else "Z39.50 diagnostic"
        return f"{kind} {self.code}: {self.message}" + (f" ({self.addinfo})" if self.addinfo else "")


_lib = None


def libyaz() -> ctypes.CDLL:
    """Load libyaz.so.5 once and declare the few ZOOM functions we call."""
    global _lib
    if _lib is not None:
        return _lib
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("yaz") or "libyaz.so.5")
    except OSError:
        try:
            lib = ctypes.CDLL("libyaz.so.5")
        except OSError:
            raise HarvestError("libyaz.so.5 (the ZOOM Z39.50 client library) is not installed: "
                               "install Debian's libyaz5: scripts/install-peers") from None
    p, s, i, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    for name, restype, argtypes in [
        ("ZOOM_options_create", p, []),
        ("ZOOM_options_set", None, [p, s, s]),
        ("ZOOM_options_destroy", None, [p]),
        ("ZOOM_connection_create", p, [p]),
        ("ZOOM_connection_connect", None, [p, s, i]),
        ("ZOOM_connection_destroy", None, [p]),
        ("ZOOM_connection_search_pqf", p, [p, s]),
        ("ZOOM_connection_search", p, [p, p]),
        ("ZOOM_connection_error_x", i, [p, ctypes.POINTER(s), ctypes.POINTER(s), ctypes.POINTER(s)]),
        ("ZOOM_query_create", p, []),
        ("ZOOM_query_cql", i, [p, s]),
        ("ZOOM_query_destroy", None, [p]),
        ("ZOOM_resultset_size", sz, [p]),
        ("ZOOM_resultset_records", None, [p, ctypes.POINTER(p), sz, sz]),
        ("ZOOM_resultset_destroy", None, [p]),
        ("ZOOM_record_get", ctypes.c_void_p, [p, s, ctypes.POINTER(i)]),  # bytes, not a C string
    ]:
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    _lib = lib
    return lib


class ZoomConnection:
    """One connection, at most one result set; everything is destroyed by ``close``."""

    def __init__(self, host: str, port: int, options: dict[str, str]):
        self.lib = libyaz()
        self.options = self.lib.ZOOM_options_create()
        for key, value in options.items():
            if value not in (None, ""):
                self.lib.ZOOM_options_set(self.options, key.encode(), str(value).encode())
        self.conn = self.lib.ZOOM_connection_create(self.options)
        self.resultset = None
        self.lib.ZOOM_connection_connect(self.conn, host.encode(), int(port))
        self._check()

    def _check(self) -> None:
        message, addinfo, diagset = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
        code = self.lib.ZOOM_connection_error_x(self.conn, ctypes.byref(message), ctypes.byref(addinfo),
                                                ctypes.byref(diagset))
        if code:
            text = lambda c: (c.value or b"").decode("utf-8", "replace")  # noqa: E731
            raise ZoomError(code, text(message), text(addinfo))

    def search(self, query: str, cql: bool = False) -> int:
        """Run ``query`` (PQF, or CQL for SRU servers); returns the number of hits."""
        self._drop_resultset()
        if cql:
            q = self.lib.ZOOM_query_create()
            try:
                self.lib.ZOOM_query_cql(q, query.encode())
                self.resultset = self.lib.ZOOM_connection_search(self.conn, q)
            finally:
                self.lib.ZOOM_query_destroy(q)
        else:
            self.resultset = self.lib.ZOOM_connection_search_pqf(self.conn, query.encode())
        self._check()
        return int(self.lib.ZOOM_resultset_size(self.resultset))

    def records(self, start: int, count: int) -> list[bytes | None]:
        """Records ``start`` .. ``start+count-1`` (0-based) in one present request, raw bytes."""
        array = (ctypes.c_void_p * count)()
        self.lib.ZOOM_resultset_records(self.resultset, array, start, count)
        self._check()
        out = []
        length = ctypes.c_int()
        for record in array:
            if not record:
                out.append(None)  # the server sent a surrogate diagnostic instead of the record
                continue
            data = self.lib.ZOOM_record_get(record, b"raw", ctypes.byref(length))
            out.append(ctypes.string_at(data, length.value) if data else None)
        return out  # the records themselves belong to the result set

    def _drop_resultset(self) -> None:
        if self.resultset:
            self.lib.ZOOM_resultset_destroy(self.resultset)
            self.resultset = None

    def close(self) -> None:
        self._drop_resultset()
        if self.conn:
            self.lib.ZOOM_connection_destroy(self.conn)
            self.conn = None
        if self.options:
            self.lib.ZOOM_options_destroy(self.options)
            self.options = None
