"""The cluster engines: Elasticsearch 8.x and OpenSearch 2.x, for networks that outgrow one machine.

One mapping, one query builder and one index lifecycle serve both clusters; the only difference is the
client that carries the requests (``opensearch-py`` for OpenSearch — the ``elasticsearch`` client 7.14
and later refuses to talk to it — and ``elasticsearch`` 8 for Elasticsearch). Every request goes
through :class:`_Transport.request` as a plain REST call, so the bodies below are written once.

The engine indexes the same documents (:func:`unionapi.search.entry_document`) and answers the same
:class:`SearchRequest` with the same :class:`SearchResult` as the embedded engine:

- text is analysed twice: *folded* (combining marks stripped by a character filter in case NFD slips
  through, lowercase, asciifolding: ``Đà Nẵng`` -> ``da nang``) for matching, and *exact* (lowercase,
  marks kept) to rank ``dế`` above ``dê``; documents and queries are NFC-normalized before they are sent.
- facets come from keyword fields; holdings are nested objects (library, branch, call number, status),
  so "available at branch X" matches a copy that is both at X and on the shelf.
- fielded queries (SRU's CQL, :class:`unionapi.search.documents.Query`) use the same analyzers, plus
  ``subjects.folded`` and whole values (``titles.key``...: folded words one space apart, as ``value_key``).
  An index an older version made without them is copied by the cluster itself into a new index with the
  current mapping (``_reindex`` from ``_source``) at the next write, and the alias swaps to it.
- the alias ``<index>`` points at a versioned index ``<index>-v<UTC time>``. A full rebuild fills a new
  index and swaps the alias in one atomic ``_aliases`` call, so searches keep answering from the old
  index throughout and a failed rebuild leaves it serving. Other writes upsert and delete in place.
- bulk requests go through a bounded queue to a few sender threads; 429 and 5xx answers (whole
  requests or single documents) are retried with exponential backoff; a cluster that does not answer
  raises :class:`SearchUnavailable` with a message for the operator.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import unicodedata
from datetime import datetime, timezone
from typing import Iterable, Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

from harvester.retry import retry
from unionapi.search.documents import (YEAR_BUCKETS, And, Everything, Not, Or, Prefix, Query, QueryUnsupported,
                                       SearchRequest, SearchResult, SearchUnavailable, Value, Whole, Words, Years,
                                       needs_fields, summary)

log = logging.getLogger("unioncat.search")

PRODUCTS = {"opensearch": "OpenSearch", "elasticsearch": "Elasticsearch"}
FACET_FIELDS = {"library": "libraries", "lang": "languages", "type": "material_type", "subject": "subjects"}
FACET_SIZE = 30
# the same weights as the embedded engine, so both rank alike
BOOSTS = {"titles": 4.0, "titles.exact": 3.0, "authors": 2.0, "authors.exact": 1.5, "all.exact": 1.0,
          "titles_phrase": 4.0}
# fielded queries: the folded text field and the whole-value field of each index (as the embedded engine's)
TEXT_FIELDS = {"title": "titles", "creator": "authors", "subject": "subjects.folded", "any": "all"}
WHOLE_FIELDS = {"title": "titles.key", "creator": "authors.key", "subject": "subjects.key"}
VALUE_FIELDS = {"isbn": "isbns", "issn": "issns", "id": "id"}


class SearchIndexError(RuntimeError):
    """The cluster refused documents for a reason retrying cannot fix (e.g. a mapping conflict)."""


# -- the index: settings and mapping, written once for both clusters ---------------------------------
_KEY = {"type": "keyword", "normalizer": "key"}


def _text(analyzer: str = "folded", copy_to: str | None = None, key: bool = False) -> dict:
    field = {"type": "text", "analyzer": analyzer,
             "fields": {"exact": {"type": "text", "analyzer": "exact"}, **({"key": _KEY} if key else {})}}
    if copy_to:
        field["copy_to"] = copy_to
    return field


def _keyword(index: bool = True, copy_to: str | None = None) -> dict:
    field = {"type": "keyword"} if index else {"type": "keyword", "index": False, "doc_values": False}
    if copy_to:
        field["copy_to"] = copy_to
    return field


ANALYSIS = {
    "char_filter": {
        # documents are NFC'd before indexing; this catches decomposed text that arrives some other way
        "strip_combining_marks": {"type": "pattern_replace", "pattern": "\\p{M}+", "replacement": ""},
        # a whole value's key: runs of letters and digits one space apart (unionapi.search.value_key)
        "words_apart": {"type": "pattern_replace", "pattern": "[^\\p{L}\\p{N}]+", "replacement": " "},
    },
    "tokenizer": {
        # runs of letters and digits, as the embedded engine and unionapi.search.words() split text
        "words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"},
    },
    "analyzer": {
        "folded": {"type": "custom", "char_filter": ["strip_combining_marks"], "tokenizer": "words",
                   "filter": ["lowercase", "asciifolding"]},
        "exact": {"type": "custom", "tokenizer": "words", "filter": ["lowercase"]},
    },
    "normalizer": {
        "key": {"type": "custom", "char_filter": ["strip_combining_marks", "words_apart"],
                "filter": ["lowercase", "asciifolding", "trim"]},
    },
}

MAPPING = {
    "dynamic": False,  # fields added to entry_document later are kept in _source, not indexed by guess
    "properties": {
        "id": {"type": "keyword"},
        "title": _keyword(index=False),
        "title_sort": {"type": "keyword"},
        "titles": _text(copy_to="all", key=True),
        "authors": _text(copy_to="all", key=True),
        "all": _text(),  # titles + authors + subjects + other_text, as the embedded engine's "all"
        "subjects": {**_keyword(copy_to="all"), "fields": {"folded": {"type": "text", "analyzer": "folded"},
                                                            "key": _KEY}},
        "other_text": {"type": "text", "analyzer": "folded", "index": False, "copy_to": "all"},
        "publisher": _keyword(index=False),
        "year": {"type": "integer"},
        "languages": {"type": "keyword"},
        "material_type": {"type": "keyword"},
        "isbns": {"type": "keyword"},
        "issns": {"type": "keyword"},
        "libraries": {"type": "keyword"},
        "available_libraries": {"type": "keyword"},
        "member_count": {"type": "integer"},
        "online": {"type": "boolean"},  # present (true) when the entry has links to digital documents
        "links": {"type": "object", "enabled": False},  # shown, never searched
        "holdings": {"type": "nested", "properties": {
            "library": {"type": "keyword"},
            "branch": {"type": "keyword"},
            "call_number": {"type": "keyword"},
            "status": {"type": "keyword"},
            "owner": {"type": "keyword"},  # a copy on rotation: the library it belongs to
            "owner_branch": {"type": "keyword"},
        }},
    },
}


def index_body(shards: int = 1, building: bool = False) -> dict:
    """Settings and mappings of a new versioned index; ``building`` turns refreshes off until it is full."""
    return {
        "settings": {"index": {
            "number_of_shards": shards,
            "auto_expand_replicas": "0-1",  # a single node stays green; a cluster keeps one replica
            "refresh_interval": "-1" if building else "1s",
            # while a rebuild fills it nobody reads it, and a crash just fails the rebuild: fsync in the background
            "translog": {"durability": "async" if building else "request"},
            "max_result_window": 10_000,
        }, "analysis": ANALYSIS},
        "mappings": MAPPING,
    }


# -- queries: one body for both clusters ----------------------------------------------------------
def available_filter(libraries: list[str], branches: list[str] | None = None, available: bool = True) -> dict:
    """A copy that is on the shelf (at one of ``libraries``, at one of ``branches``), as one nested match."""
    conditions = [{"term": {"holdings.status": "available"}}] if available else []
    if libraries:
        conditions.append({"terms": {"holdings.library": list(libraries)}})
    if branches:
        conditions.append({"terms": {"holdings.branch": list(branches)}})
    return {"nested": {"path": "holdings", "query": {"bool": {"filter": conditions}}}}


def rotation_filter(libraries: list[str]) -> dict:
    """A copy on rotation (a holding row with an owner), at or belonging to one of ``libraries`` when given."""
    conditions = [{"exists": {"field": "holdings.owner"}}]
    if libraries:
        conditions.append({"bool": {"should": [{"terms": {"holdings.library": list(libraries)}},
                                               {"terms": {"holdings.owner": list(libraries)}}],
                                    "minimum_should_match": 1}})
    return {"nested": {"path": "holdings", "query": {"bool": {"filter": conditions}}}}


def current_mapping(mappings: dict) -> bool:
    """Whether an index has the fields fielded queries, identifiers, links and rotation need (an older
    version made it without)."""
    properties = mappings.get("properties", {})
    return ("key" in properties.get("titles", {}).get("fields", {})
            and "folded" in properties.get("subjects", {}).get("fields", {})
            and "online" in properties and "issns" in properties
            and "owner" in properties.get("holdings", {}).get("properties", {}))


def tree_body(node: Query) -> dict:
    """A fielded query as match, match_phrase, prefix, term(s), range and bool queries."""
    if isinstance(node, Words):
        field, text = TEXT_FIELDS[node.field], " ".join(node.words)
        found = ({"match_phrase": {field: {"query": text}}} if node.phrase and len(node.words) > 1
                 else {"match": {field: {"query": text, "operator": "and"}}})
        if node.field != "any":
            return found
        # anywhere, ranked as the patron search ranks: the words in a title or an author weigh more
        return {"bool": {"must": [found], "should": [
            {"match": {"titles": {"query": text, "boost": BOOSTS["titles"]}}},
            {"match": {"authors": {"query": text, "boost": BOOSTS["authors"]}}}]}}
    if isinstance(node, Prefix):
        return {"prefix": {TEXT_FIELDS[node.field]: {"value": node.prefix}}}
    if isinstance(node, Whole):
        return {"term": {WHOLE_FIELDS[node.field]: node.key}}
    if isinstance(node, Value):
        return {"terms": {VALUE_FIELDS[node.field]: list(node.values)}}
    if isinstance(node, Years):
        bounds = {k: v for k, v in (("gte", node.lo), ("lte", node.hi)) if v is not None}
        return {"range": {"year": bounds}}
    if isinstance(node, And):
        must = [tree_body(item) for item in node.items if not isinstance(item, Not)]
        must_not = [tree_body(item.item) for item in node.items if isinstance(item, Not)]
        return {"bool": {"must": must or [{"match_all": {}}], "must_not": must_not}}
    if isinstance(node, Or):
        if not node.items:
            return {"match_none": {}}
        return {"bool": {"should": [tree_body(item) for item in node.items], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must": [{"match_all": {}}], "must_not": [tree_body(node.item)]}}
    if isinstance(node, Everything):
        return {"match_all": {}}
    raise TypeError(f"not a query node: {node!r}")


def query_body(request: SearchRequest) -> dict:
    """The bool query of a request: the embedded engine's semantics (every word must match; title,
    author and exact-diacritics matches and the title phrase rank higher) and its filters."""
    folded, exact_terms = request.folded_terms(), request.exact_terms()
    must, should, filters = [], [], []
    if request.query is not None:
        must.append(tree_body(request.query))
        folded = exact_terms = []
    elif folded:
        text = " ".join(folded)
        must.append({"match": {"all": {"query": text, "operator": "and"}}})
        should.append({"match": {"titles": {"query": text, "boost": BOOSTS["titles"]}}})
        should.append({"match": {"authors": {"query": text, "boost": BOOSTS["authors"]}}})
        if len(folded) > 1:
            should.append({"match_phrase": {"titles": {"query": text, "boost": BOOSTS["titles_phrase"]}}})
    else:
        must.append({"match_all": {}})
    if exact_terms:
        text = " ".join(exact_terms)
        for field in ("titles.exact", "authors.exact", "all.exact"):
            should.append({"match": {field: {"query": text, "boost": BOOSTS[field]}}})
    identifier = request.identifier() if request.query is None else None
    if identifier:  # "978-604-2-12345-6", "ISBN 604212345X": the entry holding that ISBN, or else the words
        by_value = {"term": {VALUE_FIELDS[identifier[0]]: {"value": identifier[1], "boost": BOOSTS["titles"]}}}
        must = [{"bool": {"should": [by_value, {"bool": {"must": must, "should": should}}],
                          "minimum_should_match": 1}}]
        should = []
    for field, values in (("libraries", request.library), ("languages", request.lang),
                          ("material_type", request.type)):
        if values:
            filters.append({"terms": {field: list(values)}})
    branches = list(getattr(request, "branch", None) or [])  # a branch filter, when the request has one
    if request.available or branches:
        filters.append(available_filter(list(request.library), branches, available=request.available))
    if request.online:
        filters.append({"term": {"online": True}})
    if request.rotation:
        filters.append(rotation_filter(list(request.library)))
    if request.year_from is not None or request.year_to is not None:
        bounds = {}
        if request.year_from is not None:
            bounds["gte"] = request.year_from
        if request.year_to is not None:
            bounds["lte"] = request.year_to
        filters.append({"range": {"year": bounds}})
    return {"bool": {"must": must, "should": should, "filter": filters}}


def aggregations() -> dict:
    aggs = {name: {"terms": {"field": field, "size": FACET_SIZE}} for name, field in FACET_FIELDS.items()}
    aggs["year"] = {"range": {"field": "year", "ranges": [
        {k: v for k, v in (("from", lo), ("to", hi)) if v is not None} for lo, hi in YEAR_BUCKETS]}}
    aggs["online"] = {"filter": {"term": {"online": True}}}
    return aggs


class _AnyKey(dict):
    def __missing__(self, key):
        return None


SUMMARY_KEYS = list(summary(_AnyKey()))


def search_body(request: SearchRequest) -> dict:
    body = {
        "query": query_body(request),
        "from": request.offset(),
        "size": request.size,
        "track_total_hits": True,
        "sort": ["_score", {"id": "asc"}],  # ties in a stable order, so pages do not overlap
        "_source": SUMMARY_KEYS,
    }
    if request.facets:
        body["aggs"] = aggregations()
    return body


def facets_from(aggs: dict) -> dict[str, list[dict]]:
    facets = {name: [{"value": b["key"], "count": b["doc_count"]} for b in aggs[name]["buckets"]]
              for name in FACET_FIELDS}
    facets["year"] = [{"from": lo, "to": hi - 1 if hi else None, "count": b["doc_count"]}
                      for (lo, hi), b in zip(YEAR_BUCKETS, aggs["year"]["buckets"]) if b["doc_count"]]
    online = aggs.get("online", {}).get("doc_count", 0)
    facets["online"] = [{"value": "true", "count": online}] if online else []
    return facets


def nfc(value):
    """Every string in a document NFC-normalized (the folded analyzer cannot fold decomposed marks)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {k: nfc(v) for k, v in value.items()}
    return value


