"""SRU 1.2 searchRetrieve over the harvest's one HTTP client (``harvester.http``).

SRU is plain HTTP: sending it through the client that OAI-PMH pages and export-drop URLs use gives
it the same rules (addresses checked after DNS on every redirect hop, request and run deadlines,
caps on received and unpacked bytes, one-sentence reasons). libyaz stays for Z39.50, which is not
HTTP. A connection here has the interface of ``zoom.ZoomConnection`` (search, then present in
batches), so the Z39.50 harvester drives both the same way.
"""
from __future__ import annotations

from lxml import etree

from harvester import HarvestError
from harvester.http import HarvestClient

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DIAGNOSTIC_SCHEMA = "info:srw/schema/1/diagnostics-v1.1"
_MESSAGE_CHARS = 160


class SruConnection:
    """One SRU base URL; ``resultset`` is the query in force (SRU keeps no state between requests)."""

    def __init__(self, base_url: str, http: HarvestClient, record_schema: str = "marcxml"):
        self.base_url, self.http, self.record_schema = base_url, http, record_schema
        self.resultset: dict[str, str] | None = None

    def search(self, query: str, cql: bool = True) -> int:
        """The number of records ``query`` matches (CQL, or PQF sent as YAZ's ``x-pquery``)."""
        self.resultset = {"query": query} if cql else {"x-pquery": query}
        root = self._get(maximumRecords="0")
        found = root.findtext("{*}numberOfRecords")
        if found is None or not found.strip().isdigit():
            raise HarvestError(f"SRU searchRetrieve from {self.base_url}: the answer gives no numberOfRecords")
        return int(found)

    def records(self, start: int, count: int) -> list[bytes | None]:
        """Records ``start`` .. ``start+count-1`` (0-based) as MARCXML bytes; None where the server
        sent a diagnostic instead of a record, or nothing for that position. A server may send
        fewer records than asked (its own maximumRecords cap): the rest is asked for again."""
        out: list[bytes | None] = [None] * count
        asked = 0
        while asked < count:
            root = self._get(startRecord=str(start + asked + 1), maximumRecords=str(count - asked))
            page = list(root.iterfind("{*}records/{*}record"))
            for k, record in enumerate(page):
                position = record.findtext("{*}recordPosition")
                index = int(position) - start - 1 if position and position.strip().isdigit() else asked + k
                if 0 <= index < count:
                    out[index] = _record_bytes(record)
            if not page:
                break
            asked += len(page)
        return out

    def close(self) -> None:
        self.resultset = None  # the HTTP client belongs to the harvest

    def _get(self, **params: str) -> etree._Element:
        fetched = self.http.request(self.base_url, {
            "version": "1.2", "operation": "searchRetrieve", "recordSchema": self.record_schema,
            "recordPacking": "xml", **(self.resultset or {}), **params})
        try:
            root = etree.fromstring(fetched.content, _PARSER)
        except etree.XMLSyntaxError:
            raise HarvestError(f"SRU searchRetrieve from {self.base_url}: the answer is not well-formed XML") from None
        if etree.QName(root).localname != "searchRetrieveResponse":
            raise HarvestError(f"SRU searchRetrieve from {self.base_url}: the answer is not an SRU response "
                               f"(<{etree.QName(root).localname}>)")
        diagnostic = root.find("{*}diagnostics/{*}diagnostic")
        if diagnostic is not None:
            raise HarvestError(f"SRU diagnostic from {self.base_url}: {_diagnostic(diagnostic)}")
        return root


def _diagnostic(element: etree._Element) -> str:
    """'<uri>: <message> (<details>)', cut short: a server's words, not a page of them."""
    uri = (element.findtext("{*}uri") or "").strip()
    text = " ".join(" ".join(filter(None, [(element.findtext("{*}message") or "").strip(),
                                           f"({d.strip()})" if (d := element.findtext("{*}details")) else ""])).split())
    text = text[:_MESSAGE_CHARS] + ("…" if len(text) > _MESSAGE_CHARS else "")
    return f"{uri.rsplit('/', 1)[-1] or 'unknown'}: {text or 'no message'}"


def _record_bytes(record: etree._Element) -> bytes | None:
    """The record inside recordData: an element (packing xml) or escaped text (packing string)."""
    if (record.findtext("{*}recordSchema") or "").strip() == _DIAGNOSTIC_SCHEMA:
        return None
    data = record.find("{*}recordData")
    if data is None:
        return None
    child = next((c for c in data if isinstance(c.tag, str)), None)
    if child is not None:
        return etree.tostring(child, encoding="UTF-8", xml_declaration=False)
    text = (data.text or "").strip()
    return text.encode("utf-8") if text else None
