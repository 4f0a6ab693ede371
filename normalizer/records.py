"""The canonical record: what every source format is turned into, and what the index is fed.

Plain dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``) so the catalogue
can store them and re-read them without the original bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Holding statuses, from Koha's 952 item rules (952 $1 lost, $0 withdrawn, $q due date, $7 not for loan).
AVAILABLE = "available"
ON_LOAN = "on_loan"
NOT_FOR_LOAN = "not_for_loan"
LOST = "lost"
WITHDRAWN = "withdrawn"
UNKNOWN = "unknown"
STATUSES = (AVAILABLE, ON_LOAN, NOT_FOR_LOAN, LOST, WITHDRAWN, UNKNOWN)


@dataclass
class SourceContext:
    """What the normalizer needs to know about where a record came from (no I/O behind it)."""

    library: str  # library id from sources.yaml, e.g. "tv-tinh"
    record_id: str  # namespaced identifier, e.g. "tv-tinh:oai:koha:123"
    branch_map: dict[str, str] = field(default_factory=dict)  # Koha branch code -> branch name
    marc_flavour: str = "auto"  # auto | marc21 | unimarc (sources.yaml; auto: as each record says)
    # Dublin Core names people and bodies alike: "auto" tells them apart by the name (names.is_corporate_name),
    # "person" / "corporate" when a source declares what its dc:creator and dc:contributor hold.
    dc_creators: str = "auto"


@dataclass
class Author:
    name: str  # NFC, as catalogued minus trailing punctuation ("Nguyễn Du", "Burkholder, Conrad")
    kind: str = "person"  # person | corporate | meeting
    role: str | None = None  # relator term or code ($e / $4), if any
    dates: str | None = None  # $d, e.g. "1766-1820"


@dataclass
class Holding:
    library: str  # library id (the source)
    branch: str | None = None  # branch name via the source's branch map (code when unmapped)
    branch_code: str | None = None
    location: str | None = None  # shelving location
    call_number: str | None = None
    barcode: str | None = None
    status: str = UNKNOWN  # one of STATUSES
    due_date: str | None = None  # ISO date when on loan
    # Rotation (luân chuyển): the branch the copy belongs to when it is elsewhere now (Koha 952 $a home
    # library while $b, ``branch``, is where it is; an 876 $l temporary location). None when it is home.
    owner_branch: str | None = None  # name via the branch map (code when unmapped)
    owner_branch_code: str | None = None


@dataclass
class CanonicalRecord:
    record_id: str
    library: str
    format: str  # marcxml | iso2709 | oai_dc
    title: str = ""  # 245 $a$b$n$p joined, NFC
    title_sort: str = ""  # title without non-filing characters (245 ind2), for sorting and keys
    responsibility: str | None = None  # 245 $c
    authors: list[Author] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)  # valid, as ISBN-13
    invalid_isbns: list[str] = field(default_factory=list)  # as found, never used for matching
    issns: list[str] = field(default_factory=list)
    system_numbers: list[str] = field(default_factory=list)  # 035 $a
    edition: str | None = None
    publisher: str | None = None
    place: str | None = None
    year: int | None = None
    # How sure ``year`` is (normalizer.dates): "exact" (stated: 008/07-10, "2019", "c2019", "Năm 2005",
    # "T5/2019"), "inferred" (supplied or doubtful: "[2019]", "2019?", "khoảng 2019", 008/06 = q),
    # "decade" ("199?", "201-?", "199u", "những năm 1990": year is the decade's first), "century"
    # ("19--", "19uu"), "none" (no year).
    year_confidence: str = "none"
    date_text: str | None = None  # the date as catalogued (260/264 $c, dc:date)
    extent: str | None = None  # 300 $a
    pages: int | None = None
    languages: list[str] = field(default_factory=list)  # ISO 639-2/B codes, e.g. "vie"
    subjects: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    material_type: str = "other"  # book | serial | map | score | sound | video | image | computer | mixed | other
    call_number: str | None = None
    holdings: list[Holding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the normalizer repaired or doubted
    # One entry per field whose text was re-decoded (normalizer.encodings), for the quality report:
    # {"field": "245" | "dc:title", "from": "TCVN3" | "VNI" | "CP1258" | "UTF-8 mojibake" | "UTF-8",
    #  "before": text as received (first 60 characters), "after": repaired text (first 60)}.
    repairs: list[dict] = field(default_factory=list)
    # Digital documents (856 $u, Dublin Core identifier/relation URLs): [{"url": http(s) URL, "text": link
    # text ($y / $3, else the host)}], checked by normalizer.links.
    links: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON; lists are shared with the record, not copied (asdict's deep copy
        was a third of the normalizing time of a national harvest). Fields added after records were
        first stored (``LATER_FIELDS``) are left out while empty, so a record without them is stored,
        and digested for publication, exactly as before: an upgrade moves no OAI datestamp by itself."""
        data = dict(self.__dict__)
        data["authors"] = [dict(a.__dict__) for a in self.authors]
        data["holdings"] = [_holding_dict(h) for h in self.holdings]
        for name in LATER_FIELDS:
            if not data[name]:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CanonicalRecord":
        known = _FIELD_NAMES.get(cls) or _FIELD_NAMES.setdefault(cls, frozenset(f.name for f in fields(cls)))
        values = {k: v for k, v in data.items() if k in known}
        values["authors"] = [Author(**a) for a in values.get("authors", [])]
        holding_fields = _FIELD_NAMES.get(Holding) or _FIELD_NAMES.setdefault(
            Holding, frozenset(f.name for f in fields(Holding)))
        values["holdings"] = [Holding(**{k: v for k, v in h.items() if k in holding_fields})
                              for h in values.get("holdings", [])]
        if "year_confidence" not in values:  # stored before the field existed: we cannot tell how
            values["year_confidence"] = "none" if values.get("year") is None else "inferred"
        return cls(**values)


_FIELD_NAMES: dict[type, frozenset[str]] = {}  # what from_dict accepts, worked out once per class
LATER_FIELDS = ("links",)  # CanonicalRecord fields to_dict leaves out while empty
_LATER_HOLDING_FIELDS = ("owner_branch", "owner_branch_code")  # Holding fields left out while None


def _holding_dict(holding: Holding) -> dict[str, Any]:
    data = dict(holding.__dict__)
    if holding.owner_branch_code is None and holding.owner_branch is None:
        for name in _LATER_HOLDING_FIELDS:
            del data[name]
    return data


class RejectedRecord(ValueError):
    """A record that cannot be turned into a canonical record; ``reason`` is for a person to read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
