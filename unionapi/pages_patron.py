"""Pages for patrons: search, a union entry with who holds it, a member record, the library directory.

Server-rendered with Jinja, no front-end framework and no JavaScript, so a page is small and works
on a commune library's old PC or a phone on a slow connection. The pages call the same Python
objects the JSON API uses (engine, catalogue, params, actions), never HTTP to itself.
"""
from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlencode

from flask import Blueprint, g, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from normalizer.records import AVAILABLE
from unionapi import i18n
from unionapi.actions import group_holdings
from unionapi.params import MAX_VALUES, BadRequest, parse_search
from unionapi.search import SearchRequest, entry_document, representative
from unionapi.web import current_services, install_page_hooks, libraries, library_name, message_page, t

PAGE_SIZE = 20
MAX_SUGGESTION_SEARCHES = 6  # "did you mean" searches for one empty result
FILTERS = ("library", "language", "type", "year_from", "year_to", "available")

bp = Blueprint("patron", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")
install_page_hooks(bp)


# -- home and search ----------------------------------------------------------------------------
@bp.get("/")
@bp.get("/search")
def search():
    args, services = request.args, current_services()
    if request.path == "/" and not any(args.get(k) for k in ("q", *FILTERS)):
        return render_template("home.html", libraries=len(libraries()), entries=services.engine.count())
    state = {"q": args.get("q", "").strip(), "library": distinct(args, "library"),
             "language": distinct(args, "language"), "type": distinct(args, "type"),
             "year_from": args.get("year_from", ""), "year_to": args.get("year_to", ""),
             "available": "1" if args.get("available") in ("1", "true", "on") else ""}
    try:
        search_request = to_search_request(state, args.get("page") or "1")
    except BadRequest as exc:
        return render_template("search.html", state=state, error=t("bad_search", message=exc.message),
                               result=None, url=search_url), 400
    result = services.engine.search(search_request)
    pages = -(-min(result.total, 10_000) // PAGE_SIZE)
    return render_template("search.html", state=state, result=result, request_=search_request,
                           pages=pages, url=search_url, facets=facet_links(state, result.facets),
                           suggestions=[] if result.total else suggestions(state), error=None)


def distinct(args, name: str) -> list[str]:
    """A filter's values once each, and never so many that echoing them makes a huge page
    (one more than the API allows, so that the API's parser still says why)."""
    return list(dict.fromkeys(args.getlist(name)))[:MAX_VALUES + 1]


def to_search_request(state: dict, page: str) -> SearchRequest:
    """The page's parameters checked by the API's own parser (same rules, same messages)."""
    api_args = MultiDict([("q", state["q"]), ("page", page), ("size", str(PAGE_SIZE))]
                         + [(name, state[name]) for name in ("year_from", "year_to", "available") if state[name]])
    for page_name, api_name in (("library", "library"), ("language", "lang"), ("type", "type")):
        for value in state[page_name]:
            api_args.add(api_name, value)
    return parse_search(api_args, current_services().config.settings.max_page_size, libraries())


def search_url(state: dict, page: int | None = None, **changes) -> str:
    merged = {**state, **changes}
    pairs = [(k, v) for k in ("q", *FILTERS) for v in (merged[k] if isinstance(merged[k], list) else [merged[k]])
             if v not in (None, "")]
    if page and page > 1:
        pairs.append(("page", page))
    if g.get("remember_lang"):
        pairs.append(("lang", g.lang))
    return url_for("patron.search") + "?" + urlencode(pairs)


def toggle(values: list[str], value: str) -> list[str]:
    return [v for v in values if v != value] if value in values else [*values, value]


def facet_links(state: dict, facets: dict) -> list[dict]:
    """Each facet value as a link that switches it on or off; the counts come from the engine."""
    groups = []
    for name, facet, label in (("library", "library", library_name),
                               ("type", "type", lambda c: i18n.label(i18n.MATERIAL_TYPES, g.lang, c)),
                               ("language", "lang", lambda c: i18n.label(i18n.LANGUAGE_NAMES, g.lang, c))):
        items = [{"label": label(f["value"]), "count": f["count"], "on": f["value"] in state[name],
                  "url": search_url(state, **{name: toggle(state[name], f["value"])})}
                 for f in facets.get(facet, [])]
        groups.append({"title": t(f"facet.{name}"), "items": items})
    years = []
    for bucket in facets.get("year", []):
        low, high = bucket["from"], bucket["to"]
        on = state["year_from"] == str(low or "") and state["year_to"] == str(high or "")
        text = (t("year.before", to=high + 1) if low is None else t("year.after", from_=low) if high is None
                else f"{low}–{high}")
        years.append({"label": text, "count": bucket["count"], "on": on,
                      "url": search_url(state, year_from="" if on else low, year_to="" if on else high)})
    groups.insert(1, {"title": t("facet.year"), "items": years})
    return groups


def suggestions(state: dict) -> list[dict]:
    """For an empty result: the same words without filters, then fewer words (only if they find something).

    At most MAX_SUGGESTION_SEARCHES searches: a query of hundreds of words must not cost hundreds.
    """
    out, seen = [], set()

    def offer(key: str, q: str, new_state: dict) -> None:
        if (q, key) in seen or not q or len(seen) >= MAX_SUGGESTION_SEARCHES:
            return
        seen.add((q, key))
        found = current_services().engine.search(to_search_request(new_state, "1")).total
        if found:
            out.append({"text": t(key, q=q, n=found), "url": search_url(new_state)})

    if any(state[k] for k in FILTERS):
        offer("results.without_filters", state["q"], {**{k: [] if isinstance(state[k], list) else ""
                                                           for k in FILTERS}, "q": state["q"]})
    words = state["q"].split()
    shorter = [" ".join(words[:-1])] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words) - 1)]
    for q in shorter if len(words) > 1 else []:
        offer("results.didyoumean", q, {**state, "q": q})
        if len(out) >= 3:
            break
    return out


