"""Comparison keys for personal and corporate names (dedup, issue 5). Display names stay as catalogued.

Vietnamese personal names are written family name first and are not inverted (``Nguyễn Du``, also
catalogued ``Nguyễn, Du`` or ``NGUYỄN DU``); Western names are ``Surname, Forenames`` or in direct
order (``Hugo, Victor`` = ``Victor Hugo``). Every key is surname-first, folded, without dates, relator
terms or academic titles.
"""
from __future__ import annotations

import re
from functools import lru_cache

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


def is_vietnamese_family_name(word: str) -> bool:
    """One word that is a Vietnamese family name, with its marks or typed without them ("Nguyen")."""
    return word.casefold() in VIETNAMESE_SURNAMES or fold(word) in _FOLDED_SURNAMES


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


# --- corporate bodies ----------------------------------------------------------------------------
# How Vietnamese corporate names begin (issue 17): ministries, departments, party and people's
# committees, councils, institutes, associations, schools, libraries, publishers, companies ...
# Written with their marks and matched with them, so the surname "Viên" is not "Viện" nor "Trương"
# "Trường"; a name typed without marks is matched folded, on these phrases of two words or more only.
_BODY_PHRASES = """tổng cục|chi cục|ủy ban|tỉnh ủy|huyện ủy|thành ủy|quận ủy|thị ủy|đảng ủy|đảng bộ|ban chấp hành|
    ban chỉ đạo|ban quản lý|ban tuyên giáo|ban dân vận|ban tổ chức|ban chỉ huy|mặt trận|liên đoàn|hiệp hội|
    liên hiệp|hội đồng|trung tâm|thư viện|nhà xuất bản|nhà xb|công ty|tổng công ty|học viện|đại học|ngân hàng|
    bệnh viện|quốc hội|chính phủ|văn phòng|tạp chí|báo nhân dân|đoàn thanh niên|đoàn tncs|đoàn luật sư|
    đoàn đại biểu|đoàn nghệ thuật|đoàn kịch|đảng cộng sản|tòa án|viện kiểm sát|công an tỉnh|công an huyện|
    bộ chỉ huy|bộ tư lệnh|bộ công an|bộ quốc phòng|bộ y tế|bộ tư pháp|bộ tài chính|bộ ngoại giao|bộ nội vụ|
    bộ giáo dục|bộ văn hóa|bộ nông nghiệp|bộ công thương|bộ xây dựng|bộ giao thông|bộ thông tin|
    bộ khoa học|bộ lao động|bộ kế hoạch|bộ tài nguyên|sở giáo dục|sở văn hóa|sở y tế|sở tư pháp|
    sở nông nghiệp|sở khoa học|sở tài chính|sở nội vụ|sở thông tin|sở lao động|sở kế hoạch|sở tài nguyên|
    sở công thương|sở xây dựng|sở giao thông|sở du lịch|phòng giáo dục|phòng văn hóa|phòng tư pháp|
    phòng nội vụ|trường đại học|trường cao đẳng|trường trung cấp|trường trung học|trường tiểu học|
    trường mầm non|trường phổ thông|trường thpt|trường thcs|trường chính trị|trường cán bộ|trường sĩ quan|
    trường nghiệp vụ|trường dân tộc|viện nghiên cứu|viện khoa học|quân khu|quân đoàn|sư đoàn|hợp tác xã|
    tập đoàn|nhà máy|xí nghiệp|câu lạc bộ|cục thống kê|cục thuế|cục văn thư|hội nông dân|hội phụ nữ|
    hội liên hiệp|hội cựu chiến binh|hội nhà văn|hội nhà báo|hội văn học|hội khuyến học|hội chữ thập|
    hội luật gia|hội người cao tuổi|hội đông y|hội làm vườn|hội sinh viên|viện văn học|viện sử học|
    viện hán nôm|viện ngôn ngữ học|viện triết học|viện kinh tế""".split("|")
# Old-style tone placement at the end of a word ("uỷ", "hoá"): compared as the new style ("ủy", "hóa").
_OLD_TONES = {"oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa", "oè": "òe", "oé": "óe", "oẻ": "ỏe",
              "oẽ": "õe", "oẹ": "ọe", "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy"}
# One word that begins a body (Bộ, Sở, Cục, Vụ, Viện, Hội, Ban, Phòng, Trường): only with its marks,
# followed by at least two words, the first word not a family name, and not written like a person
# (every word capitalised: "Trường Chinh", "Ban Tài Đoàn" are people).
_BODY_WORDS = frozenset("bộ sở cục vụ viện hội ban phòng trường".split())
# Abbreviations that only bodies use (compared folded): "UBND tỉnh Lào Cai", "NXB Giáo dục".
_BODY_ABBREVIATIONS = frozenset("""ubnd hdnd ubmttq mttq bch nxb dhqg thpt thcs cty ctcp tnhh htx bql tand
    vks ldld""".split())
