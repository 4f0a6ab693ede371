"""The per-library quality report: what the normalizer repaired or doubted, and what was kept out.

Meant for a cataloguer who goes back to the source catalogue and fixes the records there.
"""
from __future__ import annotations


def quality_report(services, library_id: str, examples: int = 3) -> dict:
    library = services.config.library(library_id)
    report = {"library": library.id, "name": library.name, **services.catalogue.quality(library.id, examples)}
    quarantined = services.raw.quarantined(library.id)
    report["quarantined"] = {"count": len(quarantined), "examples": [
        {k: q[k] for k in ("identifier", "reason", "size", "created_at")} for q in quarantined[-examples:]]}
    return report


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
    return "\n".join(lines)
