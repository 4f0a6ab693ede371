"""Detection and repair of Vietnamese text that arrived in the wrong encoding, field by field and per record.

Old Vietnamese catalogues were typed in TCVN3 (ABC, .VnTime fonts), VNI-Windows or CP1258, and many
exports pass those bytes on as if they were Latin-1/Windows-1252 (``T«i ®i häc``); newer ones turn
UTF-8 into Windows-1252 mojibake (``Nguyá»…n``). Plausibility is the share of the letters in a
text's non-ASCII words that form valid Vietnamese syllables (onset, nucleus, final, one tone mark on
the vowel that carries it, no mixed case inside a word). A field is repaired only when

* the strict UTF-8 reading of its bytes (mojibake, peeled layer by layer) exists and is at least as
  plausible as the text received: 8-bit text is almost never valid UTF-8 by accident; or
* the text received is under ``ORIGINAL_MAX`` (0.75) plausible, and a TCVN3, VNI or CP1258 reading
  is at least ``CANDIDATE_MIN`` (0.8) plausible, ``MARGIN`` (0.3) more than the original, and holds
  two valid words or one of three letters or more ("µm" -> "àm", "Kª" -> "Kê" are not enough),
  and two valid words when the text received could be correct Latin-1 text (only letters: "Lü").

The legacy encoding is decided per record (``decide_record``): a record's fields share one, so a
short field too weak to prove anything alone ("Lª") follows what its long fields show.

So valid Vietnamese (NFC or NFD) is never touched, and non-Vietnamese text (Finnish, French, Cyrillic
read as Latin-1...) is left as it was, because no candidate reads as Vietnamese either. NFD -> NFC is
not a repair: ``text.nfc`` does it everywhere.
"""
from __future__ import annotations

import re
import unicodedata

from .vn_tables import TCVN3, VNI

ORIGINAL_MAX = 0.75
CANDIDATE_MIN = 0.8
MARGIN = 0.3

# Names recorded in CanonicalRecord.repairs[*]["from"].
MOJIBAKE = "UTF-8 mojibake"  # UTF-8 bytes that were decoded as Windows-1252 or Latin-1
UTF8 = "UTF-8"  # a UTF-8 field inside an ISO2709 record that is otherwise MARC-8
ENCODINGS = (MOJIBAKE, "TCVN3", "VNI", "CP1258")

# --- Vietnamese syllables ------------------------------------------------------------------------

_TONE_MARKS = {"\u0300": "huyền", "\u0301": "sắc", "\u0303": "ngã", "\u0309": "hỏi", "\u0323": "nặng"}
_DETONE: dict[int, str] = {}  # toned vowel -> the vowel without its tone (shape marks kept)
_TONE: dict[str, str] = {}  # toned vowel -> tone name
for _base in "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY":
    for _mark, _name in _TONE_MARKS.items():
        _toned = unicodedata.normalize("NFC", _base + _mark)
        _DETONE[ord(_toned)] = _base.lower()
        _TONE[_toned] = _name

_ONSET = "(?:ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdđghklmnprstvx])?"
_OPEN = "iêu|yêu|oai|oao|oay|oeo|uây|uôi|ươi|ươu|uyu|uya|ai|ao|au|ay|âu|ây|eo|êu|ia|iu|oi|ôi|ơi|ui|ưi|ưu|ua|ưa|uơ"
_CLOSED = "uyê|iê|yê|uô|ươ|oă|uâ|ă|â"  # nuclei that need a final consonant
_EITHER = "oa|oe|uê|uy|a|e|ê|i|o|ô|ơ|u|ư|y"  # not "oo" (xoong): loanwords, and TCVN3 misreadings
_CODA = "ch|ng|nh|c|m|n|p|t"
_SYLLABLE = re.compile(f"({_ONSET})(?:({_OPEN})|({_CLOSED})({_CODA})|({_EITHER})({_CODA})?)")
_STOPS = ("c", "ch", "p", "t")  # a syllable closed by these takes only the sắc or nặng tone
# Where the tone mark may sit, as an index into the nucleus. Open nuclei carry it on their first
# vowel (mùa, tẻo, xã: never "xaõ"), triphthongs on the middle one (ngoài, người), closed ones on
# the last (tiếng, muốn, quyển); "oa", "oe", "uy" without a final take either (hóa / hoá).
_TONE_AT = {**{n: (0,) for n in _OPEN.split("|") if len(n) == 2}, **{n: (1,) for n in _OPEN.split("|") if len(n) == 3},
            "uơ": (1,), "uê": (1,), **{n: (len(n) - 1,) for n in _CLOSED.split("|")}}