# Other languages' bodies in Dublin Core ("Ministry of Education", "UNESCO"); not "bank", a family name too.
_BODY_WESTERN = frozenset("""university universite universitat institute institut ministry department
    association society committee council library organization organisation company corporation
    foundation agency commission academy unesco unicef undp inc ltd gmbh""".split())
_BODY_PREFIXES: dict[str, list[list[str]]] = {}  # first word -> the phrases it begins (with marks)
_BODY_PREFIXES_FOLDED: dict[str, list[list[str]]] = {}  # the same, folded, phrases of two words or more
for _phrase in _BODY_PHRASES:
    _words = _phrase.split()
    _BODY_PREFIXES.setdefault(_words[0], []).append(_words)
    if len(_words) > 1:
        _folded = fold(_phrase).split()
        _BODY_PREFIXES_FOLDED.setdefault(_folded[0], []).append(_folded)


def _body_start(words: list[str], raw: list[str]) -> bool:
    """Whether a name (its words lower-cased with marks, and as written) begins like a body."""
    if any(words[:len(p)] == p for p in _BODY_PREFIXES.get(words[0], ())):
        return True
    first = fold(words[0])
    if first in _BODY_ABBREVIATIONS and len(words) >= 2:
        return True
    if all(w.isascii() for w in words):
        return any(words[:len(p)] == p for p in _BODY_PREFIXES_FOLDED.get(first, ()))
    return (words[0] in _BODY_WORDS and len(words) >= 3 and words[0] not in VIETNAMESE_SURNAMES
            and not all(w[:1].isupper() and w[1:] == w[1:].lower() for w in raw))


def _new_tone(word: str) -> str:
    end = word[-2:]
    return word[:-2] + _OLD_TONES[end] if end in _OLD_TONES and word[-3:-2] != "q" else word


@lru_cache(maxsize=1 << 14)
def is_corporate_name(name: str) -> bool:
    """A corporate body, not a person: ``Tỉnh ủy Lào Cai``, ``Bộ Giáo dục và Đào tạo``, ``UBND tỉnh
    Lào Cai``, ``Uy ban nhan dan huyen Bat Xat``, ``Việt Nam. Bộ Y tế``, ``Ministry of Health``; not ``Nguyễn
    Du``, ``Trường Chinh``, ``Viên Minh``. Dublin Core does not say which (issue 17, point 14)."""
    text = _BRACKETS.sub(" ", nfc(name))
    for segment in re.split(r"[.,;:]\s+|\s+[-–]\s+", text):  # "Việt Nam. Bộ Y tế": a unit after the place
        raw = [w for w in (w.strip(".,;:-–\"'") for w in segment.split()) if w]
        if raw and _body_start([_new_tone(w.casefold()) for w in raw], raw):
            return True
    return bool(set(_NON_WORD.sub(" ", fold(text)).split()) & _BODY_WESTERN)


# "Nxb.", "NXB", "N.X.B.", "Nhà xuất bản", "Nhà XB", "Publishing House", "Publishers": not the name.
_PUBLISHER_WORDS = re.compile(
    r"^(?:nha xuat ban|nha xb|n\s*x\s*b|cong ty tnhh mot thanh vien|cong ty co phan|cong ty tnhh|cong ty)\b"
    r"|\b(?:publishing house|publishing|publishers?|press|pub|publ)$")
_UNKNOWN_PUBLISHER = frozenset(["s n", "sn", "k nxb", "knxb", "khong ro nha xuat ban", "publisher not identified"])


# Abbreviations spelt out in corporate keys (folded): "UBND tỉnh Lào Cai" = "Ủy ban nhân dân tỉnh Lào Cai".
_BODY_SPELT = {"ubnd": "uy ban nhan dan", "hdnd": "hoi dong nhan dan", "ubmttq": "uy ban mat tran to quoc",
               "mttq": "mat tran to quoc", "nxb": "nha xuat ban", "dhqg": "dai hoc quoc gia", "bch": "ban chap hanh",
               "thpt": "trung hoc pho thong", "thcs": "trung hoc co so", "cty": "cong ty", "htx": "hop tac xa",
               "gd&dt": "giao duc dao tao", "gddt": "giao duc dao tao"}


def corporate_key(name: str) -> str:
    """Folded corporate name without punctuation, abbreviations spelt out, without "và":
    ``Thư viện Quốc gia Việt Nam.`` -> ``thu vien quoc gia viet nam``; ``UBND tỉnh Lào Cai`` = ``Ủy
    ban nhân dân tỉnh Lào Cai``; ``Sở GD&ĐT`` = ``Sở Giáo dục và Đào tạo``."""
    words = fold(_BRACKETS.sub(" ", name) if "(" in name else name).replace(" & ", " ").split()
    words = " ".join(_BODY_SPELT.get(w.strip(".,;:"), w) for w in words)
    return " ".join(w for w in _NON_WORD.sub(" ", words).split() if w not in ("va", "and"))


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
