"""Search: one entry document shape and one request/result shape for every engine.

The embedded engine (tantivy) is the default; cluster engines implement the same two
methods (``write`` and ``search``) over the same documents (``documents.py``).
"""
from __future__ import annotations

from pathlib import Path

from unionapi.search.documents import (  # noqa: F401 (the package's names)
    MAX_QUERY_TERMS, MAX_RESULT_WINDOW, YEAR_BUCKETS, SearchRequest, SearchResult, SearchUnavailable, by_quality,
    display_authors, entry_document, representative, summary, well_cased, words)


def open_engine(settings, read_only: bool = False):
    """The engine named in the settings, with its files under the data directory."""
    if settings.search_engine == "embedded":
        from unionapi.search.embedded import EmbeddedEngine
        return EmbeddedEngine(Path(settings.data_dir) / "index", read_only=read_only)
    if settings.search_engine in ("opensearch", "elasticsearch"):
        from unionapi.search.cluster import ClusterEngine
        return ClusterEngine(settings.search_url, index=settings.search_index, product=settings.search_engine,
                             read_only=read_only)
    raise ValueError(f"search engine '{settings.search_engine}' is not available in this version; "
                     "set search.engine: embedded in settings.yaml")
