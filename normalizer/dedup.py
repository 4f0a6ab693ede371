"""Record matching: which canonical records describe the same manifestation (the same edition).

Three steps, all pure (no I/O, no state between calls):

* :func:`blocking_keys` — a handful of cheap keys per record (ISBN, shared 035 number, folded
  title + author token, folded title + year, last title words + year). Only records sharing a
  key are ever compared, so the cost grows with the number of records, not with its square.
  Folding is used *only* here.
* :func:`compare` — an explicit, explainable decision for one pair: vetoes first (anything that
  proves two different books), then a small sum of evidence points. Every rule that fired is in
  ``Verdict.reasons``; the fields that differ are in ``Verdict.differing``.
* :func:`can_join` / :func:`cluster` — grouping without chaining: a record joins a cluster only if
  it is "same" with one member and contradicts none.

False merges are worse than missed duplicates, so ties go to "doubtful", which the catalogue turns
into a duplicate report for a cataloguer instead of merging.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import combinations
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence, Union

from rapidfuzz.distance import OSA

from .match_model import MatchModel, default_model, label
from .records import CanonicalRecord
from .text import exact, fold, nfc

try:  # publisher keys from the shared helper ("Nxb. Kim Đồng" = "Kim Đồng"), when it is there
    from . import names as _names
except ImportError:  # pragma: no cover - depends on what the tree holds
    _names = None

SAME, DOUBTFUL, DIFFERENT = "same", "doubtful", "different"

TITLE_EDITS = 0.10  # share of characters that may differ between two titles
AUTHOR_EDITS = 0.20  # share of characters that may differ between two name parts (typos)
MAX_PAGE_DIFF = 10
TITLE_WORDS_SHARED, TITLE_WORDS_EXTRA = 4, 2  # one title's words all in the other (_words_close)
TITLE_WORDS_SHARED_AUTHORS = 3  # ... when every author agrees: Vietnamese titles are often 3 syllables
BAG_KEY_WORDS, BAG_KEY_AUTHORS = 6, 1  # a title's words less one: at most 7 keys per record; longer titles keep a
# head (ta:) or a tail (tl:) key through any one word dropped
COAUTHOR_KEY_NAMES = 4  # blocking on pairs of co-authors: 6 keys at most per record
TITLE_OVERLAP_SHARED = 3  # a reworded title (every author agreeing): long words in common (_significant_overlap)
TAIL_WORDS, TAIL_LETTERS = 3, 16  # the tl: blocking key: last words of the title
# Raised whenever blocking_keys() or compare() would decide differently on the same records: a
# catalogue clustered under another revision is re-clustered once, in full (decisions kept).
MATCHER_REVISION = 6  # 2: series read; a minimal record's main author agrees; Western names keyed by part
# 3: corporate bodies keyed as bodies (UBND = Ủy ban nhân dân) and compared with bodies (issue 17)
# 4: missing data neutral, year-free t2: key, volumes vetoed, " / responsibility" cut from titles,
#    reprints without years doubtful, short titles when authors agree (issue 18)
# 5: tw: and aa: keys (title words less one, co-authors), reworded titles weighed ("overlap"),
#    generic titles and people only partly agreeing "doubtful" at most (issue 18)
# 6: given-name variants in Western names, t2: for two-word titles, a reworded title weighed when an
#    identifier and the page count agree (issue 18)


# Every CanonicalRecord field that blocking_keys() and compare() read: a record changed only
# elsewhere (a copy lent out, a new call number) cannot be matched differently, so it need not be
# clustered again — the daily circulation changes of a whole network cost no deduplication.
MATCH_FIELDS = ("record_id", "library", "title", "title_sort", "responsibility", "authors", "isbns", "system_numbers", "issns",
                "languages", "material_type", "year", "pages", "publisher", "edition", "series")


@dataclass(frozen=True)
class BlockList:
    """ISBNs a cataloguer stopped using for matching (printed on several different books).

    ``isbns`` maps an ISBN-13 to title prefixes: ``[]`` blocks it for every title, a non-empty list
    only for records whose title starts with one of the prefixes (compared folded).
    """

    isbns: Mapping[str, Sequence[str]] = field(default_factory=lambda: MappingProxyType({}))

    def blocks(self, isbn: str, title: str) -> bool:
        prefixes = self.isbns.get(isbn)
        if prefixes is None:
            return False
        if not prefixes:
            return True
        folded = fold(title)
        return any(folded.startswith(fold(p)) for p in prefixes)


EMPTY = BlockList()


@dataclass
class Verdict:
    decision: str  # "same" | "doubtful" | "different"
    score: float
    reasons: list[str]
    differing: list[str]  # field names, for a side-by-side display
    vetoed: bool = False  # a rule proved them different (not merely too little evidence)
    levels: dict[str, str] = field(default_factory=dict)  # field -> comparison level (match_model.LEVELS)


# --------------------------------------------------------------------------- text helpers

# Old-style tone placement ("hoà", "thuỷ") -> the placement NFC text uses elsewhere ("hòa",
# "thủy"). Only at the end of a syllable and not after "q" ("quý" is right either way).
_TONE_SWAP = {"oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
              "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
              "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy"}
_TONE_RE = re.compile(r"(?<![q])(" + "|".join(_TONE_SWAP) + r")(?!\w)")


def tone_normalize(text: str) -> str:
    """Lower-case NFC text with old-style tone placement moved: 'hoà' -> 'hòa' (same word)."""
    return _TONE_RE.sub(lambda m: _TONE_SWAP[m.group(1)], text)


class _PunctTable(dict):
    """Punctuation, symbols, spaces and controls -> space; apostrophes dropped; worked out per
    character the first time it is seen (str.translate asks), as every comparison needs it."""

    def __missing__(self, char: int) -> str:
        ch = chr(char)
        self[char] = out = "" if ch in "'’ʼ`" else " " if unicodedata.category(ch)[0] in "PSZC" else ch
        return out


_PUNCT = _PunctTable()


def _strip_punct(text: str, keep: str = "") -> str:
    """Punctuation and symbols -> space, apostrophes dropped ("scientist's" ~ "scientists");
    ``keep``: one character to leave alone ("?" in names, a letter lost in a bad conversion)."""
    if keep:
        text = keep.join(part.translate(_PUNCT) for part in text.split(keep))
    else:
        text = text.translate(_PUNCT)
    return " ".join(text.split())


def _norm(text: str) -> str:
    """The exact comparison form: NFC, case-folded, tone placement unified, no punctuation."""
    return _strip_punct(tone_normalize(exact(text)))


_fold_word = lru_cache(maxsize=1 << 16)(fold)  # words and name parts recur across millions of comparisons


def _plain(token: str) -> bool:
    """True when a word carries no marks at all (typed without diacritics)."""
    return token.isascii()


def edit_distance(a: str, b: str, limit: int) -> int | None:
    """Edit distance (Levenshtein plus swapped neighbours, 'micahel' ~ 'michael') if at most
    ``limit``, else None. rapidfuzz's OSA: the same results as the hand-written banded version
    it replaced on 100,000 Vietnamese title pairs, far faster (bench/edit_distance.py)."""
    if limit < 0:
        return None
    distance = OSA.distance(a, b, score_cutoff=limit)
    return distance if distance <= limit else None


# --------------------------------------------------------------------------- titles

_SUBTITLE_SPLIT = re.compile(r"\s+[:=/]\s*|\s*:\s+|\s+[-–—]\s+|\s*[-–—]{2}\s*")
_ARTICLE = re.compile(r"^(?:the|an|a)\s+")
_VOLUME = re.compile(r"\b(?:tập|t\.|quyển|q\.|phần|cuốn|vol\.?|volume|part|pt\.|book|tome|bd\.|band|no\.)"
                     r"\s*([0-9]+|[ivxlc]+)\b")
_NUMBER = re.compile(r"[0-9]+")  # not \d (any script's digits); int() is not needed (4,300-digit limit)
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
          "xi": 11, "xii": 12, "xiii": 13, "xiv": 14, "xv": 15, "xx": 20}


# A part of a multi-volume work as 245 $n/$p put it (joined into the title: "… . Tập 2"), in any of
# its forms: "Tập 2", "T.2", "Tập II", "Tập một", "Quyển 1", "Vol. 3", "Part II" -> "vol 2" etc.
_PART_WORDS = {"một": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "sáu": 6, "bảy": 7, "tám": 8,
               "chín": 9, "mười": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
               "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_PART = re.compile(r"(?<!\w)(?:tập|t\.|quyển|q\.|phần|cuốn|vol\.?|volume|part|pt\.|book|tome|bd\.|band)"
                   r"\s*([0-9]+|[ivxlc]+|" + "|".join(_PART_WORDS) + r")(?!\w)")
_PART_FORM = re.compile(r"(?<!\w)vol ([0-9]+)(?!\w)")


def _part_number(m: re.Match) -> str:
    n = m.group(1)
    number = n.lstrip("0") or "0" if n.isdigit() else _ROMAN.get(n) or _PART_WORDS.get(n)
    return f"vol {number}" if number else m.group(0)


def _title_numbers(raw: str) -> tuple[str, ...]:
    """Digits in a title plus roman volume numbers ("Tập II" -> 2): "Toán 10" is not "Toán 11"."""
    nums = [n.lstrip("0") or "0" for n in _NUMBER.findall(raw)]
    for m in _VOLUME.finditer(raw):
        roman = _ROMAN.get(m.group(1))
        if roman:
            nums.append(str(roman))
    return tuple(sorted(nums))


# --------------------------------------------------------------------------- names, publishers

_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_RELATORS = {"dịch", "biên", "soạn", "chủ", "ch", "b", "bs", "s", "hiệu", "đính", "minh", "họa", "hoạ",
             "giới", "thiệu", "tuyển", "chọn", "sưu", "tầm", "kể", "người", "ed", "eds", "editor",
             "editors", "trans", "translator", "ill", "illustrator", "comp", "compiler", "and", "et",
             "al", "jr", "sr", "dr", "prof", "gs", "pgs", "ts", "ths"}


def _person_tokens(name: str) -> tuple[str, ...]:
    """Name -> its parts, order-free: 'Nguyễn, Du' = 'Nguyễn Du'; dates, roles, brackets dropped.

    Fallback used while normalizer/names.py is not available; "J.K." -> ("j", "k").
    """
    text = tone_normalize(exact(_PARENS.sub(" ", name)))
    text = re.sub(r"\d+|(?<!\w)\?+(?!\w)", " ", text)  # a '?' touching a word is a lost letter
    tokens = _strip_punct(text.replace(".", " ").replace("-", " "), keep="?").split()
    if len(tokens) > 1:
        tokens = [t for t in tokens if t not in _RELATORS] or tokens
    return tuple(tokens)


_PUBLISHER_NOISE = {"nxb", "nhà", "xuất", "bản", "xb", "publisher", "publishers", "publishing", "press",
                    "inc", "ltd", "co", "company", "verlag", "editions", "éditions", "and"}


@lru_cache(maxsize=1 << 14)
def _publisher_tokens(publisher: str | None) -> frozenset[str]:
    """'Hà Nội : Nxb. Kim Đồng' / 'NXB Kim Đồng' / 'Kim Đồng' -> {'kim', 'đồng'}."""
    if not publisher:
        return frozenset()
    text = publisher.split(" : ")[-1]  # Koha's DC puts "place : publisher" in dc:publisher
    if _names is not None and hasattr(_names, "publisher_key"):
        text = _names.publisher_key(text)  # folded; publishers are weak evidence, folding is safe
    tokens = {t for t in _norm(text.replace(".", " ")).split() if t not in _PUBLISHER_NOISE}
    return frozenset(tokens)


# --------------------------------------------------------------------------- series

_SERIES_FILLER = frozenset("the of on and for in a an de des du la le der die und của và".split())


@lru_cache(maxsize=1 << 14)
def _series_form(statement: str) -> tuple[tuple[str, ...], str]:
    """'Tủ sách Tuổi thơ ; 12' -> (('tủ', 'sách', 'tuổi', 'thơ'), '12'); 'The VLDB Journal — The
    International Journal on …' -> (('vldb', 'journal'), ''): the series' own name, before a
    parallel or explanatory title, without a leading article or bracketed remarks."""
    name, _, number = statement.partition(" ; ")
    main = _SUBTITLE_SPLIT.split(tone_normalize(exact(_PARENS.sub(" ", name))), maxsplit=1)[0]
    words = _strip_punct(main.replace(".", " ")).split()
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]
    return tuple(words), ",".join(_title_numbers(tone_normalize(exact(number))))


def _series_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two series names agree when one is the other in full or abbreviated: 'SIGMOD Record' ~
    'ACM SIGMOD Record', 'ACM Trans. Database Syst.' ~ 'ACM Transactions on Database Systems',
    'VLDB' ~ 'Very Large Data Bases'. The longer may add one word beyond filler ('of', 'on'), so
    'Tủ sách' does not agree with every 'Tủ sách …'. Abbreviations only in words without marks."""
    if a == b:
        return bool(a)
    return _abbreviates(a, b) or _abbreviates(b, a)