_EDGE_PUNCT = "!\"#$%&'()*+,./:;<=>?@[\\]^_`{|}~“”‘’–—…"


def is_syllable(word: str) -> bool:
    """One written Vietnamese syllable (NFC, any case): onset + nucleus + coda, one tone at most,
    on the vowel that carries it."""
    word = word.lower()
    toned = [i for i, ch in enumerate(word) if ch in _TONE]
    if len(toned) > 1:
        return False
    m = _SYLLABLE.fullmatch(word.translate(_DETONE))
    if not m:
        return False
    if not toned:
        return True
    onset, open_, closed, closed_coda, either, either_coda = m.groups()
    nucleus = open_ or closed or either
    coda = closed_coda or either_coda or ""
    if coda in _STOPS and _TONE[word[toned[0]]] not in ("sắc", "nặng"):
        return False
    at = toned[0] - len(onset)
    if len(nucleus) == 1:
        return at == 0
    allowed = _TONE_AT.get(nucleus) or ((len(nucleus) - 1,) if coda else (0, 1))
    return at in allowed


def _counts(text: str) -> tuple[int, int, int, int]:
    """(valid, invalid, longest valid, valid words) over the non-ASCII words of NFC ``text``; valid
    and invalid are weighted by length.

    Weighting by letters keeps one-letter words (``à``, ``ô``, often a legacy byte read as a
    Latin-1 letter) from outvoting real words. ASCII words and words without letters (``©2019``,
    ``½``) are neutral: they say nothing about whether the text is Vietnamese.
    """
    good = bad = longest = words = 0
    for token in text.split():
        for word in token.strip(_EDGE_PUNCT).split("-"):
            if word.isascii() or not any(ch.isalpha() for ch in word):
                continue
            if is_syllable(word) and (word.islower() or word.isupper() or word.istitle()):
                good += len(word)
                words += 1
                longest = max(longest, len(word))
            else:
                bad += len(word)
    return good, bad, longest, words


def plausibility(text: str) -> float | None:
    """Share of the non-ASCII words of ``text`` that are Vietnamese syllables; None when there are none."""
    good, bad, _, _ = _counts(unicodedata.normalize("NFC", text))
    return good / (good + bad) if good + bad else None


# --- candidate decodings -------------------------------------------------------------------------

# Text that went through a Latin-1/Windows-1252 decoding holds only these characters; anything else
# (ạ, ơ, đ, Cyrillic, CJK, a combining mark...) means it cannot be re-encoded to its original bytes.
_CP1252_EXTRA = {}
for _b in range(0x80, 0xA0):
    try:
        _CP1252_EXTRA[bytes([_b]).decode("cp1252")] = _b
    except UnicodeDecodeError:
        pass
_TO_BYTE = {**{chr(b): b for b in range(256)}, **_CP1252_EXTRA}
_BEYOND_8BIT = re.compile("[^\x00-\xff%s]" % "".join(_CP1252_EXTRA))
_TCVN3_DECODE = {b: c for b, c in TCVN3.items()}  # str.translate table over Latin-1 characters
_VNI_DECODE = {seq.decode("latin-1"): ch for ch, seq in VNI.items()}
_VNI_RE = re.compile("|".join(re.escape(s) for s in sorted(_VNI_DECODE, key=len, reverse=True)))
_UPPER_WORD = re.compile(r"\S*[A-Z]\S*")


def needs_look(value: str) -> bool:
    """Cheap test for the hot path: could this value be 8-bit bytes read as Latin-1/Windows-1252?"""
    return not value.isascii() and not _BEYOND_8BIT.search(value)


def to_bytes(value: str) -> bytes | None:
    """The bytes a Latin-1/Windows-1252 decoding turned into ``value``; None if it was not one."""
    try:
        return bytes(_TO_BYTE[ch] for ch in value)
    except KeyError:
        return None


