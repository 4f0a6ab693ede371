"""``unioncat check``: do the source, the raw store, the catalogue and the index agree, per library?

A union catalogue is trusted only if its numbers add up; this says exactly where they do not.
"""
from __future__ import annotations

from harvester import HarvestError, source_identifiers
from unionapi.search import SearchRequest, SearchUnavailable


def check_library(services, library) -> dict:
    """Differences between the four places a library's records live; ``ok`` when there are none."""
    raw = services.raw.live_identifiers(library.id)
    prefix = f"{library.id}:"
    catalogued = {row[0][len(prefix):] for row in services.catalogue.db.execute(
        "SELECT id FROM records WHERE source = ?", (library.id,))}
    rejected = {row["record_id"][len(prefix):] for row in services.catalogue.rejected(library.id)}
    report = {"library": library.id, "raw": len(raw), "catalogue": len(catalogued), "rejected": len(rejected)}
    try:
        at_source = source_identifiers(library, services.raw, services.config.settings)
        report["source"] = len(at_source)
        report["not_harvested"] = sorted(at_source - raw)
        report["gone_at_source"] = sorted(raw - at_source)
    except HarvestError as exc:
        report["source"] = None
        report["source_error"] = str(exc)
    report["not_in_catalogue"] = sorted(raw - catalogued - rejected)
    report["deleted_but_catalogued"] = sorted(catalogued - raw)
    entries = services.catalogue.db.execute("SELECT count(DISTINCT entry_id) FROM records WHERE source = ?",
                                            (library.id,)).fetchone()[0]
    try:
        indexed = services.engine.search(SearchRequest(library=[library.id], size=1)).total
    except SearchUnavailable as exc:  # the other counts still say where the records are
        indexed, report["index_error"] = None, str(exc)
    report["entries"], report["indexed_entries"] = entries, indexed
    report["ok"] = (report["source"] is not None and not report["not_harvested"] and not report["gone_at_source"]
                    and not report["not_in_catalogue"] and not report["deleted_but_catalogued"] and entries == indexed)
    return report


def format_check(report: dict) -> str:
    head = (f"{report['library']}: source {_known(report['source'])}, "
            f"raw store {report['raw']}, catalogue {report['catalogue']} (+{report['rejected']} rejected), "
            f"entries {report['entries']}, indexed {_known(report['indexed_entries'])}: "
            + ("consistent" if report["ok"] else "DIFFERENCES"))
    lines = [head]
    explain = {"not_harvested": "at the source but not harvested (run `unioncat harvest {library}`)",
               "gone_at_source": "harvested but no longer at the source (a full harvest finds the deletion: "
                                 "`unioncat harvest {library} --full`)",
               "not_in_catalogue": "harvested but not normalized (run `unioncat index`)",
               "deleted_but_catalogued": "deleted at the source but still in the catalogue (run `unioncat index`)"}
    for key, text in explain.items():
        if report.get(key):
            shown = ", ".join(report[key][:5]) + (" ..." if len(report[key]) > 5 else "")
            lines.append(f"  {len(report[key])} {text.format(library=report['library'])}: {shown}")
    if report.get("source_error"):
        lines.append(f"  the source could not be read: {report['source_error']}")
    if report.get("index_error"):
        lines.append(f"  the search index could not be read: {report['index_error']}")
    elif report["entries"] != report["indexed_entries"]:
        lines.append(f"  the index has {report['indexed_entries']} entries for this library, the catalogue "
                     f"{report['entries']} (run `unioncat index`)")
    return "\n".join(lines)


def _known(count) -> str:
    return "?" if count is None else str(count)