# -- a union entry and its member records ----------------------------------------------------------
@bp.get("/entry/<entry_id>")
def entry(entry_id: str):
    members = current_services().catalogue.members(entry_id)
    if not members:
        return message_page(t("entry.notfound"), 404)
    return render_template("entry.html", entry=entry_document(entry_id, members), best=representative(members),
                           members=members, rows=holding_rows(members))


def holding_rows(members) -> list[dict]:
    """One row per copy, as the API groups them; a library that sends no copies gets one row."""
    services, rows = current_services(), []
    for library in group_holdings(members, services):
        for branch in library["branches"]:
            items = branch["items"] or [{"location": None, "call_number": None, "barcode": None, "status": s,
                                         "due_date": None, "no_items": True} for s in branch["counts"]]
            for item in items:
                rows.append({"library": library["id"], "library_name": library["name"],
                             "branch": branch["branch"], "as_of": library["as_of"], **item})
    covered = {row["library"] for row in rows}
    for member in members:
        if member.library not in covered:
            covered.add(member.library)
            rows.append({"library": member.library, "library_name": library_name(member.library),
                         "branch": None, "as_of": services.raw.last_success(member.library),
                         "location": None, "call_number": member.call_number, "barcode": None,
                         "status": "unknown", "due_date": None, "no_items": True})
    rows.sort(key=lambda r: r["status"] != AVAILABLE)  # stable: what is on a shelf first, API order kept
    return rows


@bp.get("/entry/<entry_id>/record/<id:number>")
def member(entry_id: str, number: int):
    members = current_services().catalogue.members(entry_id)
    if not 1 <= number <= len(members):
        return message_page(t("entry.notfound"), 404)
    return render_template("record.html", entry_id=entry_id, record=members[number - 1], number=number)


# -- the library directory --------------------------------------------------------------------------
@bp.get("/libraries")
def directory():
    services, known = current_services(), libraries()
    counts = services.catalogue.record_counts()
    children, roots = defaultdict(list), []
    for library in known.values():
        (children[library.parent] if library.parent in known else roots).append(library)
    facts = {i: {"count": counts.get(i, 0), "harvested": services.raw.last_success(i)} for i in known}
    return render_template("libraries.html", roots=roots, children=children, facts=facts)


@bp.get("/libraries/<library_id>")
def library(library_id: str):
    services, known = current_services(), libraries()
    found = known.get(library_id)
    if found is None:
        return message_page(t("libraries.notfound"), 404)
    return render_template("library.html", library=found, parent=known.get(found.parent or ""),
                           count=services.catalogue.record_counts().get(library_id, 0),
                           harvested=services.raw.last_success(library_id),
                           newest=services.catalogue.newest(library_id, limit=25),
                           children=[lib for lib in known.values() if lib.parent == library_id])
