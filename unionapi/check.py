"""``unioncat check``: do the source, the raw store, the catalogue and the index agree, per library?

A union catalogue is trusted only if its numbers add up; this says exactly where they do not, and
each difference comes with the command that repairs it (``advice``), so running what it prints
and checking again gives "consistent".
"""
from __future__ import annotations

from harvester import HarvestError, source_identifiers
from unionapi.search import SearchRequest, SearchUnavailable


def check_library(services, library) -> dict:
    """Differences between the four places a library's records live; ``ok`` when there are none.

    The source is compared with what the library harvests into (``storage_id``: a renamed library goes
    on in the namespace of the one it replaced); its entries in the catalogue, with those of the former
    libraries it replaced too, since the index names them all by its id (config.network). Records of a
    former library are never "gone": no harvest looks for them any more, and they stay."""
    source = library.storage_id
    raw = services.raw.live_identifiers(source)
    prefix = f"{source}:"
    catalogued = {record_id[len(prefix):] for record_id in services.catalogue.record_ids(source)}
    rejected = {row["record_id"][len(prefix):] for row in services.catalogue.rejected(source)}
    report = {"library": library.id, "raw": len(raw), "catalogue": len(catalogued), "rejected": len(rejected)}
    try:
        at_source = source_identifiers(library, services.raw, services.config.settings)
        report["source"] = len(at_source)
        unreadable = {q["identifier"] for q in services.raw.quarantined(source) if q["identifier"]}
        report["quarantined_at_source"] = sorted((at_source - raw) & unreadable)
        report["not_harvested"] = sorted(at_source - raw - unreadable)
        report["gone_at_source"] = sorted(raw - at_source)
    except HarvestError as exc:
        report["source"] = None
        report["source_error"] = str(exc)
    report["not_in_catalogue"] = sorted(raw - catalogued - rejected)
    report["deleted_but_catalogued"] = sorted(catalogued - raw)
    entries = _entry_count(services, library.id)
    try:
        indexed = services.engine.search(SearchRequest(library=[library.id], size=1)).total
    except SearchUnavailable as exc:  # the other counts still say where the records are
        indexed, report["index_error"] = None, str(exc)
    report["entries"], report["indexed_entries"] = entries, indexed
    report["ok"] = (report["source"] is not None and not report["not_harvested"] and not report["gone_at_source"]
                    and not report["not_in_catalogue"] and not report["deleted_but_catalogued"] and entries == indexed)
    report["advice"] = _advice(services, library, report)
    return report


def _entry_count(services, library_id: str) -> int:
    """The entries the index should name this library in: those holding a record stored under its id or
    a former one's, and, of a divided former library (config.network), those whose copies came to it."""
    network, catalogue = services.config.network, services.catalogue
    stored = network.stored_ids(library_id)
    divided = [i for i in network.source_ids(library_id) if i not in stored]
    if not divided:
        return catalogue.entry_count(stored)
    entries = set(catalogue.entries_of([r for i in stored for r in catalogue.record_ids(i)]).values())
    for former in divided:
        ids = catalogue.record_ids(former)
        entry_of = catalogue.entries_of(ids)
        for record in network.records(list(catalogue.load(ids).values())):
            if library_id == record.library or library_id in {h.library for h in record.holdings}:
                entries.add(entry_of[record.record_id])
    return len(entries)


def _advice(services, library, report: dict) -> dict[str, str]:
    """For each kind of difference, the command that repairs it.

    Records missing from the raw store or gone from the source need a complete listing (an
    incremental one asks only for what changed); when the deletions exceed the library's
    max_delete_ratio, the guard would refuse them again, so the command says --force, and
    the check has just shown which records those are. The catalogue and index catch up with
    `unioncat index` while the changes are still pending, and need --rebuild otherwise.
    """
    advice = {}
    harvest = f"unioncat harvest {library.id} --full"
    gone = report.get("gone_at_source") or []
    if gone and len(gone) > float(library.options.get("max_delete_ratio", 0.2)) * max(1, report["raw"]):
        harvest += " --force"
    for key in ("not_harvested", "gone_at_source"):
        if report.get(key):
            advice[key] = harvest
    cursor = services.catalogue.cursor()
    for key in ("not_in_catalogue", "deleted_but_catalogued"):
        if report.get(key):
            ids = [f"{library.storage_id}:{identifier}" for identifier in report[key][:500]]
            pending = services.raw.changed_since(cursor, ids)
            advice[key] = "unioncat index" if pending == len(ids) else "unioncat index --rebuild"
    if report["indexed_entries"] is not None and report["entries"] != report["indexed_entries"]:
        advice["index"] = "unioncat index" if services.catalogue.dirty_entries() else "unioncat index --rebuild"
    return advice


def format_check(report: dict) -> str:
    head = (f"{report['library']}: source {_known(report['source'])}, "
            f"raw store {report['raw']}, catalogue {report['catalogue']} (+{report['rejected']} rejected), "
            f"entries {report['entries']}, indexed {_known(report['indexed_entries'])}: "
            + ("consistent" if report["ok"] else "DIFFERENCES"))
    lines = [head]
    advice = report.get("advice") or {}
    explain = {"not_harvested": "at the source but not harvested",
               "gone_at_source": "harvested but no longer at the source",
               "not_in_catalogue": "harvested but not normalized",
               "deleted_but_catalogued": "deleted at the source but still in the catalogue"}
    for key, text in explain.items():
        if report.get(key):
            shown = ", ".join(report[key][:5]) + (" ..." if len(report[key]) > 5 else "")
            lines.append(f"  {len(report[key])} {text} (run `{advice[key]}`): {shown}")
    if report.get("quarantined_at_source"):
        lines.append(f"  {len(report['quarantined_at_source'])} at the source but unreadable, kept in quarantine "
                     f"(not a difference: the library must repair them; `unioncat quality {report['library']}` "
                     "lists them)")
    if report.get("source_error"):
        lines.append(f"  the source could not be read: {report['source_error']}")
    if report.get("index_error"):
        lines.append(f"  the search index could not be read: {report['index_error']}")
    elif report["entries"] != report["indexed_entries"]:
        lines.append(f"  the index has {report['indexed_entries']} entries for this library, the catalogue "
                     f"{report['entries']} (run `{advice['index']}`)")
    return "\n".join(lines)


def _known(count) -> str:
    return "?" if count is None else str(count)
