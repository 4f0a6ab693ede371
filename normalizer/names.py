"""Comparison keys for personal and corporate names (dedup, issue 5). Display names stay as catalogued.

Vietnamese personal names are written family name first and are not inverted (``Nguyễn Du``, also
catalogued ``Nguyễn, Du`` or ``NGUYỄN DU``); Western names are ``Surname, Forenames`` or in direct
order (``Hugo, Victor`` = ``Victor Hugo``). Every key is surname-first, folded, without dates, relator
terms or academic titles.
"""
from __future__ import annotations

import re

from .text import fold, nfc

# The common Vietnamese family names (about 60; the first dozen cover most of the population).
VIETNAMESE_SURNAMES = frozenset("""
    nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh trương đào mai cao lâm
    hà tô tạ chu kiều lưu quách thái tăng triệu văn vương trịnh đoàn lương la mạc thân thạch khúc kim
    lại lạc nghiêm quan tôn từ phùng vi doãn diệp đàm hứa khổng mạnh nông ông tiêu giang âu châu
    cù lò ninh tống viên hầu
""".split())
_FOLDED_SURNAMES = frozenset(fold(s) for s in VIETNAMESE_SURNAMES)

# Relator terms (Vietnamese and English) that follow a name: "Nguyễn Du (tác giả)", "Tô Hoài, tác giả".
_RELATORS = frozenset(fold(t) for t in """tác giả|chủ biên|đồng chủ biên|biên soạn|soạn|dịch|người dịch|dịch giả|
    minh họa|minh hoạ|hiệu đính|giới thiệu|sưu tầm|tuyển chọn|biên tập|tổng chủ biên|chú giải|phiên âm|
    author|editor|ed|eds|translator|trans|tr|illustrator|ill|compiler|comp|joint author|introduction""".split("|"))
# Academic and honorific titles before a Vietnamese name: "PGS.TS. Nguyễn Văn A", "GS Trần Văn Giàu".
_TITLES = frozenset("gs pgs ts ths tskh bs ks ls nsnd nsut".split())
# Letters only Vietnamese uses: a name holding one is Vietnamese whatever its first word.
_VIETNAMESE_ONLY = re.compile("[ăđơưĩũĂĐƠƯĨŨ\u1ea0-\u1ef9]")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_DATES = re.compile(r"\b(?:b|d|fl|ca|sinh|mất|năm)\.?\s*(?=\d)|\d{3,4}\??(?:\s*-\s*(?:\d{3,4}\??)?)?|-\s*\d{3,4}")
_NON_WORD = re.compile(r"[^\w\s,]")


def _clean(name: str) -> list[str]:
    """The comma-separated parts of a name, without brackets, dates, relator terms or titles."""
    text = _BRACKETS.sub(" ", nfc(name))
    text = _DATES.sub(" ", text)
    parts = []
    for part in text.split(","):
        words = _NON_WORD.sub(" ", part.replace(".", ". ")).split()
        if not words or fold(" ".join(words)) in _RELATORS:
            continue
        parts.append(" ".join(words))
    if parts:
        words = parts[0].split()
        while len(words) > 1 and fold(words[0]) in _TITLES:
            words = words[1:]
        parts[0] = " ".join(words)
    return parts


def is_vietnamese_name(name: str) -> bool:
    """Family name first: the first word is a Vietnamese family name (compared with marks, or folded
    when the name was typed without them), or the name has letters only Vietnamese uses (``Xuân Diệu``)."""
    parts = _clean(name)
    if not parts:
        return False
    first = parts[0].split()[0]
    if first.casefold() in VIETNAMESE_SURNAMES or _VIETNAMESE_ONLY.search(parts[0]):
        return True
    return parts[0].isascii() and fold(first) in _FOLDED_SURNAMES


def person_key(name: str) -> str:
    """Surname-first folded key: ``Nguyễn Du``, ``Nguyễn, Du``, ``NGUYỄN DU`` -> ``nguyen du``;
    ``Hugo, Victor`` and ``Victor Hugo`` -> ``hugo victor``; ``Tô Hoài, 1920-2014`` -> ``to hoai``."""
    parts = _clean(name)
    if not parts:
        return ""
    if len(parts) >= 2:  # "Surname, Forenames" (Western) or "Family, Given" (Vietnamese): same order
        return fold(" ".join(parts[:2]))
    words = parts[0].split()
    if len(words) == 1 or is_vietnamese_name(parts[0]):
        return fold(parts[0])
    return fold(" ".join([words[-1]] + words[:-1]))  # "Victor Hugo" -> "hugo victor"


# "Nxb.", "NXB", "N.X.B.", "Nhà xuất bản", "Nhà XB", "Publishing House", "Publishers": not the name.
_PUBLISHER_WORDS = re.compile(
    r"^(?:nha xuat ban|nha xb|n\s*x\s*b|cong ty tnhh mot thanh vien|cong ty co phan|cong ty tnhh|cong ty)\b"
    r"|\b(?:publishing house|publishing|publishers?|press|pub|publ)$")
_UNKNOWN_PUBLISHER = frozenset(["s n", "sn", "k nxb", "knxb", "khong ro nha xuat ban", "publisher not identified"])


def corporate_key(name: str) -> str:
    """Folded corporate name without punctuation: ``Thư viện Quốc gia Việt Nam.`` -> ``thu vien quoc gia viet nam``."""
    return " ".join(_NON_WORD.sub(" ", fold(_BRACKETS.sub(" ", name) if "(" in name else name)).split())


def publisher_key(name: str) -> str:
    """Publisher key: ``Nxb. Kim Đồng`` = ``Nhà xuất bản Kim Đồng`` = ``NXB Kim Đồng`` = ``Kim Đồng``
    -> ``kim dong``; ``[s.n.]`` -> ``""`` (publisher unknown)."""
    key = " ".join(_NON_WORD.sub(" ", fold(name).replace(".", " ")).replace(",", " ").split())
    if key in _UNKNOWN_PUBLISHER:
        return ""
    while True:  # "Công ty cổ phần Nhà xuất bản ..." has two prefixes
        shorter = _PUBLISHER_WORDS.sub("", key).strip()
        if shorter == key or not shorter:  # nothing left to strip, or nothing but the generic words
            return key
        key = shorter