# -- transports: the only code that differs between the two clusters ------------------------------
class _Unreachable(Exception):
    pass


class _HTTPError(Exception):
    def __init__(self, status: int, body):
        super().__init__(f"HTTP {status}: {_reason(body)}")
        self.status = status
        self.body = body


def _reason(body) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('type')}: {error.get('reason')}"
    return str(body)[:300]


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"search.url: expected a URL like http://127.0.0.1:9200; got {url!r}")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth


class _Transport:
    def request(self, method: str, path: str, body=None, params: dict | None = None, ndjson: bool = False,
                timeout: float | None = None):
        raise NotImplementedError

    def close(self) -> None:
        pass


class _OpenSearchTransport(_Transport):
    def __init__(self, url: str, auth, timeout: float):
        import opensearchpy
        self._errors = opensearchpy.exceptions
        self.client = opensearchpy.OpenSearch(hosts=[url], http_auth=auth, timeout=timeout, max_retries=0,
                                              retry_on_timeout=False, pool_maxsize=8)

    def request(self, method, path, body=None, params=None, ndjson=False, timeout=None):
        headers = {"content-type": "application/x-ndjson" if ndjson else "application/json"}
        params = dict(params or {})
        if timeout:
            params["request_timeout"] = timeout
        try:
            return self.client.transport.perform_request(method, path, params=params, body=body, headers=headers)
        except self._errors.ConnectionError as exc:  # refused, reset, timed out
            raise _Unreachable(str(getattr(exc, "info", None) or exc)) from exc
        except self._errors.TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if not status:
                raise _Unreachable(str(exc)) from exc
            raise _HTTPError(status, exc.info) from exc

    def close(self):
        self.client.close()


