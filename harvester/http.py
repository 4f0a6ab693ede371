"""The one outbound HTTP client of a harvest (OAI-PMH pages, SRU, export-drop URLs), with its rules built in.

A library server may be broken or hostile; whatever it does, a harvest stays bounded and says why
it stopped. So every request here:

- goes only to http(s), follows at most 5 redirects, and checks every hop's address *after* DNS
  resolution, connecting to the very address it checked (no second lookup to rebind): link-local
  (169.254.x: cloud metadata), multicast, unspecified and reserved addresses are never contacted;
  loopback and private ones only when ``harvest.allow_private_addresses`` is on, and never through a
  redirect from a public server;
- has a total deadline (connect + the whole body) and lives inside the run's deadline;
- reads at most ``max_mb`` bytes, counted both as received and as unpacked (gzip/deflate are unpacked
  here, in steps, stopping at the cap);
- fails with one plain sentence (``FetchError``); a response body is never part of that sentence (a
  short escaped excerpt goes to ``detail``, for administrators only).
"""
from __future__ import annotations

import html
import ipaddress
import logging
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from harvester import HarvestError
from harvester.retry import retry

log = logging.getLogger("unioncat.harvest")

MAX_REDIRECTS = 5
_MAX_RETRY_AFTER_S = 600
_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(HarvestError):
    """A request that failed, worded for a person; ``kind`` tells the retry policy what happened."""

    def __init__(self, message: str, kind: str, detail: str | None = None, status: int | None = None,
                 retry_after: float | None = None, body: bytes | None = None):
        super().__init__(message)
        self.kind, self.detail, self.status, self.retry_after, self.body = kind, detail, status, retry_after, body

    @property
    def retryable(self) -> bool:
        return self.kind in ("timeout", "network", "dns", "refused") or (
            self.kind == "status" and (self.status >= 500 or self.status == 429))


@dataclass
class Fetched:
    """A whole response, already read within the caps (what sickle's OAIResponse expects of one)."""
    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def address_kind(ip: str) -> str:
    """public | private (loopback, RFC 1918, CGNAT, ULA ...) | forbidden (link-local, multicast, reserved)."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
        return "forbidden"
    return "public" if address.is_global else "private"


def resolve(host: str, port: int) -> list[str]:
    """The addresses of a host name, in the resolver's order (raises socket.gaierror)."""
    seen: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def excerpt(body: bytes | None, size: int = 200) -> str | None:
    """A short, HTML-escaped start of a body, for administrators' eyes only."""
    if not body:
        return None
    return html.escape(" ".join(body[:size].decode("utf-8", "replace").split()))


def short_url(url: str, size: int = 160) -> str:
    return url if len(url) <= size else url[:size] + "…"


def status_problem(status: int, url: str) -> str:
    """What an HTTP error status means for a harvest, in one sentence."""
    where = f"HTTP {status} from {short_url(url)}"
    if status in (404, 410):
        return f"{where}: the endpoint is wrong (nothing is published at this address)"
    if status in (401, 403):
        return f"{where}: access refused (the server wants a login or blocks the harvester)"
    if status == 429:
        return f"{where}: too many requests (the server asks the harvester to slow down)"
    if status >= 500:
        return f"{where}: the server is failing or overloaded"
    return f"{where}: the server refused the request"


