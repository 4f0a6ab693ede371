"""Publication years with a confidence, from 008/07-14 and the free text of 260/264 $c or dc:date.

Dedup compares years, and a year the cataloguer only guessed (``[2019?]``, ``199-``) should count
for less than one printed on the item; ``confidence`` says which it is (see CanonicalRecord).
"""
from __future__ import annotations

import re

EXACT, INFERRED, DECADE, CENTURY, NONE = "exact", "inferred", "decade", "century", "none"
CONFIDENCES = (EXACT, INFERRED, DECADE, CENTURY, NONE)  # best first
_RANK = {c: i for i, c in enumerate(CONFIDENCES)}

# Digits are [0-9], not \d: \d also takes Arabic-Indic, Devanagari... digits (and str.isdigit() takes
# "²", which int() refuses), and a year written so is not something we can trust.
_YEAR = re.compile(r"(?<![0-9])(1[0-9]{3}|20[0-9]{2})(?![0-9])")
_DECADE = re.compile(r"(?<![0-9])(1[0-9][0-9]|20[0-9])[-?ux]")  # 199? 201-? 199- 199u
_CENTURY = re.compile(r"(?<![0-9])(1[0-9]|20)(?:--|\?\?|uu|xx)")  # 19-- 19?? 19uu
# "những năm 1990", "thập niên 1990", "1990s": a decade named by its first year.
_DECADE_WORDS = re.compile(r"(?:những năm|thập niên|thập kỷ|the)\s+(1[0-9][0-9]0|20[0-9]0)(?![0-9])"
                           r"|(?<![0-9])(1[0-9][0-9]0|20[0-9]0)s\b",
                           re.IGNORECASE)
# Supplied or doubtful: "[2019]", "2019?", "ca. 2019", "khoảng 2019", "circa 2019", "approximately".
_DOUBT = re.compile(r"[\[?]|\bca\.|\bcirca\b|\bapprox|khoảng|\bước\b", re.IGNORECASE)


def parse_year(text: str | None) -> tuple[int | None, str]:
    """``(year, confidence)`` from free text: "c2019" -> (2019, exact), "[2019]" -> (2019, inferred),
    "2019-2020" -> (2019, exact), "tháng 5 năm 2019" / "T5/2019" -> (2019, exact),
    "199?" / "201-?" -> (1990 / 2010, decade), "19--" -> (1900, century), "[s.a.]" -> (None, none)."""
    if not text:
        return None, NONE
    m = _DECADE_WORDS.search(text)
    if m:
        return int(m.group(1) or m.group(2)), DECADE
    m = _YEAR.search(text)
    if m:
        year = int(m.group(1))
        if 1000 <= year <= 2100:
            return year, INFERRED if _DOUBT.search(text) else EXACT
    m = _DECADE.search(text)
    if m:
        return int(m.group(1)) * 10, DECADE
    m = _CENTURY.search(text)
    if m:
        return int(m.group(1)) * 100, CENTURY
    return None, NONE


def _digits(text: str) -> bool:
    """Only ASCII digits: ``"199²".isdigit()`` is True but ``int("199²")`` raises."""
    return text.isascii() and text.isdigit()


def from_008(f008: str | None) -> tuple[int | None, str]:
    """008/07-10 (Date 1): "2019" exact ("inferred" when 008/06 is q, questionable), "199u" decade,
    "19uu" century, blanks or "uuuu" none."""
    if not f008 or len(f008) < 11:
        return None, NONE
    date1 = f008[7:11]
    if _digits(date1):
        year = int(date1)
        if 1000 <= year <= 2100:
            return year, INFERRED if f008[6:7] == "q" else EXACT
        return None, NONE
    if _digits(date1[:3]) and date1[3] in "u|-?x" and 100 <= int(date1[:3]) <= 210:
        return int(date1[:3]) * 10, DECADE
    if _digits(date1[:2]) and date1[2:] in ("uu", "--", "??", "xx", "||") and 10 <= int(date1[:2]) <= 21:
        return int(date1[:2]) * 100, CENTURY
    return None, NONE  # blanks, "uuuu", or a year no book has ("000u")


def best_year(f008: str | None, texts) -> tuple[int | None, str]:
    """The year of a MARC record: 008 Date 1 when it is a year (catalogued for machines), else the
    most precise year in ``texts`` (260/264 $c in order of preference), else a vaguer 008."""
    year, confidence = from_008(f008)
    if confidence in (EXACT, INFERRED):
        return year, confidence
    for text in texts:
        y, c = parse_year(text)
        if y is not None and _RANK[c] < _RANK[confidence]:
            year, confidence = y, c
    return year, confidence