def _tcvn3(data: bytes) -> str:
    text = data.decode("latin-1").translate(_TCVN3_DECODE)
    # .VnTimeH (the upper-case TCVN3 font) shows lower-case code points as capitals: "NGUYÔN".
    return _UPPER_WORD.sub(lambda m: m.group().upper() if _all_caps(m.group()) else m.group(), text)


def _all_caps(word: str) -> bool:
    ascii_letters = [ch for ch in word if ch.isascii() and ch.isalpha()]
    return len(ascii_letters) >= 2 and all(ch.isupper() for ch in ascii_letters)


def _vni(data: bytes) -> str:
    return _VNI_RE.sub(lambda m: _VNI_DECODE[m.group()], data.decode("latin-1"))


def _cp1258(data: bytes) -> str | None:
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError:
        return None


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _peel(values: list[str]) -> list[str]:
    """Mojibake of mojibake (real exports have 8 layers): undo layers while they stay strict UTF-8."""
    for _ in range(20):
        raw = [to_bytes(v) for v in values]
        if None in raw or all(b.isascii() for b in raw):
            return values
        again = [_utf8(b) for b in raw]
        if None in again:
            return values
        values = again
    return values


_DECODERS = (("TCVN3", _tcvn3), ("VNI", _vni), ("CP1258", _cp1258))


def _evidence(counts: tuple[int, int, int, int], min_words: int) -> bool:
    """Plausible enough to act on: mostly syllables, ``min_words`` valid words, and either two of
    them or one of three letters or more ("µm" -> "àm", "Kª" -> "Kê" are not enough)."""
    good, bad, longest, words = counts
    if not good or good / (good + bad) < CANDIDATE_MIN or words < min_words:
        return False
    return words >= 2 or longest >= 3


# Letters of the Latin-1/Windows-1252 alphabets (German, French, Nordic, pinyin ü...). Text whose
# non-ASCII characters are all such letters may well be correct non-Vietnamese text ("Lü" is not
# TCVN3 "Lỹ"), so a legacy reading of it needs two valid Vietnamese words, not one.
_LATIN_LETTERS = frozenset("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿŠšŽžŒœŸ")


def _share(counts: tuple[int, int, int, int]) -> float:
    good, bad = counts[:2]
    return good / (good + bad) if good + bad else 0.0


def _nfc_join(values: list[str]) -> str:
    return unicodedata.normalize("NFC", " ".join(values))


def _passes(counts, p0: float, latin: bool) -> bool:
    """The test one reading must pass to replace text that is ``p0`` plausible (see the module doc)."""
    return _evidence(counts, 2 if latin else 1) and _share(counts) >= p0 + MARGIN


class _Field:
    """One field's readings, for the record-level decision."""

    __slots__ = ("original", "counts", "cautious", "readings", "own", "protected")

    def __init__(self, original: list[str], counts, raw: list[bytes], protected: bool, vietnamese: bool = False):
        self.original = original
        self.counts = counts
        # Text that may be right as it is (Latin-1 letters only, or valid MARC-8) is re-read on its own
        # evidence only with two valid Vietnamese words ("Lü" is not TCVN3 "Lỹ", MARC-8 "thī" not "thồi").
        # In a record that is Vietnamese by its other fields, Latin-1 letters in a name are far likelier a
        # legacy encoding shown wrong ("Ñoaøn Kim Oanh" is VNI "Đoàn Kim Oanh") than a foreign name.
        self.cautious = protected or not vietnamese and all(ch in _LATIN_LETTERS for v in original for ch in v
                                                            if ch > "\x7f")
        self.protected = protected
        self.readings = {}  # encoding name -> (values, counts); the original when a decoder gives it back
        for name, decoder in _DECODERS:
            values = [decoder(b) for b in raw]
            if None not in values:
                values = [unicodedata.normalize("NFC", v) for v in values]
                self.readings[name] = (values, self.counts if values == original else _counts(" ".join(values)))
        self.own = self.best(_share(self.counts), self.cautious)

    def best(self, p0: float, latin: bool) -> str | None:
        """The legacy encoding this field alone reads best in, if it passes; a tie (short fields: VNI
        "Vuõ" is also CP1258 "Vuơ") goes to the commoner in Vietnamese libraries: TCVN3, VNI, CP1258."""
        if p0 >= ORIGINAL_MAX:
            return None
        found, key = None, None
        for rank, (name, _) in enumerate(_DECODERS):
            reading = self.readings.get(name)
            if reading and reading[0] != self.original and _passes(reading[1], p0, latin):
                if key is None or (_share(reading[1]), -rank) > key:
                    found, key = name, (_share(reading[1]), -rank)
        return found


