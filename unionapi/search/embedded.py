"""The embedded engine: a tantivy index in the data directory, nothing to start or run.

Text is folded in Python (normalizer.text.fold, the one folding function) before tantivy sees it,
so index and queries cannot disagree; an exact copy (marks kept) ranks ``dế`` above ``dê``.

An index whose schema is older than this code's (fields added for fielded queries) keeps answering
what it can (``stale``); the next full rebuild builds the new one beside it and swaps the folders, and
readers in other processes notice the new folder and reopen it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Iterable

import tantivy

from normalizer.text import exact, fold
from unionapi.search.documents import (YEAR_BUCKETS, And, Everything, Not, Or, Prefix, Query, QueryUnsupported,
                                       SearchRequest, SearchResult, Value, Whole, Words, Years, needs_fields,
                                       summary, value_key)

log = logging.getLogger("unioncat.search")

_FACETS = {"library": "library", "lang": "lang", "type": "type", "subject": "subject"}
_BOOSTS = {"title": 4.0, "title_exact": 3.0, "authors": 2.0, "authors_exact": 1.5, "all_exact": 1.0}
# fielded queries: the folded text field and the whole-value field of each index
_TEXT = {"title": "title", "creator": "authors", "subject": "subjects", "any": "all"}
_WHOLE = {"title": "title_key", "creator": "authors_key", "subject": "subject_key"}
_VALUE = {"isbn": "isbn", "issn": "issn", "id": "id"}


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("title", "title_exact", "authors", "authors_exact", "all", "all_exact"):
        builder.add_text_field(name, stored=False, tokenizer_name="default")
    for name in _FACETS.values():
        builder.add_text_field(name, stored=False, tokenizer_name="raw", fast=True)
    builder.add_text_field("available", stored=False, tokenizer_name="raw", fast=True)
    builder.add_text_field("isbn", stored=False, tokenizer_name="raw")
    builder.add_text_field("issn", stored=False, tokenizer_name="raw")
    builder.add_text_field("online", stored=False, tokenizer_name="raw", fast=True)  # "true": it has links
    # libraries a copy on rotation is at or belongs to (holding rows with an owner)
    builder.add_text_field("rotation", stored=False, tokenizer_name="raw", fast=True)
    # for fielded (SRU) queries: subjects' words, and whole titles, authors and subjects (value_key)
    builder.add_text_field("subjects", stored=False, tokenizer_name="default")
    for name in _WHOLE.values():
        builder.add_text_field(name, stored=False, tokenizer_name="raw")
    builder.add_integer_field("year", stored=False, indexed=True, fast=True)
    builder.add_bytes_field("summary", stored=True, indexed=False, fast=False)
    return builder.build()


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, path: Path, read_only: bool = False):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.read_only = read_only
        self._reloaded = 0.0
        self._reload_lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        """The index in the folder; one an older version built (another schema) is opened as it is."""
        try:
            self.index = tantivy.Index(_schema(), path=str(self.path), reuse=True)
            self.stale = False
        except ValueError as exc:
            if "schema does not match" not in str(exc):
                raise
            self.index = tantivy.Index.open(str(self.path))
            self.stale = True
            log.warning("the search index in %s was built by an older version: it keeps answering searches, and "
                        "fielded SRU searches once `unioncat index --rebuild` has rebuilt it", self.path)
        self.schema = self.index.schema
        self._folder = _identity(self.path)

    # -- writing -------------------------------------------------------------------------------
    def write(self, documents: Iterable[dict], deleted_ids: Iterable[str], replace_all: bool = False) -> None:
        """Upsert and delete entries in one commit: searchers see all of it or none of it."""
        if replace_all and self.stale:
            self._replace(documents)
            return
        writer = self.index.writer(heap_size=128_000_000, num_threads=1)
        try:
            if replace_all:
                writer.delete_all_documents()
            for entry_id in deleted_ids:
                writer.delete_documents_by_term("id", entry_id)
            for document in documents:
                if not replace_all:
                    writer.delete_documents_by_term("id", document["id"])
                writer.add_document(self._to_tantivy(document))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self.index.reload()

    def _replace(self, documents: Iterable[dict]) -> None:
        """A rebuild with this version's schema: a new index beside the old one, then the folders swap
        (the old one answers until then; a failed rebuild leaves it in place)."""
        fresh, old = self.path.with_name(self.path.name + ".new"), self.path.with_name(self.path.name + ".old")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        try:
            index = tantivy.Index(_schema(), path=str(fresh))
            writer = index.writer(heap_size=128_000_000, num_threads=1)
            for document in documents:
                writer.add_document(self._to_tantivy(document))
            writer.commit()
            writer.wait_merging_threads()
            del writer, index
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        os.rename(self.path, old)
        os.rename(fresh, self.path)
        shutil.rmtree(old, ignore_errors=True)
        self._open()
        log.info("the search index in %s was rebuilt with the current schema", self.path)

    def _to_tantivy(self, document: dict) -> tantivy.Document:
        """Each title, author and subject is a value of its own: a phrase never spans two of them."""
        doc = tantivy.Document()
        doc.add_text("id", document["id"])
        for name, values in (("title", document["titles"]), ("authors", document["authors"])):
            for text in values:
                doc.add_text(name, fold(text))
                doc.add_text(name + "_exact", exact(text))
        for text in [*document["titles"], *document["authors"], *document["subjects"], *document["other_text"]]:
            doc.add_text("all", fold(text))
            doc.add_text("all_exact", exact(text))
        for value in document["subjects"]:
            doc.add_text("subjects", fold(value))
        for name, values in (("title_key", document["titles"]), ("authors_key", document["authors"]),
                             ("subject_key", document["subjects"])):
            for key in {value_key(text) for text in values} - {""}:
                doc.add_text(name, key)
        for value in document["libraries"]:
            doc.add_text("library", value)
        for value in document["available_libraries"]:
            doc.add_text("available", value)
        for value in document["languages"]:
            doc.add_text("lang", value)
        for value in document["subjects"]:
            doc.add_text("subject", value)
        for value in document["isbns"]:
            doc.add_text("isbn", value)
        for value in document.get("issns", ()):
            doc.add_text("issn", value)
        if document.get("online"):
            doc.add_text("online", "true")
        for value in {row[key] for row in document["holdings"] if row.get("owner") for key in ("library", "owner")}:
            doc.add_text("rotation", value)
        doc.add_text("type", document["material_type"])
        if document["year"] is not None:
            doc.add_integer("year", int(document["year"]))
        doc.add_bytes("summary", json.dumps(summary(document), ensure_ascii=False).encode("utf-8"))
        return doc

    # -- reading -------------------------------------------------------------------------------
    def _searcher(self) -> tantivy.Searcher:
        """Pick up commits made by the indexer (another process) at most once a second."""
        now = time.monotonic()
        if now - self._reloaded > 1.0:
            with self._reload_lock:
                folder = _identity(self.path)
                if folder is not None and folder != self._folder:  # a rebuild swapped in a new index folder
                    self._open()
                elif folder is not None:
                    self.index.reload()
                self._reloaded = now
        return self.index.searcher()

    def count(self) -> int:
        return self._searcher().num_docs

    def search(self, request: SearchRequest) -> SearchResult:
        searcher = self._searcher()
        query = self._query(request)
        found = searcher.search(query, limit=request.size, offset=request.offset(), count=True)
        hits = [json.loads(bytes(searcher.doc(address)["summary"][0])) for _score, address in found.hits]
        return SearchResult(total=found.count, hits=hits,
                            facets=self._facets(searcher, query) if request.facets else {})

    def _query(self, request: SearchRequest) -> tantivy.Query:
        schema, Q, Occur = self.schema, tantivy.Query, tantivy.Occur
        clauses = []
        folded, exact_terms = request.folded_terms(), request.exact_terms()
        if request.query is not None:
            clauses.append((Occur.Must, self._fielded(request.query)))
        words = []  # the patron's words: every one must match; titles, authors, exact marks rank higher
        for term in folded if request.query is None else []:
            words.append((Occur.Must, Q.term_query(schema, "all", term)))
            words.append((Occur.Should, Q.boost_query(Q.term_query(schema, "title", term), _BOOSTS["title"])))
            words.append((Occur.Should, Q.boost_query(Q.term_query(schema, "authors", term), _BOOSTS["authors"])))
        for term in exact_terms if request.query is None else []:
            for field in ("title_exact", "authors_exact", "all_exact"):
                words.append((Occur.Should, Q.boost_query(Q.term_query(schema, field, term), _BOOSTS[field])))
        if len(folded) > 1 and request.query is None:
            words.append((Occur.Should, Q.boost_query(Q.phrase_query(schema, "title", folded), 4.0)))
        identifier = request.identifier() if request.query is None else None
        if identifier and identifier[0] in self._fields():
            # "978-604-2-12345-6", "ISBN 604212345X": the entry holding that ISBN, or else the words
            by_value = Q.boost_query(Q.term_query(schema, identifier[0], identifier[1]), _BOOSTS["title"])
            clauses.append((Occur.Must, Q.boolean_query([(Occur.Should, by_value),
                                                         (Occur.Should, Q.boolean_query(words))])))
        else:
            clauses += words
        for name, values in (("library", request.library), ("lang", request.lang), ("type", request.type)):
            if values:
                clauses.append((Occur.Must, Q.term_set_query(schema, name, list(values))))
        if request.available:
            clauses.append((Occur.Must, Q.exists_query("available") if not request.library else
                            Q.term_set_query(schema, "available", list(request.library))))
        for flag, field in ((request.online, "online"), (request.rotation, "rotation")):
            if flag:
                self._require(field)
                clauses.append((Occur.Must, Q.term_set_query(schema, field, list(request.library)) if field ==
                                "rotation" and request.library else Q.exists_query(field)))
        if request.year_from is not None or request.year_to is not None:
            clauses.append((Occur.Must, Q.range_query(schema, "year", tantivy.FieldType.Integer,
                                                      request.year_from, request.year_to)))
        if not folded and request.query is None:
            clauses.append((Occur.Must, Q.all_query()))
        return Q.boolean_query(clauses)

    def _fields(self) -> set[str]:
        """The fields this index has (an older one lacks those added since)."""
        if self.stale:
            return {name for name in ("isbn", "issn", "online", "rotation") if _has_field(self.schema, name)}
        return {"isbn", "issn", "online", "rotation"}

    def _require(self, field: str) -> None:
        if field not in self._fields():
            raise QueryUnsupported(f"the search index in {self.path} was built by an older version; the {field} filter "
                                   "works once `unioncat index` has rebuilt it")

    def _fielded(self, query: Query) -> tantivy.Query:
        """A fielded query as tantivy's term, phrase, regex, range and boolean queries."""
        if self.stale and needs_fields(query):
            raise QueryUnsupported(f"the search index in {self.path} was built by an older version; fielded searches "
                                   "on subjects and whole values work once `unioncat index --rebuild` has run")
        try:
            return self._node(query)
        except ValueError as exc:  # a field the (older) index does not have
            raise QueryUnsupported(str(exc)) from None

    def _node(self, node: Query) -> tantivy.Query:
        schema, Q, Occur = self.schema, tantivy.Query, tantivy.Occur
        if isinstance(node, Words):
            field = _TEXT[node.field]
            if node.phrase and len(node.words) > 1:
                found = Q.phrase_query(schema, field, list(node.words))
            else:
                found = _all_of([Q.term_query(schema, field, word) for word in node.words])
            if node.field != "any":
                return found
            # anywhere, ranked as the patron search ranks: the words in a title or an author weigh more
            boosts = [(Occur.Should, Q.boost_query(Q.term_query(schema, name, word), _BOOSTS[name]))
                      for word in node.words for name in ("title", "authors")]
            return Q.boolean_query([(Occur.Must, found), *boosts])
        if isinstance(node, Prefix):
            return Q.regex_query(schema, _TEXT[node.field], re.escape(node.prefix) + ".*")
        if isinstance(node, Whole):
            return Q.term_query(schema, _WHOLE[node.field], node.key)
        if isinstance(node, Value):
            return Q.term_set_query(schema, _VALUE[node.field], list(node.values)) if node.values else Q.empty_query()
        if isinstance(node, Years):
            return Q.range_query(schema, "year", tantivy.FieldType.Integer, node.lo, node.hi)
        if isinstance(node, And):
            clauses = [(Occur.MustNot, self._node(item.item)) if isinstance(item, Not) else (Occur.Must, self._node(item))
                       for item in node.items]
            if not any(occur == Occur.Must for occur, _ in clauses):
                clauses.append((Occur.Must, Q.all_query()))  # only exclusions: from everything
            return Q.boolean_query(clauses)
        if isinstance(node, Or):
            if not node.items:
                return Q.empty_query()
            return Q.boolean_query([(Occur.Should, self._node(item)) for item in node.items])
        if isinstance(node, Not):
            return Q.boolean_query([(Occur.Must, Q.all_query()), (Occur.MustNot, self._node(node.item))])
        if isinstance(node, Everything):
            return Q.all_query()
        raise TypeError(f"not a query node: {node!r}")

    def _facets(self, searcher: tantivy.Searcher, query: tantivy.Query) -> dict[str, list[dict]]:
        aggregations = {name: {"terms": {"field": field, "size": 30}} for name, field in _FACETS.items()}
        aggregations["year"] = {"range": {"field": "year", "ranges": [
            {k: v for k, v in (("from", lo), ("to", hi)) if v is not None} for lo, hi in YEAR_BUCKETS]}}
        if "online" in self._fields():
            aggregations["online"] = {"terms": {"field": "online", "size": 1}}
        result = searcher.aggregate(query, aggregations)
        facets = {name: [{"value": b["key"], "count": b["doc_count"]} for b in result[name]["buckets"]]
                  for name in _FACETS}
        online = sum(b["doc_count"] for b in result.get("online", {}).get("buckets", []) if b["key"] == "true")
        facets["online"] = [{"value": "true", "count": online}] if online else []
        facets["year"] = [{"from": lo, "to": hi - 1 if hi else None, "count": b["doc_count"]}
                          for (lo, hi), b in zip(YEAR_BUCKETS, result["year"]["buckets"]) if b["doc_count"]]
        return facets


def _all_of(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    if not queries:
        return tantivy.Query.empty_query()
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def _has_field(schema: tantivy.Schema, name: str) -> bool:
    try:
        tantivy.Query.term_query(schema, name, "x")  # refused for a field the schema does not have
    except ValueError:
        return False
    return True


def _identity(path: Path) -> tuple[int, int] | None:
    """Which folder is at ``path`` now (a rebuild renames a new one into place); None while there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino
