"""What the API, the pages and the command line all do, done once: cataloguers' decisions (under the
pipeline lock, then the index updated), holdings grouped by library and branch, the network's status.

Free of Flask: the callers turn the answers and the errors (``params.BadRequest`` and its kin,
``storage.locks.Busy``) into JSON, a page or a line of text.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from config import Library
from config.network import home_branch
from normalizer.records import STATUSES
from storage.locks import Busy, hold
from unionapi.params import BadRequest, Conflict, NotFound
from unionapi.pipeline import clusters_for, index_changes
from unionapi.scheduler import next_runs

LOCK_WAIT_S = 1.5  # how long a request waits for the pipeline lock before saying "busy"
# where a harvest error's own sentence ends and what the server sent begins (an excerpt of its body)
_BODY_EXCERPT = re.compile(r""":\s*b?['"]""")


def library_ref(config, library_id: str) -> dict:
    """A library as answers name it: its id and its name (the id again when it is no longer configured);
    a former library's id names the library that replaced it (config.network)."""
    current = config.network.current(library_id)
    library = config.libraries.get(current)
    return {"id": current, "name": library.name if library else library_id}


def as_of(services, stored_ids) -> str | None:
    """When copies stored under these library ids were last harvested: the oldest of their last good
    harvests (None when one never was), so a merged library's holdings are never said fresher than they are."""
    found = [services.raw.last_success(i) for i in sorted(set(stored_ids))]
    return None if not found or None in found else min(found)


def group_holdings(members, services) -> list[dict]:
    """Holdings of all members, by library (of today: config.network) then branch, with when each
    library was last harvested."""
    grouped: "OrderedDict[str, OrderedDict[str, list]]" = OrderedDict()
    stored: dict[str, set[str]] = {}
    network = services.config.network
    for member in members:
        for holding in member.holdings:
            library = network.current(holding.library, home_branch(holding))
            stored.setdefault(library, set()).add(holding.library)
            branches = grouped.setdefault(library, OrderedDict())
            branches.setdefault(holding.branch or "", []).append(holding)
    out = []
    for library_id, branches in grouped.items():
        branch_list = []
        for branch, holdings in branches.items():
            items = [{"location": h.location, "call_number": h.call_number, "barcode": h.barcode,
                      "status": h.status, "due_date": h.due_date,
                      # rotation: the branch it belongs to, while ``branch`` is where it is now
                      "owner_branch": h.owner_branch, "owner_branch_code": h.owner_branch_code} for h in holdings
                     if h.status != "unknown" or h.call_number or h.barcode or h.location]
            counts = {status: sum(1 for h in holdings if h.status == status) for status in STATUSES}
            branch_list.append({"branch": branch or None, "items": items,
                                "counts": {k: v for k, v in counts.items() if v}})
        out.append({**library_ref(services.config, library_id), "as_of": as_of(services, stored[library_id]),
                    "branches": branch_list})
    return out


# -- the network's status: /api/libraries, the harvest page, `unioncat status` -------------------
@dataclass(frozen=True)
class LibraryStatus:
    library: Library
    last_success: str | None  # when the last good harvest ended
    last_failure: dict | None  # {at, error} of the last failed or interrupted run
    last_run: dict | None  # the latest run, whatever its outcome
    warning: dict | None  # {at, message}: deletions refused; the runs are "ok", the data is not
    next_run: str | None  # from the scheduler's job store
    record_count: int  # its records, and those of the former libraries it replaced (config.network)
    records_in_tree: int = 0  # with every library under it (a province with its communes)


def network_status(services) -> list[LibraryStatus]:
    """Each current library: its harvests (kept under its storage id: a renamed library's go on), its
    records counted with those of the libraries it replaced, and with those of the libraries under it."""
    counts = services.config.network.roll_up(services.catalogue.record_counts())
    upcoming = next_runs(services.config.settings.data_dir)
    out = []
    for library in services.config.libraries.values():
        source = library.storage_id
        runs = services.raw.runs(source, limit=1)
        own, tree = counts.get(library.id, (0, 0))
        out.append(LibraryStatus(library=library, last_success=services.raw.last_success(source),
                                 last_failure=services.raw.last_failure(source),
                                 last_run=runs[0] if runs else None, warning=services.raw.warning(source),
                                 next_run=upcoming.get(library.id), record_count=own, records_in_tree=tree))
    return out


def public_error(text: str | None, full: bool = False) -> str | None:
    """A harvest error for everyone: the sentence only, never what the failing server answered.
    ``full`` (a request with an API token): the whole text, cut to 500 characters."""
    if not text:
        return text
    if full:
        return text if len(text) <= 500 else text[:500] + "…"
    m = _BODY_EXCERPT.search(text)
    text = text[:m.start()] if m else text
    return text if len(text) <= 300 else text[:300] + "…"


# -- cataloguers' decisions -------------------------------------------------------------------------
@contextmanager
def pipeline_for_request(services):
    """The pipeline lock for a request: at most two request threads wait for it (or hold it), only
    LOCK_WAIT_S each; otherwise Busy at once. Waiting threads would otherwise take all the server's
    threads during a rebuild, and nothing else (not even /api/health) would be answered."""
    if not services.writers.acquire(blocking=False):
        raise Busy("other changes are already waiting for it")
    try:
        with hold(services.locks_dir, "pipeline", wait_s=LOCK_WAIT_S):
            yield
    finally:
        services.writers.release()


@contextmanager
def _deciding(services):
    """One decision at a time and never during a pipeline run; the index follows it at once."""
    with pipeline_for_request(services):
        yield clusters_for(services.config, services.catalogue)
        index_changes(services.catalogue, services.engine, network=services.config.network, follow_network=False)


def decide_report(services, report_id: int, action: str, who: str, comment: str | None = None) -> int:
    """Merge or reject the pair of a duplicate report; the decision's id."""
    with _deciding(services) as clusters:
        report = clusters.report(report_id)
        if report is None:
            raise NotFound(f"no duplicate report {report_id}")
        return clusters.decide(action, who=who, comment=comment, a=report["a"], b=report["b"])


def split(services, entry_id: str, record_id, who: str, comment: str | None = None) -> int:
    """Take one record out of a union entry; the decision's id."""
    with _deciding(services) as clusters:
        members = {m.record_id for m in services.catalogue.members(entry_id)}
        if not members:
            raise NotFound(f"no union entry with id '{entry_id}'")
        if not isinstance(record_id, str):
            raise BadRequest("'record_id' (text) is the record to take out of this entry")
        if record_id not in members:
            raise Conflict(f"'record_id' must be one of this entry's records: {', '.join(sorted(members))}")
        if len(members) == 1:
            raise Conflict("this entry has only one record; there is nothing to split")
        return clusters.decide("split", who=who, comment=comment, a=record_id)


def block(services, isbn: str, prefix: str | None, who: str, comment: str | None = None) -> int:
    """Stop an ISBN (normalized) from joining records, for every title or those beginning with ``prefix``."""
    with _deciding(services) as clusters:
        return clusters.decide("block", who=who, comment=comment, isbn=isbn, prefix=prefix)


def undo(services, decision_id: int, who: str) -> dict:
    """Undo a decision (undoing one already undone changes nothing); the decision as it is now."""
    with _deciding(services) as clusters:
        found = clusters.undo(decision_id, who=who)
        if found is None:
            raise NotFound(f"no decision {decision_id}")
        return found