def decide_record(fields: list[tuple[list[str], list[bytes]]], protected: list[bool] | None = None,
                  utf8_name: str = MOJIBAKE, vietnamese: bool = False) -> list[tuple[list[str] | None, str | None, str | None]]:
    """The decodings of a record's fields, decided from the evidence of all of them.

    ``fields``: per field, the subfield texts as read (``original``) and their bytes (``raw``).
    ``protected[i]``: field i is valid text in the record's own encoding (MARC-8 with leader/09
    blank): it does not vote for the record's encoding, is re-read on its own evidence only with two
    valid Vietnamese words, and otherwise follows the record.

    Per field: ``(new values, encoding name, None)`` when re-read, ``(None, None, doubt)`` when kept,
    ``doubt`` saying why the field is undecided ("" when it is not).

    A strict UTF-8 reading is decided field by field (merged catalogues hold UTF-8 fields beside
    legacy ones). The legacy encoding is decided for the record: the one all its unprotected fields
    together read best in, by the tests of the module doc; else the one the strongest field alone
    passes. A field then takes its own passing reading, or the record's when the text received is not
    plausible Vietnamese and that reading is more so ("B\xb6o Ninh" is "Bảo Ninh" in a
    TCVN3 record, though 0xB6 is also MARC-8 "œ").
    """
    protected = protected or [False] * len(fields)
    out: list = [(None, None, "")] * len(fields)
    legacy: list[tuple[int, _Field]] = []
    for i, (original, raw) in enumerate(fields):
        if all(b.isascii() for b in raw):
            continue
        counts = _counts(_nfc_join(original))
        # A strict UTF-8 reading of non-ASCII bytes is strong evidence on its own (8-bit text is
        # almost never valid UTF-8: a Latin-1 capital would have to be followed by a symbol), so
        # it is taken unless it reads as less Vietnamese than the original.
        utf8 = [_utf8(b) for b in raw]
        if None not in utf8:
            utf8 = [unicodedata.normalize("NFC", v) for v in _peel(utf8)]
            if utf8 != original and _share(_counts(_nfc_join(utf8))) >= _share(counts):
                out[i] = (utf8, utf8_name, None)
                continue
        if _share(counts) < ORIGINAL_MAX:  # else plausible as it is: no evidence, nothing to re-read
            legacy.append((i, _Field(original, counts, raw, protected[i], vietnamese)))
    if not legacy:
        return out
    record = _record_encoding([f for _, f in legacy])
    for i, f in legacy:
        name = f.own
        reading = f.readings.get(record) if record else None
        if reading and reading[0] != f.original and (
                name is None and reading[1][0] and _share(reading[1]) > _share(f.counts)
                or name and name != record and _passes(reading[1], _share(f.counts), f.cautious)):
            name = record
        if name:
            out[i] = (f.readings[name][0], name, None)
        elif record and reading and reading[0] != f.original:
            out[i] = (None, None, f"the rest of the record is {record}, which reads it {_nfc_join(reading[0])[:60]!r}")
        else:
            hint = f.best(_share(f.counts), False)  # what the field alone would say, without the caution
            out[i] = (None, None, f"{hint} would read {_nfc_join(f.readings[hint][0])[:60]!r}" if hint else "")
    return out


def _record_encoding(fields: list[_Field]) -> str | None:
    """The legacy encoding of a record: the one its unprotected, not already plausible fields pass the
    tests in together, else the one the field with the most Vietnamese letters passes alone, else None."""
    voters = [f for f in fields if not f.protected]
    p0 = _share(_sum([f.counts for f in voters])) if voters else 1.0
    latin = all(f.cautious for f in voters)
    found, key = None, None
    if p0 < ORIGINAL_MAX:
        for rank, (name, _) in enumerate(_DECODERS):
            if all(name in f.readings for f in voters):
                counts = _sum([f.readings[name][1] for f in voters])
                if _passes(counts, p0, latin) and (key is None or (_share(counts), -rank) > key):
                    found, key = name, (_share(counts), -rank)
    if found is None:
        own = [f for f in fields if f.own]
        if own:
            found = max(own, key=lambda f: f.readings[f.own][1][0]).own
    return found


