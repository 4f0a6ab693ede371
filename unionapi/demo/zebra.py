"""The demo network's Zebra (a district Koha reachable only over Z39.50): the same Zebra that serves the
union catalogue, ``unionapi.publish.zebra``, here with a fresh ``biblios`` register, as Koha names it.

    with ZebraServer.start(folder, records_iso2709) as zebra:   # database "biblios"
        ...  zebra.host, zebra.port  ...
        zebra.update([changed_record])      # same 001 replaces the record
        zebra.delete([record])              # leader/05 = 'd' removes it
"""
from __future__ import annotations

import shutil  # noqa: F401  (tests replace shutil.which through this module to play a machine without Zebra)

from unionapi.publish.zebra import CONFIG_DIR, ZebraDatabase, ZebraError, ZebraServer, free_port, mark_deleted

DATABASE = "biblios"
PROGRAMS = ("zebraidx", "zebrasrv")

__all__ = ["CONFIG_DIR", "DATABASE", "PROGRAMS", "ZebraDatabase", "ZebraError", "ZebraServer", "free_port",
           "mark_deleted"]
