"""The network as it is now and as it was: which current library every stored library id belongs to.

Libraries are renamed, merged, split and moved (the 2025 reorganisation abolished the districts and
merged provinces). Stored data never changes for that: records, holdings, harvest state and entry ids
keep the library id they were stored under. ``sources.yaml`` says who replaced whom (``replaces:``),
and this alias map, built from it at load time, turns any stored id into the id of the library that
holds those books today, at the boundaries (search documents, answers, pages, reports).

Free of the rest of ``config`` (``config`` imports this module, not the other way round): a library
here is anything with ``id``, ``parent`` and ``replaces``; the configuration is already validated.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Former:
    """A library that is no longer in the network, as ``replaces:`` describes it."""
    id: str
    name: str | None = None  # as patrons knew it (shown in the history)
    kind: str | None = None
    parent: str | None = None  # its parent then
    until: str | None = None  # its last day, YYYY-MM-DD
    branches: tuple[str, ...] = ()  # a split: only its holdings at these branch codes go to this successor
    replaces: tuple["Former", ...] = ()  # what it had replaced itself (an older reorganisation)
    harvest_as: str | None = None  # whose harvest it had continued, when it replaced several

    def to_dict(self) -> dict:
        out = {"id": self.id, "name": self.name, "kind": self.kind, "parent": self.parent, "until": self.until,
               "branches": list(self.branches)}
        if self.replaces:
            out["replaces"] = [former.to_dict() for former in self.replaces]
        return out


def continued_harvest(library) -> str:
    """The raw-store namespace a library (or former library) harvests into: ``harvest_as`` when given,
    else the one of the only library it replaced whole (a rename, a move), else its own id."""
    if library.harvest_as:
        return library.harvest_as
    whole = [former for former in library.replaces if not former.branches]
    if len(library.replaces) == 1 and whole:
        return continued_harvest(whole[0])
    return library.id


def home_branch(holding) -> str | None:
    """The branch a copy belongs to (where it is kept when not on rotation elsewhere): what decides which
    successor of a divided library it went to."""
    return getattr(holding, "owner_branch_code", None) or holding.branch_code


def walk(formers: Iterable[Former], replacer: str) -> Iterable[tuple[Former, str]]:
    """Every former library in a ``replaces`` tree with the id of the library that replaced it."""
    for former in formers:
        yield former, replacer
        yield from walk(former.replaces, former.id)


class Network:
    """The alias map of one configuration (``Config.network``)."""

    def __init__(self, libraries: Mapping[str, object]):
        self.libraries = libraries
        self.successor: dict[str, str] = {}  # a former id replaced whole -> the id that replaced it
        self.split: dict[str, dict[str, str]] = {}  # a divided former id -> branch code -> its successor
        self.primary: dict[str, str] = {}  # a divided former id -> the successor that takes the rest
        for library in libraries.values():
            for former, replacer in walk(library.replaces, library.id):
                if former.branches:
                    share = self.split.setdefault(former.id, {})
                    share.update((code, replacer) for code in former.branches)
                    if continued_harvest(library) == former.id or former.id not in self.primary:
                        self.primary[former.id] = replacer  # (file order, unless one continues its catalogue)
                else:
                    self.successor[former.id] = replacer
        self.aliases = {former: self.current(former) for former in sorted({*self.successor, *self.split})}
        self.children: dict[str, list[str]] = {}  # the current tree
        for library in libraries.values():
            if library.parent:
                self.children.setdefault(library.parent, []).append(library.id)

    # -- one id ---------------------------------------------------------------------------------
    def current(self, library_id: str, branch_code: str | None = None) -> str:
        """The current library of a stored id (of a holding at ``branch_code``, for a divided library);
        a current id, or one the configuration no longer names at all, is itself."""
        seen = set()
        while library_id not in self.libraries and library_id not in seen:
            seen.add(library_id)
            if library_id in self.split:
                library_id = self.split[library_id].get(branch_code or "", self.primary[library_id])
            elif library_id in self.successor:
                library_id = self.successor[library_id]
            else:
                break
        return library_id

    def resolve(self, library_id: str) -> list[str]:
        """The current libraries an id given by someone names (a filter, a URL): itself, the library
        that replaced it, or every library a divided one went to; [] for an unknown id."""
        if library_id in self.libraries:
            return [library_id]
        if library_id in self.split:
            return sorted({self.current(successor) for successor in
                           (*self.split[library_id].values(), self.primary[library_id])})
        if library_id in self.successor:
            return [self.current(library_id)]
        return []

    def is_former(self, library_id: str) -> bool:
        return library_id not in self.libraries and bool(self.resolve(library_id))

    def stored_ids(self, library_id: str) -> list[str]:
        """The ids a current library's records may be stored under: its own and its formers' (whole)."""
        return [library_id, *sorted(f for f, current in self.aliases.items()
                                    if current == library_id and f not in self.split)]

    def source_ids(self, library_id: str) -> list[str]:
        """``stored_ids`` and the divided libraries part of which went to it: what a filter on this
        library looks through (its duplicate reports, its newest records)."""
        divided = [f for f in self.split if library_id in
                   {self.current(s) for s in (*self.split[f].values(), self.primary[f])}]
        return [*self.stored_ids(library_id), *sorted(divided)]

    def filter_ids(self, library_id: str) -> list[str]:
        """The stored ids a filter given this id (current or former) looks through."""
        return sorted({i for current in self.resolve(library_id) for i in self.source_ids(current)})

    def history(self, library_id: str) -> list[dict]:
        """The former libraries of a current one, newest first, each with ``via`` (whom it went to)."""
        library = self.libraries.get(library_id)
        if library is None:
            return []
        names = {library_id: library.name, **{f.id: f.name or f.id for f, _ in walk(library.replaces, library_id)}}
        return [{**dataclasses.replace(former, replaces=()).to_dict(), "via": via, "via_name": names[via]}
                for former, via in walk(library.replaces, library_id)]

    # -- the tree -------------------------------------------------------------------------------
    def roll_up(self, counts: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """Counts by stored id -> (own, with everything under it) per current library."""
        own = {library_id: 0 for library_id in self.libraries}
        for stored, count in counts.items():
            current = self.current(stored)
            if current in own:
                own[current] += count
        total: dict[str, int] = {}

        def tree(library_id: str, path: frozenset) -> int:
            if library_id not in total:
                total[library_id] = own[library_id] + sum(
                    tree(child, path | {child}) for child in self.children.get(library_id, ()) if child not in path)
            return total[library_id]
        return {library_id: (own[library_id], tree(library_id, frozenset({library_id}))) for library_id in own}

    # -- records --------------------------------------------------------------------------------
    def records(self, members: list) -> list:
        """Copies of canonical records naming current libraries (holdings by branch for a divided
        library; the record itself goes where its first holding goes). The records given are unchanged."""
        if not self.aliases:
            return members
        out = []
        for member in members:
            holdings = [h if (library := self.current(h.library, home_branch(h))) == h.library
                        else dataclasses.replace(h, library=library) for h in member.holdings]
            library = self.current(member.library)
            if member.library in self.split:  # a divided library's record goes where its copies went
                library = next((new.library for old, new in zip(member.holdings, holdings)
                                if old.library == member.library), library)
            if library == member.library and all(a is b for a, b in zip(holdings, member.holdings)):
                out.append(member)
            else:
                out.append(dataclasses.replace(member, library=library, holdings=holdings))
        return out

    # -- what changed between two configurations -------------------------------------------------
    def state(self) -> dict[str, dict[str, str]]:
        """Where each former id's records and holdings go (``*``: all but the branches named), as JSON."""
        return {former: {"*": self.current(former),
                         **{code: self.current(former, code) for code in sorted(self.split.get(former, {}))}}
                for former in self.aliases}


def changed_ids(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The stored library ids whose records or holdings name another library under ``after`` than under
    ``before`` (two ``Network.state()``): their entries must be indexed and published again."""
    return sorted(i for i in {*before, *after} if before.get(i) != after.get(i))