def _sum(counts: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The ``_counts`` of several texts together."""
    return (sum(c[0] for c in counts), sum(c[1] for c in counts), max(c[2] for c in counts),
            sum(c[3] for c in counts))


def decide(original: list[str], raw: list[bytes], utf8_name: str = MOJIBAKE) -> tuple[list[str] | None, str | None]:
    """Pick the decoding of one field's subfield bytes ``raw``, given the ``original`` text read from them.

    Returns ``(new values, encoding name)``, or ``(None, None)`` to keep the original.
    """
    values, name, _ = decide_record([(original, raw)], utf8_name=utf8_name)[0]
    return values, name


def repair_values(values: list[str], utf8_name: str = MOJIBAKE,
                  vietnamese: bool = False) -> tuple[list[str] | None, str | None]:
    """Text-level repair of one field (its subfield values), for text already decoded by someone else;
    ``vietnamese``: the rest of the record is Vietnamese text (see is_vietnamese_text)."""
    new, name, _ = repair_record_values([values], utf8_name, vietnamese)[0]
    return new, name


def repair_record_values(fields: list[list[str]], utf8_name: str = MOJIBAKE,
                         vietnamese: bool = False) -> list[tuple[list[str] | None, str | None, str]]:
    """Text-level repair of a record's fields (each a list of subfield values), decided together
    (``decide_record``): per field ``(new values or None, encoding name or None, doubt or "")``.

    Values that cannot be 8-bit text read as Latin-1 (clean Vietnamese, ASCII) are left as they are
    and the decision is made on the others: a damaged $a beside a clean $c is still found.
    """
    offered, at = [], []
    for values in fields:
        raw = [to_bytes(v) if needs_look(v) else None for v in values]
        at.append([i for i, b in enumerate(raw) if b is not None])
        offered.append(([values[i] for i in at[-1]], [raw[i] for i in at[-1]]))
    out = []
    for values, suspects, (new, name, doubt) in zip(fields, at, decide_record(offered, utf8_name=utf8_name,
                                                                                      vietnamese=vietnamese)):
        if new is None:
            out.append((None, None, doubt or ""))
            continue
        repaired = list(values)
        for i, v in zip(suspects, new):
            repaired[i] = v
        out.append((repaired, name, ""))
    return out


def repair_text(value: str) -> tuple[str, str | None]:
    """``(text, encoding it was repaired from)``; the text unchanged and None when nothing is done."""
    if not needs_look(value):
        return value, None
    new, name = repair_values([value])
    return (new[0], name) if new else (value, None)


def repair_entry(field: str, name: str, before: list[str], after: list[str]) -> dict:
    """One ``CanonicalRecord.repairs`` item: which field, from which encoding, and what it looked like."""
    return {"field": field, "from": name, "before": unicodedata.normalize("NFC", " ".join(before))[:60],
            "after": unicodedata.normalize("NFC", " ".join(after))[:60]}


def undecided_note(field: str, values: list[str], doubt: str) -> str:
    """The warning for a field whose encoding could not be decided (shown by ``unioncat quality``)."""
    return f"encoding of {field} undecided, kept as received: {_nfc_join(values)[:60]!r} ({doubt})"


# Letters only Vietnamese uses (beyond Latin-1 and Windows-1252): text holding them was decoded right.
_VIETNAMESE_ONLY = re.compile("[ăắằẳẵặđơớờởỡợưứừửữựạảấầẩẫậẹẻẽếềểễệỉịọỏốồổỗộụủỳỵỷỹĩũ]", re.IGNORECASE)


def is_vietnamese_text(texts) -> bool:
    """Do these values (a record's other fields) hold Vietnamese correctly decoded?"""
    return any(_VIETNAMESE_ONLY.search(t) for t in texts if t)

