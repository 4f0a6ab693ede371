"""Links to digital documents (MARC 856 $u, Dublin Core identifier and relation URLs), checked.

A link is text a library (or whoever fills its catalogue) wrote, and a patron's browser opens it: only
absolute http and https URLs are kept; ``javascript:``, ``data:``, ``file:``, ``ftp:``, ``mailto:``,
relative paths, user names in the address and anything urllib cannot split are dropped, and the
record's notes say so (the quality report lists them for the library to fix). What a browser would
silently ignore (control characters, tabs and line breaks inside ``java\\tscript:``) is removed before
the scheme is judged, so the check sees what the browser would see.
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from .text import nfc, strip_controls

MAX_URL = 2000  # characters of a kept URL (browsers and servers refuse much longer ones anyway)
MAX_TEXT = 200  # characters of a link's text
MAX_LINKS = 20  # links kept per record; more is noted
WEB_SCHEMES = ("http", "https")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# what a URL may hold besides letters and digits once quoted (RFC 3986 reserved + unreserved, and "%")
_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
# a host: letters (internationalized names too), digits, dots and hyphens; or an IPv6 literal
_HOST = re.compile(r"^(?:[^\W_](?:[\w\-]*[^\W_])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$")
# schemes that say "this is an address", in Dublin Core identifiers where other schemes name ids (urn:, doi:)
ADDRESS_SCHEMES = frozenset(("http", "https", "ftp", "ftps", "sftp", "file", "javascript", "vbscript", "data",
                             "mailto", "tel", "blob", "about", "ws", "wss", "gopher", "smb", "nfs"))


def looks_like_address(value: str) -> bool:
    """A Dublin Core identifier or relation that is an address (kept or dropped as a link), not an id or a title:
    a scheme followed by ``//``, a scheme browsers run or open, or a relative path (``/handle/123``)."""
    text = strip_controls(value).strip()
    m = _SCHEME.match(text)
    if m:
        return text[m.end():].startswith("//") or m.group(1).lower() in ADDRESS_SCHEMES
    return text.startswith(("/", "./", "../"))


def web_link(url: str, text: str | None = None) -> tuple[dict | None, str | None]:
    """``({"url", "text"}, None)`` for an absolute http(s) URL, else ``(None, why it was dropped)``.

    The URL: controls removed, NFC, spaces inside percent-encoded, path, query and fragment quoted
    where a character is not URL-safe, the scheme in lower case; at most MAX_URL characters. The text:
    ``text`` (NFC, one line, at most MAX_TEXT characters) or else the host.
    """
    # as browsers do (WHATWG URL parsing), tabs and line breaks go first: "java\tscript:" is "javascript:"
    value = strip_controls(nfc(_TAB_OR_NEWLINE.sub("", url)))  # nfc() joins other whitespace into spaces
    if not value:
        return None, "empty"
    if len(value) > MAX_URL:
        return None, f"longer than {MAX_URL} characters"
    m = _SCHEME.match(value)
    if not m:
        return None, "a relative address (no http:// or https://)"
    scheme = m.group(1).lower()
    if scheme not in WEB_SCHEMES:
        return None, f"{scheme}: address (only http and https links are kept)"
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return None, f"not a valid address ({exc})"
    host = parts.hostname or ""
    if not host:
        return None, "no host name"
    if parts.username is not None or parts.password is not None:
        return None, "a user name or password in the address"
    if not _HOST.match(host if ":" not in host else f"[{host}]"):
        return None, "not a valid host name"
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    kept = urlunsplit((scheme, netloc, quote(parts.path, safe=_SAFE), quote(parts.query, safe=_SAFE),
                       quote(parts.fragment, safe=_SAFE)))
    if len(kept) > MAX_URL:
        return None, f"longer than {MAX_URL} characters"
    label = strip_controls(nfc(text or "")) or host
    if len(label) > MAX_TEXT:
        label = label[:MAX_TEXT - 1].rstrip() + "…"
    return {"url": kept, "text": label}, None


def add_link(links: list[dict], notes: list[str], where: str, url: str, text: str | None = None) -> None:
    """Keep ``url`` in ``links`` (once; at most MAX_LINKS) or note why it was dropped; ``where``: "856 $u",
    "dc:identifier"... as the note names the field."""
    link, problem = web_link(url, text)
    if link is None:
        shown = strip_controls(nfc(url))
        shown = shown if len(shown) <= 60 else shown[:59] + "…"
        notes.append(f"link {shown!r} in {where} dropped: {problem}")
        return
    if any(known["url"] == link["url"] for known in links):
        return
    if len(links) >= MAX_LINKS:
        if _TOO_MANY not in notes:
            notes.append(_TOO_MANY)
        return
    links.append(link)


_TOO_MANY = f"more than {MAX_LINKS} links: the first {MAX_LINKS} are kept"