def _abbreviates(short: tuple[str, ...], long_: tuple[str, ...]) -> bool:
    if not short or len(short) > len(long_):
        return False
    content = [w for w in long_ if w not in _SERIES_FILLER]
    if len(short) == 1 and len(short[0]) >= 3 and short[0].isascii() and len(content) >= 3:
        if short[0] == "".join(w[0] for w in content):
            return True  # an acronym
    k, full, skipped = 0, 0, 0
    for word in short:
        while k < len(long_) and not (long_[k] == word or (word.isascii() and long_[k].startswith(word))):
            skipped += long_[k] not in _SERIES_FILLER
            k += 1
        if k == len(long_):
            return False
        full += long_[k] == word and len(word) >= 3
        k += 1
    skipped += sum(1 for w in long_[k:] if w not in _SERIES_FILLER)
    return full > 0 and skipped <= 1


def _series(a: Prepared, b: Prepared) -> tuple[str, str]:
    """(level, reason); level: agree | numbers differ | "" (nothing to say: series are often
    recorded by one library only, or in another form)."""
    numbered = None
    for name_a, number_a in a.series:
        for name_b, number_b in b.series:
            if _series_agree(name_a, name_b):
                if number_a and number_b and number_a != number_b:
                    numbered = numbered or f"series '{' '.join(name_a)}' numbered {number_a} vs {number_b}"
                    continue
                return "agree", f"series '{' '.join(name_a)}' vs '{' '.join(name_b)}' agree"
    return ("numbers differ", numbered) if numbered else ("", "")


# --------------------------------------------------------------------------- editions

