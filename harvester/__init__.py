"""Harvesting: fetch records from each library's own server into the raw store.

Importing the package is light: each protocol's harvester is named in HARVESTERS and imported the
first time a library of that protocol is harvested, so ``import harvester.oai_page`` loads only what
page parsing needs, not sickle, httpx, libyaz or the raw store.
"""
from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from config import Library, Settings
    from harvester.rawstore import HarvestResult, RawStore

__all__ = ["HARVESTERS", "HarvestError", "HarvestResult", "Harvester", "RawStore", "harvest_library",
           "harvester_for", "source_identifiers"]

# protocol (config's ``protocol``) -> "module:class" of its harvester
HARVESTERS = {"oai": "harvester.oai:OAIHarvester",
              "z3950": "harvester.z3950:Z3950Harvester",
              "file": "harvester.files:FileDropHarvester"}
_RAWSTORE_NAMES = ("RawStore", "HarvestResult")  # imported on first use, with the raw store


class HarvestError(Exception):
    """The harvest of one library cannot go on; the message says why, for the status page."""


class Harvester(Protocol):
    """What a protocol's harvester does; built as ``cls(library, store, settings, sleep=, after_page=)``.

    ``harvest`` never raises: failures come back in the result. ``identifiers`` raises HarvestError.
    """

    def harvest(self, full: bool = False, force: bool = False) -> HarvestResult: ...

    def identifiers(self) -> set[str]: ...


def harvester_for(library: Library, store: RawStore, settings: Settings, sleep=time.sleep,
                  after_page=None) -> Harvester:
    """The harvester of the library's protocol, its module imported now."""
    module, name = HARVESTERS[library.protocol].split(":")
    harvester_class = getattr(importlib.import_module(module), name)
    return harvester_class(library, store, settings, sleep=sleep, after_page=after_page)


def harvest_library(library: Library, store: RawStore, settings: Settings, full: bool = False,
                    force: bool = False, sleep=time.sleep, after_page=None) -> HarvestResult:
    """Harvest one library by its protocol; failures come back in the result, never as exceptions.

    ``force`` lets a complete listing delete more records than the library's max_delete_ratio;
    ``after_page`` is called with the count of stored pages (OAI pages, present batches, files).
    """
    return harvester_for(library, store, settings, sleep, after_page).harvest(full=full, force=force)


def source_identifiers(library: Library, store: RawStore, settings: Settings) -> set[str]:
    """What the library's own server (or export folder) holds right now; raises HarvestError."""
    return harvester_for(library, store, settings).identifiers()


def __getattr__(name: str):
    """RawStore and HarvestResult, imported when first asked for: the package import stays light."""
    if name in _RAWSTORE_NAMES:
        return getattr(importlib.import_module("harvester.rawstore"), name)
    raise AttributeError(f"module 'harvester' has no attribute {name!r}")
