"""The matcher's weights: one log2(m/u) per comparison level of each field, and the thresholds.

A Fellegi–Sunter model: ``m`` is how often a level is seen when two records describe the same
book, ``u`` how often when they do not; a level's weight is log2(m/u) (positive: evidence for,
negative: evidence against) and **a field missing on either side weighs 0**. The weights are
estimated from a catalogue (:mod:`normalizer.training`) and then frozen in a JSON file, so every
incremental run decides the same way; the library vetoes in :func:`normalizer.dedup.compare` stay
on top of them. The bundled file (``match_model.json``) was trained on a pooled catalogue (the demo
network, DBLP-ACM and Cora); ``unioncat dedup --train`` makes one for a network from its own
records and its cataloguers' decisions.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Mapping

FORMAT = "unioncat-match-model/1"

# Every comparison level compare() can report, per field, best first. A pair where a field is
# missing on one side has no level for it (weight 0). Labels are for reasons a cataloguer reads.
LEVELS: dict[str, tuple[str, ...]] = {
    "ids": ("shared", "disjoint"),
    "title": ("exact", "near", "partial", "main", "overlap", "unaccented", "differ", "conflict"),
    "authors": ("agree2", "agree", "mostly", "partial", "conflict"),
    "year": ("equal", "one_apart", "far"),
    "edition": ("equal", "differ"),
    "pages": ("equal", "close", "far"),
    "publisher": ("agree", "differ"),
    "series": ("agree", "differ"),
}

FIELD_LABELS: dict[str, tuple[str, str]] = {  # (Vietnamese, English)
    "ids": ("Mã số (ISBN, 035)", "Identifiers (ISBN, 035)"),
    "title": ("Nhan đề", "Title"),
    "authors": ("Tác giả", "Authors"),
    "year": ("Năm xuất bản", "Year"),
    "edition": ("Lần xuất bản", "Edition"),
    "pages": ("Số trang", "Pages"),
    "publisher": ("Nhà xuất bản", "Publisher"),
    "series": ("Tùng thư", "Series"),
    "material_type": ("Loại tài liệu", "Material type"),
    "languages": ("Ngôn ngữ", "Language"),
    "volumes": ("Tập", "Volume"),
    "issns": ("ISSN", "ISSN"),
}

LEVEL_LABELS: dict[str, tuple[str, str]] = {  # "field.level" -> (Vietnamese, English)
    "ids.shared": ("trùng một mã số", "an identifier is shared"),
    "ids.disjoint": ("cả hai có ISBN nhưng không trùng", "both have ISBNs, none shared"),
    "title.exact": ("trùng khớp", "exact match"),
    "title.near": ("gần giống (lỗi gõ, dấu câu)", "nearly the same (typos, punctuation)"),
    "title.partial": ("một nhan đề nằm trọn trong nhan đề kia", "one title found whole in the other"),
    "title.main": ("nhan đề chính trùng, một bản có phụ đề", "main titles agree, one adds a subtitle"),
    "title.overlap": ("phần lớn từ khóa trùng, tác giả trùng (nhan đề tiếng nước ngoài diễn đạt lại)",
                      "most significant words shared, authors agree (a reworded title)"),
    "title.unaccented": ("chỉ trùng khi bỏ dấu (một bản không dấu)", "agree only without diacritics"),
    "title.differ": ("khác nhau", "differ"),
    "title.conflict": ("khác nhau ở dấu hoặc con số", "differ in diacritics or numbers"),
    "authors.agree2": ("từ hai tác giả trở lên trùng khớp", "two or more authors agree"),
    "authors.agree": ("trùng khớp", "agree"),
    "authors.mostly": ("phần lớn trùng", "mostly agree"),
    "authors.partial": ("chỉ trùng một phần", "partly agree"),
    "authors.conflict": ("không ai trùng", "none agree"),
    "year.equal": ("trùng", "equal"),
    "year.one_apart": ("lệch một năm", "one year apart"),
    "year.far": ("cách nhau từ hai năm", "two or more years apart"),
    "edition.equal": ("trùng", "equal"),
    "edition.differ": ("khác nhau", "differ"),
    "pages.equal": ("trùng", "equal"),
    "pages.close": ("gần bằng nhau", "close"),
    "pages.far": ("chênh nhau nhiều", "far apart"),
    "publisher.agree": ("trùng", "agree"),
    "publisher.differ": ("khác nhau", "differ"),
    "series.agree": ("trùng", "agree"),
    "series.differ": ("cùng tùng thư, khác số", "same series, other number"),
    "material_type.differ": ("khác loại", "differ"),
    "languages.differ": ("khác ngôn ngữ (bản dịch và bản gốc)", "differ (a translation and its original)"),
    "volumes.differ": ("khác tập của một bộ sách", "different parts of a multi-volume work"),
    "issns.differ": ("không trùng", "none in common"),
}


@dataclass(frozen=True)
class MatchModel:
    """Frozen weights and thresholds; ``same_at`` / ``doubtful_at`` are in the units of the summed
    weights (bits), so a reason line reads "total +21.4: same from 9.0, doubtful from 4.0"."""

    weights: Mapping[str, Mapping[str, float]]
    same_at: float
    doubtful_at: float
    name: str = "default"
    m: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    u: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    trained_on: Mapping[str, object] = field(default_factory=dict)

    def weight(self, field_name: str, level: str) -> float:
        return self.weights.get(field_name, {}).get(level, 0.0)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "name": self.name, "same_at": self.same_at,
                           "doubtful_at": self.doubtful_at, "weights": self.weights, "m": self.m, "u": self.u,
                           "trained_on": self.trained_on}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "MatchModel":
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"not a matcher model file (format {data.get('format')!r}, expected {FORMAT!r})")
        weights = {f: {lv: float(w) for lv, w in levels.items() if lv in LEVELS.get(f, ())}
                   for f, levels in data["weights"].items() if f in LEVELS}
        return cls(weights=weights, same_at=float(data["same_at"]), doubtful_at=float(data["doubtful_at"]),
                   name=str(data.get("name", "")), m=data.get("m", {}), u=data.get("u", {}),
                   trained_on=data.get("trained_on", {}))

    @property
    def fingerprint(self) -> int:
        """Changes whenever a decision could: the catalogue re-clusters once when it does."""
        key = json.dumps([self.weights, self.same_at, self.doubtful_at], sort_keys=True)
        return zlib.crc32(key.encode())

    def changes_from(self, old: "MatchModel") -> list[str]:
        """What moved between two models, one line per weight or threshold (for --train)."""
        lines = []
        for name, a, b in (("same from", old.same_at, self.same_at), ("doubtful from", old.doubtful_at, self.doubtful_at)):
            if round(a, 1) != round(b, 1):
                lines.append(f"{name}: {a:.1f} -> {b:.1f}")
        for f, levels in LEVELS.items():
            for lv in levels:
                a, b = old.weight(f, lv), self.weight(f, lv)
                if round(a, 1) != round(b, 1):
                    lines.append(f"{f} {lv}: {a:+.1f} -> {b:+.1f}")
        return lines


def label(key: str, lang: str) -> str:
    pair = LEVEL_LABELS.get(key) or FIELD_LABELS.get(key)
    return (pair[0] if lang == "vi" else pair[1]) if pair else key


@lru_cache(maxsize=1)
def default_model() -> MatchModel:
    """The model shipped with the code (a package resource, read once)."""
    return MatchModel.from_json(resources.files(__package__).joinpath("match_model.json").read_text("utf-8"))