_EDITION_WORDS = {"một": 1, "nhất": 1, "hai": 2, "ba": 3, "tư": 4, "bốn": 4, "năm": 5, "sáu": 6,
                  "bảy": 7, "tám": 8, "chín": 9, "mười": 10, "first": 1, "second": 2, "third": 3,
                  "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_EDITION_NUM = re.compile(r"([0-9]{1,9})\s*(?:st|nd|rd|th|e|er|ème)?\b")


def _edition_number(edition: str | None) -> int | None:
    """'Tái bản lần thứ 2' -> 2 (a reprint numbered N is edition N + 1), '3rd ed.' -> 3."""
    if not edition:
        return None
    text = tone_normalize(exact(edition))
    reprint = "tái bản" in text
    m = _EDITION_NUM.search(text)
    number = int(m.group(1)) if m else None
    if number is None:
        for word in _strip_punct(text).split():
            if word in _EDITION_WORDS:
                number = _EDITION_WORDS[word]
                break
    if number is None:
        return None
    return number + 1 if reprint else number


# --------------------------------------------------------------------------- prepared records

_SYSNUM = re.compile(r"^\(([^)]+)\)\s*(\S.*)$")


@dataclass(frozen=True)
class Prepared:
    """What compare() needs from a record, computed once (a record is compared many times)."""

    record: CanonicalRecord
    title: str  # _norm of the whole title
    bare: str  # _norm of the whole title without bracketed remarks ("(panel session)")
    main: str  # _norm of the title before the first subtitle separator
    has_subtitle: bool
    numbers: tuple[str, ...]  # of the whole title
    authors: tuple[tuple[str, ...], ...]  # person names first compared, as order-free parts
    author_names: tuple[str, ...]  # as catalogued, aligned with ``authors`` (for reasons)
    persons: int  # how many of ``authors`` (from the front) are persons
    publisher: frozenset[str]
    edition: int | None
    isbns: frozenset[str]
    sysnums: frozenset[str]
    issns: frozenset[str]
    languages: frozenset[str]
    series: tuple[tuple[tuple[str, ...], str], ...] = ()  # (name words, number) per statement
    volumes: tuple[str, ...] = ()  # the part of a multi-volume work (245 $n/$p, or 490 $v of its own name)


def prepare(record: CanonicalRecord | Prepared) -> Prepared:
    """Precompute the comparison forms of a record (idempotent)."""
    if isinstance(record, Prepared):
        return record
    raw, stated = _cut_responsibility(record.title or record.title_sort or "")
    title, bare, main, numbers, volumes = _title_forms(raw, "vie" in record.languages)
    series = tuple(_series_form(s) for s in record.series if s)
    if not volumes:  # "Lịch sử Việt Nam" in a series of its own name numbered 2 (490 $v): volume 2
        volumes = tuple(number for name, number in series if number and " ".join(name) in (title, main))
    keyed = [(a.kind != "person", _names_key(a.name) if a.kind == "person" else _body_key(a.name), a.name)
             for a in record.authors]
    if not keyed:  # no access points: the people the statement of responsibility names stand in
        keyed = [(False, _names_key(name), name) for name in _stated_names(stated or record.responsibility)]
    keyed = sorted((k for k in keyed if k[1]), key=lambda k: k[0])  # stable: persons first
    n_people = sum(1 for k in keyed if not k[0])
    sysnums = set()
    for s in record.system_numbers:
        m = _SYSNUM.match(nfc(s))
        if m:
            sysnums.add(f"({m.group(1).strip().casefold()}){m.group(2).strip()}")
    return Prepared(
        record=record, title=title, bare=bare, main=main or title, has_subtitle=bool(main) and main != title,
        numbers=numbers,
        authors=tuple(k[1] for k in keyed), author_names=tuple(k[2] for k in keyed),
        persons=n_people, publisher=_publisher_tokens(record.publisher),
        edition=_edition_number(record.edition),
        isbns=frozenset(record.isbns), sysnums=frozenset(sysnums), issns=frozenset(record.issns),
        languages=frozenset(record.languages), series=series, volumes=volumes)


_RESPONSIBILITY = re.compile(r"\s+/\s+")
_NAME_LIST = re.compile(r"\s*[,;&]\s*|\s+(?:và|and|with|cùng)\s+")


@lru_cache(maxsize=1 << 16)
def _cut_responsibility(raw: str) -> tuple[str, str | None]:
    """'Bỉ vỏ / Nguyên Hồng' -> ('Bỉ vỏ', 'Nguyên Hồng'): a statement of responsibility typed into
    the title (245 $a holding $c, or dc:title + ' / ' + creators) is no part of the title."""
    parts = _RESPONSIBILITY.split(raw, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0], parts[1]
    return raw, None


def _stated_names(statement: str | None) -> list[str]:
    """'Nguyên Hồng ; Lê Văn An dịch' -> ['Nguyên Hồng', 'Lê Văn An dịch']: the pieces of a statement
    of responsibility short enough to be names (roles are dropped when the names are compared)."""
    if not statement:
        return []
    out = []
    for piece in _NAME_LIST.split(nfc(statement).rstrip(" .")):
        tokens = _names_key(piece) if piece else ()
        if 1 <= len(tokens) <= 5 and any(len(t) > 1 for t in tokens):
            out.append(piece.strip())
    return out[:6]


@lru_cache(maxsize=1 << 16)  # the copies of a book share their title: worked out once
def _title_forms(raw: str, vietnamese: bool) -> tuple[str, str, str, tuple[str, ...], tuple[str, ...]]:
    """(title, bare title, main title, numbers, volumes) in compared form; a volume's number in
    one form ('Tập II' = 'T.2' = 'Tập hai' -> 'vol 2')."""
    raw = nfc(raw)
    if not vietnamese:
        raw = _ARTICLE.sub("", raw.casefold()) if _ARTICLE.match(raw.casefold()) else raw
    low = _PART.sub(_part_number, tone_normalize(exact(raw)))
    parts = _SUBTITLE_SPLIT.split(low, maxsplit=1)
    title = _strip_punct(low)
    return (title, _strip_punct(_PARENS.sub(" ", low)), _strip_punct(parts[0]), _title_numbers(low),
            tuple(_PART_FORM.findall(title)))


@lru_cache(maxsize=1 << 16)
def _names_key(name: str) -> tuple[str, ...]:
    return _person_tokens(name)


# Abbreviations in Vietnamese corporate names, spelt out: "UBND tỉnh Lào Cai" = "Ủy ban nhân dân tỉnh
# Lào Cai", "Sở GD&ĐT" = "Sở Giáo dục và Đào tạo". "và" / "&" are left out of body keys.
_BODY_ABBREVIATIONS = {"ubnd": "ủy ban nhân dân", "hđnd": "hội đồng nhân dân", "ubmttq": "ủy ban mặt trận tổ quốc",
                       "mttq": "mặt trận tổ quốc", "nxb": "nhà xuất bản", "đhqg": "đại học quốc gia",
                       "bch": "ban chấp hành", "tw": "trung ương", "thpt": "trung học phổ thông",
                       "thcs": "trung học cơ sở", "cty": "công ty", "htx": "hợp tác xã", "tand": "tòa án nhân dân",
                       "vks": "viện kiểm sát", "tp": "thành phố", "gdđt": "giáo dục đào tạo"}
_BODY_AMPERSANDS = re.compile(r"\bgd\s*(?:&|và)\s*đt\b")


@lru_cache(maxsize=1 << 14)
def _body_key(name: str) -> tuple[str, ...]:
    """A corporate body's words in compared form, abbreviations spelt out; nothing dropped but "và"
    (a body's name may hold any word: "Hồ Chí Minh", "Biên phòng")."""
    text = _BODY_AMPERSANDS.sub("gdđt", tone_normalize(exact(_PARENS.sub(" ", name))))
    words = []
    for word in _strip_punct(text.replace(".", " ")).split():
        words.extend(_BODY_ABBREVIATIONS.get(word, word).split())
    return tuple(w for w in words if w not in ("và", "and"))


Recordish = Union[CanonicalRecord, Prepared]


# --------------------------------------------------------------------------- blocking


def _tail(words: list[str]) -> str:
    """The last words of a title, at least TAIL_WORDS of them and TAIL_LETTERS letters: typos,
    spelling variants and prefixes ("Tutorial on", "Microsoft") mostly hit the first words."""
    n, letters = 0, 0
    while n < len(words) and (n < TAIL_WORDS or letters < TAIL_LETTERS):
        n += 1
        letters += len(words[-n])
    return " ".join(words[-n:])


# Middle names that only mark gender, left out of name keys ("Nguyễn Thị Ngọc" = "Nguyễn Ngọc"), and
# the family names most Vietnamese share (Nguyễn alone is about 4 in 10), left out when a name's
# parts are keys on their own: "Lịch sử Việt Nam" + "nguyen" would put a thousand books in one block.
_GENDER_MIDDLE_NAMES = frozenset("thi van".split())
_SHARED_FAMILY_NAMES = frozenset("nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly dinh "
                                 "truong".split())


def _name_key_parts(person: tuple[str, ...], alone: bool = False) -> set[str]:
    """The folded parts of a name that tell people apart (all of them if none does); ``alone``:
    each part will be a key by itself, so shared family names do not count either."""
    parts = {_fold_word(tok) for tok in person if len(tok) > 1 and "?" not in tok}
    common = _GENDER_MIDDLE_NAMES | _SHARED_FAMILY_NAMES if alone else _GENDER_MIDDLE_NAMES
    return {part for part in parts if part not in common} or parts


def blocking_keys(record: Recordish, blocked: BlockList = EMPTY) -> set[str]:
    """Candidate keys; two records are compared only when they share one.

    ``isbn:<13>`` (unless blocked), ``sys:(org)number`` (035 with an organisation prefix),
    ``ta:<first 4 title words>|<an author's whole name, order-free>`` (a name with initials: each
    full part that is not a shared family name),
    ``t2:<first 2 title words>|<an author's whole name>`` (year-free, for reworded titles),
    ``tw:<the title's words, sorted, all or all but one>|<an author's name>``,
    ``aa:<name>|<name>`` (two co-authors' whole names, of the first COAUTHOR_KEY_NAMES),
    ``ty:<main title>|<year>`` and
    ``tl:<last words of the title>|<year>`` (when those are not the main title already). Titles
    with a bracketed remark ("(panel session)") also get their keys without it.
    Folded (no marks), so that "Truyện Kiều" and "Truyen Kieu" at least get compared.
    """
    p = prepare(record)
    rec = p.record
    keys = {f"isbn:{i}" for i in p.isbns if not blocked.blocks(i, rec.title)}
    keys.update(f"sys:{s}" for s in p.sysnums)
    words = fold(p.title).split()
    if not words:
        return keys
    heads = {" ".join(words[:4])}
    bare = fold(p.bare).split() if p.bare != p.title else []
    if bare:
        heads.add(" ".join(bare[:4]))
    tokens, whole = set(), set()
    for person in p.authors[:6]:  # co-authors come in any order
        if any(len(tok) == 1 for tok in person):  # 'P. Auer' ~ 'Peter Auer': each full part on its own
            tokens.update(_name_key_parts(person, alone=True))
        elif parts := _name_key_parts(person):  # the whole name, order-free: 'Nguyễn, Du' = 'Nguyễn Du'
            tokens.add(" ".join(sorted(parts)))
            whole.add(" ".join(sorted(parts)))
            if all(tok.isascii() for tok in person) and not parts & _SHARED_FAMILY_NAMES:
                tokens.update(_name_key_parts(person, alone=True))  # 'Joachim Thomas' ~ 'J. Thomas'
    keys.update(f"ta:{head}|{tok}" for head in heads for tok in tokens)
    # year-free too, and robust to a word dropped, swapped or cut further on (reworded titles)
    if len(words) >= 2:  # a two-word title too: "Transactional publish / subscribe" cut at " / "
        keys.update(f"t2:{' '.join(words[:2])}|{tok}" for tok in (whole or tokens))
    # the title's words in any order, with any one left out, by one of its authors: a word
    # dropped, swapped or replaced anywhere (reworded titles), and still a small block
    bag = sorted(set(words))
    if 3 <= len(bag) <= BAG_KEY_WORDS:
        bags = {" ".join(bag)} | {" ".join(w for w in bag if w != left) for left in bag}
        keys.update(f"tw:{b}|{tok}" for b in bags for tok in sorted(whole or tokens)[:BAG_KEY_AUTHORS])
    # two people who wrote it together, whatever the title says (reworded, noisy, cut)
    keys.update(f"aa:{x}|{y}" for x, y in combinations(sorted(whole)[:COAUTHOR_KEY_NAMES], 2))
    main = fold(p.main)
    if rec.year:
        keys.add(f"ty:{main}|{rec.year}")
        tail = _tail(bare or words)
        if tail != main:
            keys.add(f"tl:{tail}|{rec.year}")
    if not p.authors and not rec.year:
        keys.add(f"t:{main}")
    return keys


def candidate_pairs(records: Sequence[Recordish], blocked: BlockList = EMPTY,
                    max_block: int = 1000) -> set[tuple[int, int]]:
    """Index pairs (i < j) that share a blocking key. Blocks larger than ``max_block`` (a key
    shared by that many records says nothing) are skipped, except ISBN blocks."""
    blocks: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        for key in blocking_keys(rec, blocked):
            blocks.setdefault(key, []).append(i)
    pairs = set()
    for key, members in blocks.items():
        if len(members) < 2 or (len(members) > max_block and not key.startswith("isbn:")):
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pairs.add((members[x], members[y]))
    return pairs


# --------------------------------------------------------------------------- comparing parts


def _word_conflicts(ta: str, tb: str) -> list[tuple[str, str]]:
    """Words that differ only in diacritics ('dế' vs 'dê'): a different word, never a typo.
    A word typed without any marks is not a conflict (it is only less informative)."""
    out = []
    wa, wb = ta.split(), tb.split()
    for op, i1, i2, j1, j2 in SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op != "replace":
            continue
        for x, y in zip(wa[i1:i2], wb[j1:j2]):
            if x != y and _fold_word(x) == _fold_word(y) and not (_plain(x) or _plain(y)):
                out.append((x, y))
    return out


def _replaced_words(ta: str, tb: str) -> tuple[str, str] | None:
    """A word with diacritics put in place of an unrelated word in the other title: 'Toán' vs
    'Văn' in '... môn Toán lớp 9' / '... môn Văn lớp 9' is another book, however close the whole
    titles are (a Vietnamese syllable is short, so one word is within the edits allowed for
    typos). A typo stays within a third of the word's letters; words split or joined compare
    joined. Words without marks on both sides are left to the edit count ('foruth' ~ 'fourth')."""
    wa, wb = ta.split(), tb.split()
    for op, i1, i2, j1, j2 in SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "replace":
            x, y = "".join(wa[i1:i2]), "".join(wb[j1:j2])
            if x.isascii() and y.isascii():
                continue  # 'jobs' / 'joins', 'an' / 'its': left to the edit count
            if edit_distance(x, y, max(1, max(len(x), len(y)) // 3)) is None:
                return " ".join(wa[i1:i2]), " ".join(wb[j1:j2])
    return None


def _titles(a: Prepared, b: Prepared) -> tuple[str, str]:
    """(level, reason); level: exact | near | partial | unaccented | conflict | differ."""
    ta, tb = a.title, b.title
    if not ta or not tb:
        return "differ", "a title is missing"
    if ta == tb:
        return "exact", "title exact match"
    conflicts = _word_conflicts(ta, tb) or _word_conflicts(tb, ta)
    if conflicts:
        x, y = conflicts[0]
        return "conflict", f"title words differ in diacritics: '{x}' vs '{y}'"
    limit = int(TITLE_EDITS * max(len(ta), len(tb)))
    dist = edit_distance(ta, tb, limit)
    replaced = _replaced_words(ta, tb) if dist is not None else None
    if replaced:
        return "differ", f"titles differ in a word ('{replaced[0]}' vs '{replaced[1]}')"
    if dist is not None:
        if a.numbers != b.numbers:
            if a.numbers and b.numbers:
                return "conflict", f"numbers in title differ: {_nums(a.numbers)} vs {_nums(b.numbers)}"
            return "partial", f"titles within {dist} edits, but a number is only in one ({_nums(a.numbers)} vs {_nums(b.numbers)})"
        return "near", f"titles within {dist} edits"
    if (a.bare != ta or b.bare != tb) and a.bare and b.bare and (a.bare == b.bare or (
            edit_distance(a.bare, b.bare, int(TITLE_EDITS * max(len(ta), len(tb))))
            and not _replaced_words(a.bare, b.bare))):
        if a.numbers == b.numbers or not (a.numbers and b.numbers):
            return "near", f"titles agree without bracketed remarks ('{a.bare}')"
    # one record without subtitle, or a title cut short / with noise around it: the shorter
    # must be found whole (as words) in the longer
    if a.has_subtitle and b.has_subtitle and a.main == b.main:
        n_main = len(a.main.split())
        sa, sb = ta.split()[n_main:], tb.split()[n_main:]
        if a.numbers == b.numbers and _words_close(sa, sb, min_shared=3):
            return "partial", (f"same main title, one subtitle adds words to the other "
                               f"('{' '.join(sa)}' vs '{' '.join(sb)}')")
        return "differ", f"same main title, different subtitles ('{ta}' vs '{tb}')"
    short, long_ = (a, b) if len(ta) <= len(tb) else (b, a)
    cand = short.title
    n_words = len(cand.split())
    if n_words >= 2 and (long_.title.startswith(cand + " ") or long_.main == cand
                         or (n_words >= 4 and f" {cand} " in f" {long_.title} ")):
        if long_.main == cand:  # the other record adds a subtitle, whatever it holds
            return "partial", f"title '{cand}' agrees, one record has a subtitle ('{long_.title}')"
        if set(short.numbers) - set(long_.numbers) or _nums_cut(long_, cand):
            return "conflict", f"numbers in title differ: {_nums(a.numbers)} vs {_nums(b.numbers)}"
        return "partial", f"title '{cand}' found whole in '{long_.title}'"
    if fold(ta) == fold(tb):
        return "unaccented", "titles agree only without diacritics (one record has none)"
    wa, wb = (a.bare or ta).split(), (b.bare or tb).split()
    if a.numbers == b.numbers and _words_close(wa, wb, min_shared=TITLE_WORDS_SHARED):
        return "partial", (f"every word of one title is in the other "
                           f"('{' '.join(wa)}' vs '{' '.join(wb)}')")
    return "differ", f"titles differ ('{ta}' vs '{tb}')"


# Words of titles that name a kind of text, not a text (OCLC's matching keeps a list alike): a
# title made of these alone recurs in every volume of a journal or year of an institution.
_GENERIC_TITLE_WORDS = frozenset("""
    a an the of on to from for and in by with at
    annual report reports yearly column columns editorial editorials editor editors guest preface
    foreword introduction introductory review reviews book books letter letters news newsletter
    bulletin proceedings index indexes errata erratum obituary interview minutes abstract abstracts
    contents message chair chairs president presidents note notes special issue section corner
    announcement announcements calendar comment comments reply response correction corrections
    bao cao thuong nien tong ket loi noi dau gioi thieu tap chi ky yeu ban tin thong bao muc luc
    phu tin tuc chuyen de dac san hang nam nam va cua
""".split())


@lru_cache(maxsize=1 << 16)
def _generic_title(title: str) -> bool:
    words = [w for w in fold(title).split() if len(w) > 1 and not w.isdigit()]  # 'editor s', '2020'
    return bool(words) and all(w in _GENERIC_TITLE_WORDS for w in words)


def _title_rescue(a: Prepared, b: Prepared) -> tuple[str, str] | None:
    """For titles that differ (not by a number, a volume or diacritics) when every author agrees:
    (title level, reason) when they still agree as words — a short Vietnamese title of three
    syllables with one word dropped or moved ('Bé tập màu' ~ 'Bé tập tô màu'), or the same main
    title, one adding a subtitle ('Những thơ ấu' ~ 'Những ngày thơ ấu : hồi ký')."""
    if a.numbers != b.numbers or a.volumes != b.volumes:
        return None
    wa, wb = (a.bare or a.title).split(), (b.bare or b.title).split()
    if _words_close(wa, wb, min_shared=TITLE_WORDS_SHARED_AUTHORS):
        return "partial", (f"every word of one short title is in the other, authors agree "
                                 f"('{' '.join(wa)}' vs '{' '.join(wb)}')")
    if not (a.has_subtitle and b.has_subtitle) and _words_close(
            a.main.split(), b.main.split(), min_shared=TITLE_WORDS_SHARED_AUTHORS):
        return "main", f"main titles agree ('{a.main}' vs '{b.main}'), one adds a subtitle, authors agree"
    if overlap := _significant_overlap(a, b):
        return "overlap", overlap
    return None  # two subtitles under one main title stay apart: 'Toán 10 : sách giáo viên' / ': sách bài tập'


def _significant_overlap(a: Prepared, b: Prepared) -> str | None:
    """A reworded title in a language of long words ('An experimental system for object-based
    sharing in federated databases' ~ 'An experimental object-based sharing system for networked
    databases'): at least TITLE_OVERLAP_SHARED words of five letters or more in common and half of
    all such words of the two, every differing one without diacritics. Never for a Vietnamese
    record: a syllable changed is another book ('nuôi lợn thịt' / 'nuôi lợn nái')."""
    if "vie" in a.record.languages or "vie" in b.record.languages:
        return None
    wa, wb = _significant_words(a.bare or a.title), _significant_words(b.bare or b.title)
    shared = wa & wb
    if len(shared) < TITLE_OVERLAP_SHARED or 4 * len(shared) < 3 * len(wa | wb):
        return None
    if not all(w.isascii() for w in wa ^ wb):
        return None
    return (f"titles share {len(shared)} of {len(wa | wb)} significant words "
            f"('{a.bare or a.title}' vs '{b.bare or b.title}'), authors agree")


def _words_shared(a: Prepared, b: Prepared) -> float:
    """The share of the shorter title's words that the other title has too."""
    wa, wb = set(a.title.split()), set(b.title.split())
    return len(wa & wb) / min(len(wa), len(wb)) if wa and wb else 0.0


def _significant_words(title: str) -> frozenset[str]:
    """Words of five letters or more, cut to five: a crude stem ('changes' ~ 'change', 'diagnosing'
    ~ 'diagnosis') that needs no dictionary of the language."""
    return frozenset(w[:5] for w in title.split() if len(w) >= 5)



def _words_close(wa: list[str], wb: list[str], min_shared: int) -> bool:
    """Every word of the shorter title is in the longer one, in any order, and the longer adds
    at most TITLE_WORDS_EXTRA words (or a tenth of all): 'Tutorial: X' ~ 'X (tutorial session)'.
    Nothing may be replaced: 'Kỹ thuật nuôi lợn thịt' / '... lợn nái' and 'đề thi môn Toán' /
    '... môn Văn' are other books. Only a word typed without marks, of 8 letters or more, may
    stand one edit from its counterpart ('algorithm' ~ 'algorithms', never a Vietnamese
    syllable)."""
    if len(wa) > len(wb):
        wa, wb = wb, wa
    extra = len(wb) - len(wa)
    if len(wa) < min_shared or extra > max(TITLE_WORDS_EXTRA, (len(wa) + len(wb)) // 10):
        return False
    only_a, only_b = Counter(wa) - Counter(wb), Counter(wb) - Counter(wa)
    if not only_a:
        return True
    if sum(only_a.values()) > 2:  # a word or two with a spelling variant, no more
        return False
    rest = list(only_b.elements())
    for w in only_a.elements():
        if len(w) < 8 or not w.isascii():
            return False
        for k, other in enumerate(rest):
            if len(other) >= 8 and other.isascii() and edit_distance(w, other, 1) is not None:
                del rest[k]
                break
        else:
            return False
    return True


def _nums_cut(long_: Prepared, cand: str) -> bool:
    """The longer title continues with a volume number right after the shared part:
    'Truyện Kiều' vs 'Truyện Kiều tập 1' is a part, not the same book."""
    rest = f" {long_.title} ".split(f" {cand} ", 1)[-1].split()
    if not rest:
        return False
    if rest[0].isdigit() or rest[0] in _ROMAN:
        return True
    return (rest[0] in {"tập", "t", "quyển", "q", "phần", "vol", "volume", "part", "cuốn", "book", "no"}
            and len(rest) > 1 and (rest[1].isdigit() or rest[1] in _ROMAN))


def _nums(nums: tuple[str, ...]) -> str:
    return ",".join(nums) or "none"


def _token_match(x: str, y: str, typos: bool = True) -> str | None:
    """'full' when two name parts agree, 'initial' for 'p' ~ 'peter', else None. Typos are
    forgiven only in words typed without marks (``typos``: and not in a Vietnamese name, where
    'Thanh' and 'Thinh' are two people, as 'Hùng' and 'Hưng' are)."""
    if x == y:
        return "full"
    if len(x) == 1 or len(y) == 1:
        return "initial" if x[0] == y[0] or _fold_word(x[0]) == _fold_word(y[0]) else None
    if "?" in x or "?" in y:  # 'garc?a' (a letter lost in a bad conversion) ~ 'garcía'; compared
        wild, other = (x, y) if "?" in x else (y, x)  # without marks: 'zoé' is 'zóe' once tones move
        pattern = ".{1,2}".join(re.escape(_fold_word(part)) for part in wild.split("?"))
        return "full" if re.fullmatch(pattern, _fold_word(other)) and len(wild) > 2 else None
    px, py = x.isascii(), y.isascii()
    if px and py:
        if min(len(x), len(y)) >= 4 and (x.startswith(y) or y.startswith(x)):
            return "initial"  # 'greg' ~ 'gregory': a short form counts like an initial
        if typos and min(len(x), len(y)) >= 5 and (x[0] == y[0] or x[-1] == y[-1]):
            if edit_distance(x, y, int(AUTHOR_EDITS * max(len(x), len(y)))) is not None:
                return "full"
        return None
    if (px or py) and _fold_word(x) == _fold_word(y):
        return "full"  # "Nguyen" typed for "Nguyễn"
    return None


def _same_person(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Every part of the shorter name matches a distinct part of the longer one, at least one
    word in full: 'p. auer' ~ 'Peter Auer', 'Hugo, Victor' ~ 'Victor Hugo'; 'Nguyễn Văn An' is not
    'Nguyễn Văn Bình' (the Vietnamese given name is the last part and must agree)."""
    if a == b:  # the commonest case, decided without matching part by part
        return any(len(t) > 1 for t in a)
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    western = _western(short) and _western(long_)
    free: list[str | None] = list(long_)
    left, full = [], 0
    for kind in ("full", "initial"):
        todo, left = (short if kind == "full" else left), []
        for tok in todo:
            for k, other in enumerate(free):
                if other is not None and _token_match(tok, other, western) == kind:
                    free[k] = None
                    full += kind == "full" and len(tok) > 1
                    break
            else:
                left.append(tok)
    if left and full and western:
        left = [tok for tok in left if not _take(free, tok, _given_name_variant)]
    return full > 0 and not left


def _take(free: list[str | None], tok: str, matches) -> bool:
    """Match ``tok`` to the first free part that ``matches`` it, and use that part up."""
    for k, other in enumerate(free):
        if other is not None and matches(tok, other):
            free[k] = None
            return True
    return False


def _western(name: tuple[str, ...]) -> bool:
    """Typed in Latin letters without marks and without a Vietnamese family name: 'Nguyen Van Thanh'
    and 'Nguyen Van Thinh' are two people, 'Pillip A. Bernstein' and 'Philip A. Bernstein' one."""
    return all(tok.isascii() for tok in name) and not any(
        _names is not None and _names.is_vietnamese_family_name(tok) for tok in name)


def _given_name_variant(x: str, y: str) -> bool:
    """A spelling or transliteration variant of a given name ('Xiolai' ~ 'Xiaolei', 'Cass' ~ 'Case',
    'Tim' ~ 'Timothy'), accepted only once another part of the name agreed in full (see _same_person)."""
    if x[0] != y[0] or min(len(x), len(y)) < 3:
        return False
    if x.startswith(y) or y.startswith(x):
        return True
    return min(len(x), len(y)) >= 4 and edit_distance(x, y, 2 if min(len(x), len(y)) >= 6 else 1) is not None


def _same_body(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two corporate bodies agree: the same words in any order ("Lào Cai (tỉnh). Tỉnh ủy" ~ "Tỉnh ủy
    Lào Cai"), or one's words, two or more, found in a row in the other ("Bộ Y tế" ~ "Việt Nam. Bộ Y
    tế"); compared without marks when one has none ("Uy ban nhan dan"). Not order-free like people:
    "Tỉnh ủy Lào Cai" is not "Ủy ban nhân dân tỉnh Lào Cai"."""
    if not a or not b:
        return False
    if all(w.isascii() for w in a) or all(w.isascii() for w in b):
        a, b = tuple(_fold_word(w) for w in a), tuple(_fold_word(w) for w in b)
    if sorted(a) == sorted(b):
        return any(len(w) > 1 for w in a)
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    n = len(short)
    return n >= 2 and any(long_[k:k + n] == short for k in range(len(long_) - n + 1))


def _authors(a: Prepared, b: Prepared) -> tuple[str, int, str]:
    """(level, people matched, reason); level: none | one side | agree | partial | conflict."""
    la, lb = a.authors, b.authors
    names_a, names_b = a.author_names, b.author_names
    same = _same_person
    if a.persons and b.persons:  # people with people: a corporate body is not a contradiction
        la, lb = la[:a.persons], lb[:b.persons]
    elif la and lb:  # bodies with bodies: Dublin Core's "Tỉnh ủy Lào Cai" is MARC's 110
        la, lb, same = la[a.persons:], lb[b.persons:], _same_body
        names_a, names_b = names_a[a.persons:], names_b[b.persons:]
        if a.persons or b.persons:  # one record also names people: only an agreeing body says something
            if not (la and lb and any(_same_body(x, y) for x in la for y in lb)):
                return "one side", 0, "persons named in one record, only a corporate body in the other"
    if not la and not lb:
        return "none", 0, ""
    if not la or not lb:
        return "one side", 0, "authors named in one record only"
    free = list(range(len(lb)))
    matched = []
    for i, x in enumerate(la):
        for k in free:
            if same(x, lb[k]):
                free.remove(k)
                matched.append((i, k))
                break
    if not matched and same is _same_body:  # weak: one catalogue names the issuing body, the other a sponsor
        return "one side", 0, f"corporate bodies differ: {list(names_a[:3])} vs {list(names_b[:3])}"
    if not matched:
        return "conflict", 0, f"authors differ: {list(names_a[:3])} vs {list(names_b[:3])}"
    first = matched[0]
    pair = f"'{names_a[first[0]]}' vs '{names_b[first[1]]}'"
    n, shorter, longer = len(matched), min(len(la), len(lb)), max(len(la), len(lb))
    if n == shorter and 2 * n >= longer:
        return "agree", n, f"authors agree ({n} of {longer} matched, e.g. {pair})"
    if n == shorter and {k if len(la) <= len(lb) else i for i, k in matched} == set(range(n)):
        return "agree", n, (f"authors agree (the {n} named in one record are the first {n} of {longer} "
                            f"in the other, e.g. {pair})")
    if n >= 2 and n >= 0.6 * longer:
        return "mostly", n, f"authors mostly agree ({n} of {longer} matched, e.g. {pair})"
    if n >= 2 and n == shorter:  # a record listing the main authors, the other every contributor
        return "mostly", n, (f"authors of the shorter list all found in the longer ({n} of {longer} "
                             f"matched, e.g. {pair})")
    return "partial", n, f"authors partly agree ({n} of {longer} matched, e.g. {pair})"


# --------------------------------------------------------------------------- the decision


def _order_key(p: Prepared) -> tuple:
    r = p.record
    return (r.record_id, r.library, p.title, r.year or 0, p.author_names, r.publisher or "",
            tuple(sorted(p.isbns)), r.pages or 0, r.edition or "")


def _cheap_vetoes(pa: Prepared, pb: Prepared, differing: list[str]) -> list[str]:
    """Year, pages and edition vetoes (compare() states them again in its full reading)."""
    ra, rb = pa.record, pb.record
    found = []
    if ra.year and rb.year and abs(ra.year - rb.year) >= 2:
        found.append(f"veto: years {ra.year} vs {rb.year} differ")
        differing.append("year")
    if ra.pages and rb.pages and abs(ra.pages - rb.pages) > MAX_PAGE_DIFF:
        found.append(f"veto: pages {ra.pages} vs {rb.pages} differ by more than {MAX_PAGE_DIFF}")
        differing.append("pages")
    if pa.edition and pb.edition and pa.edition != pb.edition:
        found.append(f"veto: editions '{ra.edition}' vs '{rb.edition}' differ")
        differing.append("edition")
    return found


def surely_apart(a: CanonicalRecord, year: int | None, pages: int | None, material_type: str | None) -> bool:
    """Whether compare() vetoes ``a`` against any record with this year, pages and material type,
    whatever else they share: lets a caller rule candidates out without reading them whole."""
    return bool((a.year and year and abs(a.year - year) >= 2)
                or (a.pages and pages and abs(a.pages - pages) > MAX_PAGE_DIFF)
                or (a.material_type != material_type and "other" not in (a.material_type, material_type)))


def compare(a: Recordish, b: Recordish, blocked: BlockList = EMPTY, model: MatchModel | None = None,
            full: bool = False) -> Verdict:
    """Same edition, doubtful, or different — with every rule that fired as a reason.

    1. Vetoes (each proves two different books): material type, languages with nothing in
       common (a translation and its original), ISSNs with nothing in common, years two or more
       apart, pages more than 10 apart, different edition numbers, different volumes of a
       multi-volume work (245 $n/$p in any form, 'Tập II' = 'T.2' = 'Tập hai', or 490 $v of a
       series named as the work; even with a shared set ISBN), a different number in the title,
       the same series numbered differently, a title word that differs only in its diacritics,
       titles that differ (two subtitles under one main title differ unless one only adds words
       to the other; titles differ unless one's words are all in the other, in any order),
       authors of whom none match. A shared ISBN/035 number softens a title or author
       contradiction to "doubtful" (the same ISBN is printed on different books), nothing else.
       When every author agrees, titles that differ only as words (three or more, one dropped or
       moved, the other maybe adding a subtitle) are weighed instead of vetoed.
    2. Evidence: each field's comparison level weighs log2(m/u) from the frozen ``model``
       (:mod:`normalizer.match_model`); a field missing on either side weighs 0. The sum decides:
       "same" from ``model.same_at``, "doubtful" from ``model.doubtful_at``. A statement of
       responsibility typed into the title (' / Nguyên Hồng') is cut off, and names the authors
       of a record that has none. A later edition against a record stating none, with a year
       missing or one apart, is "doubtful" at most (a reprint is not told apart otherwise), and
       so are two records a year apart, whatever else agrees.

    ``full``: read every field even after a veto (training needs each pair's whole vector).
    """
    model = model or default_model()
    pa, pb = prepare(a), prepare(b)
    if _order_key(pb) < _order_key(pa):  # one order for every pair: compare(a, b) == compare(b, a)
        pa, pb = pb, pa
    ra, rb = pa.record, pb.record
    reasons: list[str] = []
    differing: list[str] = []
    vetoes: list[str] = []
    soft: list[str] = []  # contradictions a shared identifier turns into "doubtful"
    levels: dict[str, str] = {}
    score = 0.0

    def add(field_name: str, level: str, reason: str) -> None:
        nonlocal score
        levels[field_name] = level
        w = model.weight(field_name, level)
        score += w
        reasons.append(f"{reason} ({w:+.1f})")

    def veto(field_name: str, level: str, reason: str, into: list[str] | None = None) -> None:
        levels[field_name] = level
        (vetoes if into is None else into).append(f"veto: {reason}")

    # identifiers
    isbn_a = {i for i in pa.isbns if not blocked.blocks(i, ra.title)}
    isbn_b = {i for i in pb.isbns if not blocked.blocks(i, rb.title)}
    shared = sorted(isbn_a & isbn_b)
    blocked_shared = sorted((pa.isbns & pb.isbns) - set(shared))
    for i in blocked_shared:
        reasons.append(f"isbn {i} shared but blocked for matching")
    sys_shared = sorted(pa.sysnums & pb.sysnums)
    if shared or sys_shared:
        add("ids", "shared", f"isbn {shared[0]} shared" if shared else f"system number {sys_shared[0]} shared")
    elif isbn_a and isbn_b:
        add("ids", "disjoint", f"isbns differ: {sorted(isbn_a)} vs {sorted(isbn_b)}")
        differing.append("isbns")
    if pa.issns and pb.issns and not pa.issns & pb.issns:
        veto("issns", "differ", f"issns {sorted(pa.issns)} vs {sorted(pb.issns)} have none in common")
        differing.append("issns")

    # material type and language
    ma, mb = ra.material_type, rb.material_type
    if ma != mb and "other" not in (ma, mb):
        veto("material_type", "differ", f"material type {ma} vs {mb}")
        differing.append("material_type")
    if pa.volumes and pb.volumes and pa.volumes != pb.volumes:  # even with a shared (set) ISBN
        veto("volumes", "differ", f"volumes {','.join(pa.volumes)} vs {','.join(pb.volumes)} differ "
             "(two parts of a multi-volume work)")
        differing.append("title")
    if pa.languages and pb.languages and not pa.languages & pb.languages:
        veto("languages", "differ", f"languages {sorted(pa.languages)} vs {sorted(pb.languages)} differ "
             "(a translation and its original are different books)")
        differing.append("languages")

    # a year, pages or edition that proves two books apart ends it here: most candidate pairs
    # are such, and the title and author comparisons are the costly part
    same_record = ra is rb or ra == rb
    if not same_record and not full:
        vetoes += _cheap_vetoes(pa, pb, differing)
        if vetoes:
            return Verdict(DIFFERENT, score, vetoes + reasons, differing, vetoed=True, levels=levels)

    # title (a title that differs is weighed, not vetoed, when the same people wrote both and
    # the titles still agree as words: a short or reworded title)
    level, why = _titles(pa, pb)
    alevel, matched, authors_why = _authors(pa, pb)
    if level == "differ" and alevel == "agree" and (rescued := _title_rescue(pa, pb)):
        level, why = rescued
    if level in ("exact", "near", "partial", "unaccented", "main", "overlap"):
        add("title", level, why)
    elif level == "conflict":
        veto("title", "conflict", why)
    elif (shared or sys_shared) and ra.pages and ra.pages == rb.pages and _words_shared(pa, pb) >= 0.5:
        # the same identifier on a book of the same length: a subtitle given or left out, a word
        # dropped or moved is how two cataloguers transcribed one title page
        add("title", "differ", f"{why}, but an identifier and the page count agree")
    else:
        veto("title", "differ", why, soft)
    if level != "exact":
        differing.append("title")

    # authors
    why = authors_why
    if alevel == "agree":
        add("authors", "agree2" if matched >= 2 else "agree", why)
    elif alevel in ("mostly", "partial"):
        add("authors", alevel, why)
        differing.append("authors")
    elif alevel == "one side":
        reasons.append(f"{why} (+0.0)")  # missing data is neutral
        differing.append("authors")
    elif alevel == "conflict":
        veto("authors", "conflict", why, soft)
        differing.append("authors")

    # year
    at_most_doubtful = None  # why it is "doubtful" at most: a reprint, a generic title, people only partly agreeing
    ya, yb = ra.year, rb.year
    if ya and yb:
        if ya == yb:
            add("year", "equal", f"year {ya} equal")
        elif abs(ya - yb) == 1:
            add("year", "one_apart", f"years {ya} vs {yb} differ by one")
            differing.append("year")
            at_most_doubtful = at_most_doubtful or f"years {ya} and {yb} differ by one (a reprint is a year later)"
        else:
            veto("year", "far", f"years {ya} vs {yb} differ")
            differing.append("year")

    # edition
    if pa.edition and pb.edition and pa.edition != pb.edition:
        veto("edition", "differ", f"editions '{ra.edition}' vs '{rb.edition}' differ")
        differing.append("edition")
    elif pa.edition and pa.edition == pb.edition:
        add("edition", "equal", f"edition {pa.edition} in both")
    elif (ra.edition or rb.edition) and _norm(ra.edition or "") != _norm(rb.edition or ""):
        reasons.append(f"edition '{ra.edition or ''}' vs '{rb.edition or ''}' (not compared)")
        differing.append("edition")
    # a reprint against a record saying no edition, with no year to tell them apart
    if (pa.edition or 0) >= 2 and not rb.edition or (pb.edition or 0) >= 2 and not ra.edition:
        if not (ya and yb) or abs(ya - yb) == 1:
            at_most_doubtful = at_most_doubtful or (f"one record is a later edition ('{ra.edition or rb.edition}'), the other states "
                       f"none, and {'a year is missing' if not (ya and yb) else 'the years differ by one'}")

    # a recurring generic title ('Editorial', 'Book review column', 'Báo cáo thường niên') names
    # many texts: title, people and year agreeing are not enough without an identifier or the pages
    if (_generic_title(pa.title) or _generic_title(pb.title)) and not (shared or sys_shared) and not (
            ra.pages and ra.pages == rb.pages):
        at_most_doubtful = at_most_doubtful or f"the title '{ra.title if _generic_title(pa.title) else rb.title}' is a generic one " \
                             "(many texts bear it) and no identifier or page count agrees"

    # one person among several, the rest named in one record only (a panel, a column with a new
    # guest each time, a co-author catalogued alone): the book's identity needs more
    if alevel == "partial" and not (shared or sys_shared) and not (ra.pages and ra.pages == rb.pages):
        at_most_doubtful = at_most_doubtful or "only some of the people agree, and no identifier or page count does"

    # pages
    if ra.pages and rb.pages:
        if abs(ra.pages - rb.pages) > MAX_PAGE_DIFF:
            veto("pages", "far", f"pages {ra.pages} vs {rb.pages} differ by more than {MAX_PAGE_DIFF}")
            differing.append("pages")
        elif ra.pages == rb.pages:
            add("pages", "equal", f"pages {ra.pages} equal")
        else:
            add("pages", "close", f"pages {ra.pages} vs {rb.pages} close")
            differing.append("pages")

    # publisher
    if pa.publisher and pb.publisher:
        if pa.publisher <= pb.publisher or pb.publisher <= pa.publisher:
            add("publisher", "agree", f"publisher '{ra.publisher}' vs '{rb.publisher}' agree")
        else:
            add("publisher", "differ", f"publisher '{ra.publisher}' vs '{rb.publisher}' differ")
            differing.append("publisher")

    # series
    slevel, why = _series(pa, pb)
    if slevel == "agree":
        add("series", "agree", why)
    elif slevel:
        veto("series", "differ", f"{why} (two volumes of a series)")
        differing.append("series")

    if same_record:
        decision = SAME
        reasons.insert(0, "the same record")
        vetoes = soft = []
    elif vetoes:
        decision = DIFFERENT
    elif soft:
        decision = DOUBTFUL if (shared or sys_shared) else DIFFERENT
        if decision == DOUBTFUL:
            soft = [s.replace("veto: ", "") + " despite the shared identifier" for s in soft]
    elif score >= model.same_at and at_most_doubtful:
        decision = DOUBTFUL
        reasons.append(f"doubtful at most: {at_most_doubtful}")
    elif score >= model.same_at:
        decision = SAME
    elif score >= model.doubtful_at:
        decision = DOUBTFUL
    else:
        decision = DIFFERENT
    reasons = vetoes + soft + reasons
    if not vetoes and not soft:
        reasons.append(f"total {score:+.1f}: same from {model.same_at:.1f}, doubtful from {model.doubtful_at:.1f}")
    return Verdict(decision, score, reasons, differing, vetoed=bool(vetoes or soft), levels=levels)


# levels that prove two books apart whatever else agrees (a title or authors contradiction only
# "doubtful" when an identifier is shared); their learned weights are shown, never summed
VETO_LEVELS = frozenset({"title.differ", "title.conflict", "authors.conflict", "year.far", "edition.differ",
                         "pages.far", "series.differ", "material_type.differ", "languages.differ",
                         "volumes.differ", "issns.differ"})


def explain(verdict: Verdict, lang: str = "en", model: MatchModel | None = None) -> list[str]:
    """One line per field with its signed weight, then the total against the thresholds — in
    Vietnamese (``vi``) from the comparison levels, in English with the detail of each reason."""
    if lang != "vi":
        return list(verdict.reasons)
    model = model or default_model()
    lines = []
    for f, lv in verdict.levels.items():
        text = f"{label(f, 'vi')}: {label(f + '.' + lv, 'vi')}"
        if f"{f}.{lv}" in VETO_LEVELS:
            lines.append(f"{text} — khác sách (phủ quyết)")
        else:
            lines.append(f"{text} ({model.weight(f, lv):+.1f})")
    if not verdict.vetoed:
        lines.append(f"Tổng {verdict.score:+.1f}: trùng từ {model.same_at:.1f}, nghi trùng từ {model.doubtful_at:.1f}")
    return lines


def can_join(candidate: Recordish, members: Sequence[Recordish], blocked: BlockList = EMPTY,
             known: dict[str, Verdict] | None = None, model: MatchModel | None = None) -> Verdict:
    """May ``candidate`` join the cluster ``members``? "same" with at least one member and
    contradicted (vetoed) by none: checked against every member, so A~B and B~C never pull in a
    C that contradicts A. A member that merely says little (no veto, low score) does not stop it.
    The verdict's reasons say which member decided. ``known``: verdicts against members already
    computed by the caller (by member record id), so big clusters are not compared twice."""
    if not members:
        return Verdict(SAME, 0.0, ["empty cluster"], [])
    ids = [m.record.record_id if isinstance(m, Prepared) else m.record_id for m in members]
    known = known or {}
    verdicts = [known.get(rid) or compare(candidate, m, blocked, model) for rid, m in zip(ids, members)]
    for v, rid in zip(verdicts, ids):
        if v.vetoed:
            return Verdict(DIFFERENT, v.score, [f"contradicts member {rid}"] + v.reasons, v.differing,
                           vetoed=True)
    best = max(range(len(verdicts)), key=lambda k: verdicts[k].score)
    same = [k for k, v in enumerate(verdicts) if v.decision == SAME]
    if not same:
        v = verdicts[best]
        return Verdict(DOUBTFUL, v.score, [f"doubtful against every member (best {ids[best]})"] + v.reasons,
                       v.differing)
    k = max(same, key=lambda s: verdicts[s].score)
    v = verdicts[k]
    return Verdict(SAME, v.score, [f"same as member {ids[k]}, contradicts none of {len(members)}"] + v.reasons,
                   v.differing)


def cluster(records: Sequence[Recordish], blocked: BlockList = EMPTY, one_per_source: bool = True,
            pairs: Iterable[tuple[int, int]] | None = None, model: MatchModel | None = None) -> list[list[int]]:
    """Greedy clustering for a full rebuild: "same" pairs, best score first, merge two clusters
    only when no cross pair is vetoed (and, by default, no library would be in it twice).

    Returns lists of indices into ``records``, singletons included, in a stable order.
    """
    prepared = [prepare(r) for r in records]
    if pairs is None:
        pairs = candidate_pairs(prepared, blocked)
    verdicts: dict[tuple[int, int], Verdict] = {}
    edges = []
    for i, j in sorted(pairs):
        v = compare(prepared[i], prepared[j], blocked, model)
        verdicts[(i, j)] = v
        if v.decision == SAME:
            edges.append((-v.score, i, j))
    edges.sort()

    def verdict(i: int, j: int) -> Verdict:
        key = (i, j) if i < j else (j, i)
        if key not in verdicts:
            verdicts[key] = compare(prepared[key[0]], prepared[key[1]], blocked, model)
        return verdicts[key]

    owner = list(range(len(prepared)))
    members = {i: [i] for i in range(len(prepared))}
    for _, i, j in edges:
        ci, cj = owner[i], owner[j]
        if ci == cj:
            continue
        mi, mj = members[ci], members[cj]
        if one_per_source:
            libs = {prepared[k].record.library for k in mi}
            if any(prepared[k].record.library in libs for k in mj):
                continue
        if any(verdict(x, y).vetoed for x in mi for y in mj):
            continue
        if len(mi) < len(mj):
            ci, cj, mi, mj = cj, ci, mj, mi
        mi.extend(mj)
        for k in mj:
            owner[k] = ci
        del members[cj]
    return sorted((sorted(m) for m in members.values()), key=lambda m: m[0])