class HarvestClient:
    """One ``httpx.Client`` per harvest, carrying the address, deadline and size rules above."""

    def __init__(self, settings, timeout_s: float, *, max_mb: float | None = None, fail_fast: bool = False,
                 sleep=time.sleep):
        self.allow_private = settings.harvest_allow_private_addresses
        self.request_deadline_s = settings.harvest_request_deadline_s
        self.run_deadline_s = settings.harvest_run_deadline_s
        self.run_deadline = time.monotonic() + self.run_deadline_s
        self.max_bytes = int((max_mb if max_mb is not None else settings.harvest_max_response_mb) * 1024 * 1024)
        self.max_retries, self.backoff_s = settings.harvest_max_retries, settings.harvest_backoff_s
        self.timeout_s, self.fail_fast, self.sleep = timeout_s, fail_fast, sleep
        self._deadline = self.run_deadline  # of the request being made
        self._from_public = False  # the hop being made is a redirect from a public address
        self.ca_file = settings.harvest_ca_file
        verify = httpx.create_ssl_context()
        if self.ca_file:
            verify.load_verify_locations(cafile=str(self.ca_file))  # besides the usual authorities
        transport = httpx.HTTPTransport(trust_env=False, verify=verify)
        ssl_context = transport._pool._ssl_context  # noqa: SLF001 (httpx builds it; only the backend changes)
        transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_GuardedBackend(self),
                                                  max_connections=4, max_keepalive_connections=2)
        self.client = httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                                   timeout=httpx.Timeout(timeout_s),
                                   headers={"User-Agent": "unioncat harvester", "Accept-Encoding": "gzip, deflate"})

    def close(self) -> None:
        self.client.close()

    # -- with the retry policy -------------------------------------------------------------------------
    def request(self, url: str, params: dict | None = None,
                accept=lambda fetched: fetched.status_code < 400) -> Fetched:
        """GET with retries (network failures, 5xx, 429; Retry-After honoured); other failures at once.

        ``accept`` decides which responses are answers (OAI-PMH errors come in 4xx bodies).
        """
        def answer() -> Fetched:
            fetched = self.get(url, params)
            if accept(fetched):
                return fetched
            raise FetchError(status_problem(fetched.status_code, url), "status", detail=excerpt(fetched.content),
                             status=fetched.status_code, body=fetched.content,
                             retry_after=_retry_after(fetched.headers.get("Retry-After")))

        attempts = self.max_retries + 1
        try:
            return retry(answer, attempts=attempts, backoff_s=self.backoff_s, retryable=self._retryable, log=log,
                         sleep=self._sleep_within_run)
        except FetchError as exc:
            if not self._retryable(exc):
                raise
            raise FetchError(f"{exc} (gave up after {attempts} attempts)", exc.kind, exc.detail, exc.status,
                             body=exc.body) from None

    def _retryable(self, exc: Exception) -> bool:
        """A new source (``fail_fast``) is not retried when its host is unknown or refuses connections."""
        return isinstance(exc, FetchError) and exc.retryable and not (
            self.fail_fast and exc.kind in ("dns", "refused"))

    def _sleep_within_run(self, seconds: float) -> None:
        """A wait that would end after the run's deadline stops the run now instead."""
        if time.monotonic() + seconds > self.run_deadline:
            raise self._run_over()
        self.sleep(seconds)

    # -- one attempt -------------------------------------------------------------------------------
    def get(self, url: str, params: dict | None = None) -> Fetched:
        """One GET, redirects followed by the rules, the whole body read within the deadline and the caps."""
        now = time.monotonic()
        if now >= self.run_deadline:
            raise self._run_over()
        self._deadline = min(now + self.request_deadline_s, self.run_deadline)
        self._from_public = False
        try:
            request = self.client.build_request("GET", url, params=params)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise FetchError(f"{short_url(url)} is not a valid http(s) URL ({exc})", "url") from None
        for hop in range(MAX_REDIRECTS + 1):
            response = self._send(request)
            try:
                location = response.headers.get("Location")
                if response.status_code not in _REDIRECTS or not location:
                    return Fetched(str(response.url), response.status_code, response.headers,
                                   self._read_body(response))
                peer = response.extensions["network_stream"].get_extra_info("server_addr")
            finally:
                response.close()
            target = urljoin(str(request.url), location.strip())
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                raise FetchError(f"{short_url(str(request.url))} redirects to {short_url(target, 80)}, which is not "
                                 "an http(s) address; not followed", "redirect")
            if hop == MAX_REDIRECTS:
                raise FetchError(f"{short_url(url)} redirects more than {MAX_REDIRECTS} times; not followed further",
                                 "redirect")
            try:
                request = self.client.build_request("GET", target)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
                raise FetchError(f"{short_url(str(request.url))} redirects to an invalid URL ({exc})", "redirect") \
                    from None
            self._from_public = bool(peer) and address_kind(peer[0]) == "public"
            if self._from_public:  # checked here too: a pooled connection to the target would skip the check
                self._addresses(request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80))
        raise AssertionError("unreachable")

    def _send(self, request: httpx.Request) -> httpx.Response:
        url = short_url(str(request.url.copy_with(query=None)))
        try:
            return self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise self._timeout(url, exc) from None
        except httpx.TransportError as exc:
            if problem := _certificate_problem(exc):
                host = request.url.host
                if "mismatch" in problem.lower():
                    raise FetchError(f"the https certificate of {host} is issued for another server ({problem.rstrip('.')}); "
                                     "nothing was read. Use the host name the library's certificate names",
                                     "certificate") from None
                raise FetchError(f"the https certificate of {host} is not trusted ({problem}); nothing was read. "
                                 + ("It is not signed by an authority in harvest.ca_file either" if self.ca_file else
                                    "If the library uses its own certificate authority, add its certificate to "
                                    "harvest.ca_file"), "certificate") from None
            raise FetchError(f"cannot reach {url} ({_plain(exc)})", "network") from None

    def _timeout(self, url: str, exc: Exception) -> FetchError:
        if time.monotonic() >= self.run_deadline - 0.05:
            return self._run_over()
        if time.monotonic() >= self._deadline - 0.05:
            return FetchError(f"{url} did not send its whole response within {self.request_deadline_s:g} s "
                              "(harvest.request_deadline_s); stopped waiting", "deadline")
        if isinstance(exc, (httpx.ConnectTimeout, httpcore.ConnectTimeout)):
            return FetchError(f"{url} did not accept a connection within {self.timeout_s:g} s", "timeout")
        return FetchError(f"{url} stopped sending for more than {self.timeout_s:g} s (timeout_s)", "timeout")

    def _run_over(self) -> FetchError:
        return FetchError(f"the run took longer than {self.run_deadline_s:g} s (harvest.run_deadline_s) and was "
                          "stopped; what was stored is kept and the next run continues", "run_deadline")

    def _read_body(self, response: httpx.Response) -> bytes:
        url = short_url(str(response.url.copy_with(query=None)))
        cap_mb = f"{self.max_bytes / 1024 / 1024:g} MB"
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise FetchError(f"the response from {url} is {int(length) / 1024 / 1024:.0f} MB, more than {cap_mb} "
                             "(harvest.max_response_mb); not read", "too_large")
        unpack = _Unpacker(response.headers.get("Content-Encoding", ""), url)
        body, received = bytearray(), 0
        try:
            for chunk in response.iter_raw(_CHUNK):
                received += len(chunk)
                if received > self.max_bytes:
                    raise FetchError(f"the response from {url} is larger than {cap_mb} (harvest.max_response_mb); "
                                     "stopped reading it", "too_large", body=bytes(body[:_CHUNK]))
                body += unpack(chunk, self.max_bytes - len(body))
                if len(body) > self.max_bytes:
                    raise FetchError(f"the response from {url} unpacks to more than {cap_mb} "
                                     "(harvest.max_response_mb); stopped unpacking it", "too_large",
                                     body=bytes(body[:_CHUNK]))
            body += unpack(b"", self.max_bytes - len(body), final=True)
        except httpx.TimeoutException as exc:
            raise self._timeout(url, exc) from None
        except httpx.TransportError as exc:
            raise FetchError(f"the connection to {url} broke while reading the response ({_plain(exc)})",
                             "network") from None
        return bytes(body)

    # -- for protocols that are not HTTP (Z39.50 through libyaz) ----------------------------------------
    def checked_addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses that the rules allow (FetchError otherwise): connect to one of these,
        never to the name again (a second lookup could answer another address)."""
        self.check_run_deadline()
        self._deadline = min(time.monotonic() + self.request_deadline_s, self.run_deadline)
        self._from_public = False
        return self._addresses(host, port)

    def check_run_deadline(self) -> None:
        if time.monotonic() >= self.run_deadline:
            raise self._run_over()

    # -- the address rules (called by the network backend at each new connection) --------------------
    def _remaining(self, timeout: float | None) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("the deadline has passed")
        return remaining if timeout is None else min(timeout, remaining)

    def _addresses(self, host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            addresses = self._resolve(host, port)
        for address in addresses:
            kind = address_kind(address)
            if kind == "forbidden":
                raise FetchError(f"refused to connect to {host}: it is the link-local, multicast or reserved "
                                 f"address {address}, which a library server never has", "address")
            if kind == "private" and self._from_public:
                raise FetchError(f"refused to follow a redirect from a public server to {host} ({address}), a "
                                 "private or loopback address", "address")
            if kind == "private" and not self.allow_private:
                raise FetchError(f"refused to connect to {host}: {address} is a private or loopback address (set "
                                 "harvest.allow_private_addresses if the library network really is private)",
                                 "address")
        return addresses

    def _resolve(self, host: str, port: int) -> list[str]:
        """DNS within the deadline (getaddrinfo itself cannot be interrupted: it is left behind in a thread)."""
        found: dict = {}

        def lookup():
            try:
                found["addresses"] = resolve(host, port)
            except (OSError, UnicodeError) as exc:
                found["error"] = exc
        thread = threading.Thread(target=lookup, daemon=True)
        thread.start()
        thread.join(self._remaining(self.timeout_s))
        if thread.is_alive():
            raise FetchError(f"looking up host {host} took longer than {self.timeout_s:g} s", "timeout")
        if "error" in found or not found.get("addresses"):
            raise FetchError(f"cannot resolve host {host}", "dns")
        return found["addresses"]


class _Unpacker:
    """Content-Encoding gzip/deflate unpacked in steps that never yield more than asked for."""

    def __init__(self, encoding: str, url: str):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self.zlib = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self.zlib = zlib.decompressobj(47)  # gzip or zlib header, told apart by zlib
            self.raw_deflate = encoding == "deflate"
        else:
            raise FetchError(f"the response from {url} is packed as {encoding!r}, which the harvester did not ask "
                             "for and cannot read", "encoding")
        self.url, self.pending = url, b""

    def __call__(self, chunk: bytes, room: int, final: bool = False) -> bytes:
        """At most ``room + 1`` unpacked bytes (one more than room tells the caller the cap is passed)."""
        if self.zlib is None:
            return chunk
        self.pending += chunk
        out = bytearray()
        while self.pending and len(out) <= room:
            data, self.pending = self.pending, b""
            try:
                out += self.zlib.decompress(data, room - len(out) + 1)
            except zlib.error:
                if not self.raw_deflate:
                    raise FetchError(f"the packed (gzip) response from {self.url} is damaged", "encoding") from None
                self.zlib, self.raw_deflate = zlib.decompressobj(-15), False  # "deflate" sent without its header
                self.pending = data
                continue
            self.raw_deflate = False
            self.pending = self.zlib.unconsumed_tail
            if self.zlib.eof:
                rest = self.zlib.unused_data
                if not rest.strip(b"\0"):
                    break
                self.zlib, self.pending = zlib.decompressobj(47), rest  # a second gzip member
        return bytes(out)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, but each connection goes to checked addresses and every wait is clamped
    to the request's deadline."""

    def __init__(self, client: HarvestClient):
        self.client, self.inner = client, httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last = None
        for address in self.client._addresses(host, port):
            try:
                stream = self.inner.connect_tcp(address, port, self.client._remaining(timeout), local_address,
                                                socket_options)
                return _DeadlineStream(stream, self.client)
            except httpcore.ConnectError as exc:
                last = exc
        if last is not None and "refused" in str(last).lower():
            raise FetchError(f"cannot reach {host}:{port}: the connection was refused (no server is listening "
                             "there)", "refused")
        raise last

    def connect_unix_socket(self, *args, **kwargs):
        raise FetchError("unix sockets are not harvested", "address")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream, client: HarvestClient):
        self.stream, self.client = stream, client

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.client._remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.client._remaining(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, self.client._remaining(timeout)),
                               self.client)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


def _certificate_problem(exc: BaseException) -> str | None:
    """What OpenSSL said about a server's certificate, when that is why a connection failed."""
    seen = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip(" :") or "verify failed"
    return None


def _plain(exc: Exception) -> str:
    """An httpx/httpcore message without urllib3-style noise."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text[:160]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER_S)
    try:
        return max(0.0, min(parsedate_to_datetime(value).timestamp() - time.time(), _MAX_RETRY_AFTER_S))
    except (TypeError, ValueError):
        return None
