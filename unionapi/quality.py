"""The per-library quality report: what the normalizer repaired or doubted, and what was kept out.

Meant for a cataloguer who goes back to the source catalogue and fixes the records there.
"""
from __future__ import annotations

from collections import Counter


def quality_report(services, library_id: str, examples: int = 3) -> dict:
    """Of the catalogue the library sends today (a former id: its successor's; a renamed library's
    records and quarantine are kept under the id it continues, ``storage_id``)."""
    library = services.config.library(library_id)
    source = library.storage_id
    report = {"library": library.id, "name": library.name, **services.catalogue.quality(source, examples)}
    quarantined = services.raw.quarantined(source)
    report["quarantined"] = {"count": len(quarantined), "examples": [
        {k: q[k] for k in ("identifier", "reason", "size", "created_at")} for q in (quarantined[-examples:] if examples else [])]}
    report.update(identifier_problems(services.raw, source, examples))
    return report


def identifier_problems(raw, library_id: str, examples: int = 3) -> dict:
    """Records kept under an id derived from their content, and the ids several different records shared.

    A shared id is the library's cataloguing error (one record number given to several books);
    a record without id cannot be linked back either. Both are kept, and listed here to be fixed.
    """
    derived = raw.derived_ids(library_id)
    shared = Counter(d["shared"] for d in derived if d["shared"])
    live = raw.live_identifiers(library_id) if shared else set()
    clashes = [{"identifier": value, "records": count + (value in live),  # z39.50: the first keeps the id
                "examples": [d["identifier"] for d in derived if d["shared"] == value][:examples]}
               for value, count in shared.most_common()]
    without = [d for d in derived if not d["shared"]]
    return {"derived_ids": {"count": len(without),
                            "examples": [{k: d[k] for k in ("identifier", "origin")} for d in without[:examples]]},
            "shared_ids": {"count": len(clashes), "examples": clashes if examples else []}}


def format_report(report: dict) -> str:
    """The report as text for a terminal."""
    lines = [f"{report['name']} ({report['library']}): {report['records']} records, "
             f"{report['records_with_repairs']} repaired, {report['rejected']['count']} rejected by the normalizer, "
             f"{report['quarantined']['count']} kept in quarantine by the harvester"]
    for title, key in (("Repairs", "repairs"), ("Warnings", "warnings")):
        if report[key]:
            lines.append(f"  {title}:")
        for item in report[key]:
            lines.append(f"    {item['count']:>6}  {item['code']}  ({item['records']} records)")
            lines += [f"            e.g. {e['record_id']}: {e['detail']}" for e in item["examples"]]
    for title, key, field in (("Rejected", "rejected", "record_id"), ("Quarantined", "quarantined", "identifier")):
        if report[key]["count"]:
            lines.append(f"  {title}:")
            lines += [f"            {e.get(field) or '(no identifier)'}: {e['reason']}" for e in report[key]["examples"]]
    if report["shared_ids"]["count"]:
        lines.append(f"  Ids shared by different records (a cataloguing error at the library; each record is kept "
                     f"under a derived id): {report['shared_ids']['count']}")
        lines += [f"            {c['identifier']}: {c['records']} records, e.g. {', '.join(c['examples'])}"
                  for c in report["shared_ids"]["examples"]]
    if report["derived_ids"]["count"]:
        lines.append(f"  Records without an id (kept under an id derived from their content): "
                     f"{report['derived_ids']['count']}")
        lines += [f"            {e['identifier']}: {e['origin']}" for e in report["derived_ids"]["examples"]]
    return "\n".join(lines)