class _ElasticsearchTransport(_Transport):
    def __init__(self, url: str, auth, timeout: float):
        import elastic_transport
        import elasticsearch
        self._es, self._et = elasticsearch, elastic_transport
        self.client = elasticsearch.Elasticsearch(url, basic_auth=auth, request_timeout=timeout, max_retries=0,
                                                  retry_on_timeout=False, connections_per_node=8)

    def request(self, method, path, body=None, params=None, ndjson=False, timeout=None):
        headers = {"accept": "application/json",
                   "content-type": "application/x-ndjson" if ndjson else "application/json"}
        client = self.client.options(request_timeout=timeout) if timeout else self.client
        if body is None and method in ("POST", "PUT"):
            body = {}
        try:
            return client.perform_request(method, path, params=params, headers=headers, body=body).body
        except self._es.UnsupportedProductError as exc:
            raise SearchUnavailable(f"the server is not Elasticsearch ({exc}); for OpenSearch set "
                                    "search.engine: opensearch") from exc
        except self._es.ApiError as exc:
            raise _HTTPError(exc.meta.status, exc.body) from exc
        except self._et.TransportError as exc:  # connection refused, reset, timed out, TLS
            raise _Unreachable(str(exc)) from exc

    def close(self):
        self.client.close()


# -- the engine ---------------------------------------------------------------------------------
class ClusterEngine:
    """``write`` / ``search`` / ``count`` over an Elasticsearch 8 or OpenSearch 2 cluster."""

    def __init__(self, url: str, index: str = "unioncat", product: str = "opensearch", read_only: bool = False,
                 shards: int = 1, chunk_docs: int = 1000, chunk_bytes: int = 8_000_000, senders: int = 2,
                 queue_chunks: int = 4, max_retries: int = 6, backoff_s: float = 0.5, timeout_s: float = 30.0):
        if product not in PRODUCTS:
            raise ValueError(f"unknown cluster product {product!r}; expected one of {', '.join(PRODUCTS)}")
        self.name = product
        self.product = PRODUCTS[product]
        self.url, auth = _split_credentials(url)  # the URL without credentials, for messages
        self.alias = index.lower()
        self.read_only = read_only
        self.shards, self.chunk_docs, self.chunk_bytes = shards, chunk_docs, chunk_bytes
        self.senders, self.queue_chunks = senders, queue_chunks
        self.max_retries, self.backoff_s, self.timeout_s = max_retries, backoff_s, timeout_s
        transport = _OpenSearchTransport if product == "opensearch" else _ElasticsearchTransport
        self.transport = transport(self.url, auth, timeout_s)
        self._current = False  # the index behind the alias has the current mapping (checked when it matters)

    def close(self) -> None:
        self.transport.close()

    # -- requests ------------------------------------------------------------------------------
    def _unavailable(self, reason) -> SearchUnavailable:
        return SearchUnavailable(f"{self.product} at {self.url} is not answering: {reason}; the harvest is kept; "
                                 "run `unioncat index` when it is back")

    def _call(self, method: str, path: str, body=None, params=None, ndjson=False, timeout=None):
        try:
            return self.transport.request(method, path, body=body, params=params, ndjson=ndjson, timeout=timeout)
        except _Unreachable as exc:
            raise self._unavailable(exc) from None
        except _HTTPError as exc:
            if exc.status in (502, 503, 504):
                raise self._unavailable(exc) from None
            raise

    def _indexes_behind_alias(self) -> list[str]:
        try:
            found = self._call("GET", f"/_alias/{self.alias}")
        except _HTTPError as exc:
            if exc.status == 404:
                return []
            raise
        return sorted(found)

    def _new_index_name(self) -> str:
        return f"{self.alias}-v{datetime.now(timezone.utc):%Y%m%d%H%M%S%f}"

    def _create_index(self, name: str, building: bool = False) -> None:
        self._call("PUT", f"/{name}", body=index_body(self.shards, building=building),
                   params={"wait_for_active_shards": "1"})

    def _ensure_alias(self) -> None:
        """The alias exists (an empty first index behind it if need be) before documents go to it."""
        if self._indexes_behind_alias():
            return
        try:
            self._call("GET", f"/{self.alias}")
            raise SearchIndexError(f"{self.product} at {self.url}: '{self.alias}' is an index, not an alias; "
                                   f"delete it (DELETE /{self.alias}) or set search.index to another name")
        except _HTTPError as exc:
            if exc.status != 404:
                raise
        name = self._new_index_name()
        self._create_index(name)
        try:
            self._call("POST", "/_aliases", body={"actions": [{"add": {"index": name, "alias": self.alias}}]})
        except BaseException:
            self._delete_quietly(name)
            raise

    def _delete_quietly(self, name: str) -> None:
        try:
            self._call("DELETE", f"/{name}")
        except (SearchUnavailable, _HTTPError) as exc:
            log.warning("could not delete index %s: %s", name, exc)

    # -- writing -------------------------------------------------------------------------------
    def write(self, documents: Iterable[dict], deleted_ids: Iterable[str], replace_all: bool = False) -> None:
        """Upsert and delete entries; with ``replace_all`` build a new index and swap the alias to it.

        Raises SearchUnavailable when the cluster does not answer: the caller keeps its entries dirty."""
        if self.read_only:
            raise RuntimeError("this search engine was opened read-only")
        self._call("GET", "/_cluster/health")  # fail fast, with the operator's message, when it is down
        if replace_all:
            self._rebuild(documents)
            return
        self._ensure_alias()
        if not self.has_current_mapping():
            self._upgrade()
        operations = self._operations(documents, deleted_ids)
        self._bulk(self.alias, operations, params={"require_alias": "true"})
        self._call("POST", f"/{self.alias}/_refresh")

    def _operations(self, documents: Iterable[dict], deleted_ids: Iterable[str]) -> Iterator[tuple[dict, dict | None]]:
        for entry_id in deleted_ids:
            yield {"delete": {"_id": entry_id}}, None
        for document in documents:
            yield {"index": {"_id": document["id"]}}, nfc(document)

    def has_current_mapping(self) -> bool:
        """Whether the indexes behind the alias have the fields of fielded queries (no alias yet: yes, the
        first index is made with them). Asked of the cluster until it says yes."""
        if self._current:
            return True
        try:
            found = self._call("GET", f"/{self.alias}/_mapping")
        except _HTTPError as exc:
            if exc.status == 404:
                return True
            raise
        self._current = all(current_mapping(index.get("mappings", {})) for index in found.values())
        return self._current

    def _upgrade(self) -> None:
        """An index an older version made: the cluster copies every document (their ``_source`` is whole) into
        a new index with the current mapping, then the alias swaps; searches keep answering meanwhile."""
        log.warning("%s: the index behind %s predates the fields of fielded searches; copying it into a new index",
                    self.product, self.alias)
        new = self._new_index_name()
        self._create_index(new, building=True)
        self._fill_and_swap(new, lambda: self._reindex(self.alias, new))

    def _reindex(self, source: str, dest: str) -> None:
        task = self._call("POST", "/_reindex", body={"source": {"index": source}, "dest": {"index": dest}},
                          params={"wait_for_completion": "false"})
        while True:
            state = self._call("GET", f"/_tasks/{task['task']}")
            if state.get("completed"):
                break
            time.sleep(0.5)
        failures = (state.get("response") or {}).get("failures") or ([state["error"]] if state.get("error") else [])
        if failures:
            raise SearchIndexError(f"{self.product} at {self.url} could not copy {source} into {dest}: "
                                   f"{_reason({'error': failures[0]}) if isinstance(failures[0], dict) else failures[0]}")

    def _rebuild(self, documents: Iterable[dict]) -> None:
        new = self._new_index_name()
        self._create_index(new, building=True)
        self._fill_and_swap(new, lambda: self._bulk(new, self._operations(documents, [])))

    def _fill_and_swap(self, new: str, fill) -> None:
        """``fill`` the new index, then point the alias at it in one call and delete the old ones."""
        try:
            fill()
            self._call("PUT", f"/{new}/_settings", body={"index": {"refresh_interval": "1s",
                                                                    "translog": {"durability": "request"}}})
            self._call("POST", f"/{new}/_refresh")
            self._call("GET", f"/_cluster/health/{new}", params={"wait_for_status": "yellow"})  # server default: 30 s
            old = self._indexes_behind_alias()
            actions = [{"remove": {"index": name, "alias": self.alias}} for name in old]
            actions.append({"add": {"index": new, "alias": self.alias}})
            self._call("POST", "/_aliases", body={"actions": actions})  # atomic: searches see old or new
        except BaseException:
            log.error("rebuild of %s failed; %s keeps serving", new,
                      "the previous index" if self._safe_alias_targets() else "nothing (there was no index)")
            self._delete_quietly(new)
            raise
        for name in old:
            self._delete_quietly(name)
        self._delete_orphans(keep=new)
        self._current = True
        log.info("%s: alias %s now points at %s", self.product, self.alias, new)

    def _safe_alias_targets(self) -> list[str]:
        try:
            return self._indexes_behind_alias()
        except Exception:  # noqa: BLE001 - only for a log line
            return []

    def _delete_orphans(self, keep: str) -> None:
        """Indexes left by rebuilds that died half-way (older than the new one, behind no alias)."""
        try:
            found = self._call("GET", f"/_cat/indices/{self.alias}-v*", params={"format": "json", "h": "index"})
        except (_HTTPError, SearchUnavailable):
            return
        for row in found or []:
            name = row["index"]
            if name < keep and name.startswith(f"{self.alias}-v"):
                self._delete_quietly(name)

    # bulk: a producer turns operations into NDJSON chunks, a bounded queue hands them to senders
    def _chunks(self, operations: Iterable[tuple[dict, dict | None]]) -> Iterator[list[tuple[dict, bytes]]]:
        chunk, size = [], 0
        for action, document in operations:
            lines = json.dumps(action, ensure_ascii=False) + "\n"
            if document is not None:
                lines += json.dumps(document, ensure_ascii=False) + "\n"
            data = lines.encode("utf-8")
            if chunk and (len(chunk) >= self.chunk_docs or size + len(data) > self.chunk_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((action, data))
            size += len(data)
        if chunk:
            yield chunk

    def _bulk(self, index: str, operations, params: dict | None = None) -> None:
        work: queue.Queue = queue.Queue(maxsize=self.queue_chunks)
        failures: list[BaseException] = []
        failed = threading.Event()

        def sender():
            while True:
                chunk = work.get()
                if chunk is None:
                    return
                if failed.is_set():
                    continue  # drain: the producer stops soon
                try:
                    self._send(index, chunk, params)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                    failures.append(exc)
                    failed.set()

        threads = [threading.Thread(target=sender, name=f"bulk-{i}", daemon=True) for i in range(self.senders)]
        for thread in threads:
            thread.start()
        try:
            for chunk in self._chunks(operations):
                if failed.is_set():
                    break
                work.put(chunk)  # blocks while the senders are behind: memory stays bounded
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]

    def _send(self, index: str, chunk: list[tuple[dict, bytes]], params: dict | None) -> None:
        """One bulk request; 429 and 5xx answers (of the whole request, or of single documents: only those
        are sent again) are retried with backoff, other refusals raise SearchIndexError at once."""
        pending = chunk

        def attempt() -> None:
            nonlocal pending
            body = b"".join(data for _, data in pending)
            try:
                answer = self.transport.request("POST", f"/{index}/_bulk", body=body, params=params, ndjson=True,
                                                timeout=max(60.0, self.timeout_s))
            except _HTTPError as exc:
                if exc.status == 429 or exc.status >= 500:
                    raise
                raise SearchIndexError(f"{self.product} at {self.url} refused a bulk request: {exc}") from None
            if not answer.get("errors"):
                return
            busy, refused, last = [], [], None
            for (action, data), item in zip(pending, answer["items"]):
                op, result = next(iter(item.items()))
                status = result.get("status", 0)
                if status < 300 or (op == "delete" and status == 404):
                    continue
                if status == 429 or status >= 500:
                    busy.append((action, data))
                    last = _HTTPError(status, result)
                else:
                    refused.append(f"{result.get('_id')}: {_reason(result)}")
            if refused:
                raise SearchIndexError(f"{self.product} at {self.url} refused {len(refused)} documents, e.g. "
                                       + "; ".join(refused[:3]))
            if busy:
                pending = busy
                raise last

        try:
            retry(attempt, attempts=self.max_retries + 1, backoff_s=self.backoff_s, max_wait_s=30.0, jitter=0.5,
                  retryable=lambda exc: isinstance(exc, (_Unreachable, _HTTPError)), log=log)
        except (_Unreachable, _HTTPError) as exc:
            raise self._unavailable(f"still failing after {self.max_retries} retries ({exc})") from None

    # -- reading -------------------------------------------------------------------------------
    def count(self) -> int:
        try:
            return int(self._call("GET", f"/{self.alias}/_count")["count"])
        except _HTTPError as exc:
            if exc.status == 404:
                return 0
            raise

    def search(self, request: SearchRequest) -> SearchResult:
        if request.query is not None and needs_fields(request.query) and not self.has_current_mapping():
            raise QueryUnsupported(f"the index {self.alias} in {self.product} was made by an older version; fielded "
                                   "searches on subjects and whole values work after the next `unioncat index`")
        try:
            answer = self._call("POST", f"/{self.alias}/_search", body=search_body(request))
        except _HTTPError as exc:
            if exc.status == 404:  # nothing indexed yet
                return SearchResult(total=0, hits=[], facets={**{name: [] for name in FACET_FIELDS}, "year": [],
                                                              "online": []})
            raise
        hits = [summary(_AnyKey(hit["_source"])) for hit in answer["hits"]["hits"]]
        facets = facets_from(answer["aggregations"]) if request.facets else {}
        return SearchResult(total=answer["hits"]["total"]["value"], hits=hits, facets=facets)
