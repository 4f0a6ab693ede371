"""Rotation (luân chuyển) as a library page shows it: the copies that are away from the branch they belong to.

A provincial library lends boxes of books to its rotation points (offices, schools, hamlets) and its
mobile library; Koha says so per copy (952 $a home library, $b where it is now), the normalizer keeps
both (``Holding.owner_branch`` / ``branch``). The entries come from the search engine (``rotation``
filter, so the count costs one search), the copies from their member records. Free of Flask.
"""
from __future__ import annotations

import logging
from collections import Counter

from unionapi.search import SearchRequest, SearchUnavailable
from unionapi.search.documents import QueryUnsupported

log = logging.getLogger("unioncat.pages")
LISTED = 20  # entries a library page lists; the search filter lists them all


def rotation_facts(services, library_id: str, limit: int = LISTED) -> dict | None:
    """``{"total": entries, "rows": [...]}`` for a library: entries with a copy on rotation at or from it,
    each row one (entry, belongs to, is now at) with its number of copies; None when there are none or
    the search cannot say (an index an older version made, a cluster that does not answer)."""
    try:
        found = services.engine.search(SearchRequest(library=[library_id], rotation=True, size=limit,
                                                     facets=False))
    except (QueryUnsupported, SearchUnavailable) as exc:
        log.info("rotation of %s not shown: %s", library_id, exc)
        return None
    if not found.total:
        return None
    network = getattr(services.config, "network", None)
    rows = []
    for hit in found.hits:
        members = services.catalogue.members(hit["id"])
        if network is not None:
            members = network.records(members)
        copies = Counter((h.library, h.owner_branch or h.owner_branch_code, h.branch or h.branch_code)
                         for m in members for h in m.holdings if h.owner_branch_code or h.owner_branch)
        for (library, owner, current), n in copies.items():
            if library == library_id:
                rows.append({"entry": hit["id"], "title": hit["title"], "library": library, "owner": owner,
                             "current": current, "copies": n})
    return {"total": found.total, "rows": rows}
