"""The embedded engine: a tantivy index in the data directory, nothing to start or run.

Text is folded in Python (normalizer.text.fold, the one folding function) before tantivy sees it,
so index and queries cannot disagree; an exact copy (marks kept) ranks ``dế`` above ``dê``.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Iterable

import tantivy

from normalizer.text import exact, fold
from unionapi.search.documents import YEAR_BUCKETS, SearchRequest, SearchResult, summary

_FACETS = {"library": "library", "lang": "lang", "type": "type", "subject": "subject"}
_BOOSTS = {"title": 4.0, "title_exact": 3.0, "authors": 2.0, "authors_exact": 1.5, "all_exact": 1.0}


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("title", "title_exact", "authors", "authors_exact", "all", "all_exact"):
        builder.add_text_field(name, stored=False, tokenizer_name="default")
    for name in _FACETS.values():
        builder.add_text_field(name, stored=False, tokenizer_name="raw", fast=True)
    builder.add_text_field("available", stored=False, tokenizer_name="raw", fast=True)
    builder.add_text_field("isbn", stored=False, tokenizer_name="raw")
    builder.add_integer_field("year", stored=False, indexed=True, fast=True)
    builder.add_bytes_field("summary", stored=True, indexed=False, fast=False)
    return builder.build()


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, path: Path, read_only: bool = False):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self.read_only = read_only
        self._reloaded = 0.0
        self._reload_lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------------
    def write(self, documents: Iterable[dict], deleted_ids: Iterable[str], replace_all: bool = False) -> None:
        """Upsert and delete entries in one commit: searchers see all of it or none of it."""
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

    def _to_tantivy(self, document: dict) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", document["id"])
        title_text = " ".join(document["titles"])
        author_text = " ".join(document["authors"])
        all_text = " ".join([title_text, author_text, *document["subjects"], *document["other_text"]])
        for name, text in (("title", title_text), ("authors", author_text), ("all", all_text)):
            doc.add_text(name, fold(text))
            doc.add_text(name + "_exact", exact(text))
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
                self.index.reload()
                self._reloaded = now
        return self.index.searcher()

    def count(self) -> int:
        return self._searcher().num_docs

    def search(self, request: SearchRequest) -> SearchResult:
        searcher = self._searcher()
        query = self._query(request)
        offset = (request.page - 1) * request.size
        found = searcher.search(query, limit=request.size, offset=offset, count=True)
        hits = [json.loads(bytes(searcher.doc(address)["summary"][0])) for _score, address in found.hits]
        return SearchResult(total=found.count, hits=hits, facets=self._facets(searcher, query))

    def _query(self, request: SearchRequest) -> tantivy.Query:
        schema, Q, Occur = self.schema, tantivy.Query, tantivy.Occur
        clauses = []
        folded, exact_terms = request.folded_terms(), request.exact_terms()
        for term in folded:
            clauses.append((Occur.Must, Q.term_query(schema, "all", term)))
            clauses.append((Occur.Should, Q.boost_query(Q.term_query(schema, "title", term), _BOOSTS["title"])))
            clauses.append((Occur.Should, Q.boost_query(Q.term_query(schema, "authors", term), _BOOSTS["authors"])))
        for term in exact_terms:
            for field in ("title_exact", "authors_exact", "all_exact"):
                clauses.append((Occur.Should, Q.boost_query(Q.term_query(schema, field, term), _BOOSTS[field])))
        if len(folded) > 1:
            clauses.append((Occur.Should, Q.boost_query(Q.phrase_query(schema, "title", folded), 4.0)))
        for name, values in (("library", request.library), ("lang", request.lang), ("type", request.type)):
            if values:
                clauses.append((Occur.Must, Q.term_set_query(schema, name, list(values))))
        if request.available:
            clauses.append((Occur.Must, Q.exists_query("available") if not request.library else
                            Q.term_set_query(schema, "available", list(request.library))))
        if request.year_from is not None or request.year_to is not None:
            clauses.append((Occur.Must, Q.range_query(schema, "year", tantivy.FieldType.Integer,
                                                      request.year_from, request.year_to)))
        if not folded:
            clauses.append((Occur.Must, Q.all_query()))
        return Q.boolean_query(clauses)

    def _facets(self, searcher: tantivy.Searcher, query: tantivy.Query) -> dict[str, list[dict]]:
        aggregations = {name: {"terms": {"field": field, "size": 30}} for name, field in _FACETS.items()}
        aggregations["year"] = {"range": {"field": "year", "ranges": [
            {k: v for k, v in (("from", lo), ("to", hi)) if v is not None} for lo, hi in YEAR_BUCKETS]}}
        result = searcher.aggregate(query, aggregations)
        facets = {name: [{"value": b["key"], "count": b["doc_count"]} for b in result[name]["buckets"]]
                  for name in _FACETS}
        facets["year"] = [{"from": lo, "to": hi - 1 if hi else None, "count": b["doc_count"]}
                          for (lo, hi), b in zip(YEAR_BUCKETS, result["year"]["buckets"]) if b["doc_count"]]
        return facets
