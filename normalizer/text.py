"""Vietnamese text: one NFC form inside, one folding function for search and keys.

Folding is used for the index, for match keys and for query parsing, so that a patron typing
``truyen kieu`` finds ``Truyện Kiều``. The exact form (marks kept) sits beside it for ranking.
"""
from __future__ import annotations

import re
import unicodedata
from html.entities import html5 as _HTML5

# đ/Đ are letters of their own, not d + a mark: NFD does not decompose them.
_EXTRA_FOLDS = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ı": "i", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss"})


def nfc(text: str) -> str:
    """NFC with collapsed whitespace; the one form text takes inside unioncat."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


# NUL, C0/C1 controls and the bidi embeddings/overrides/isolates (U+202A-202E, U+2066-2069): they
# carry no meaning in a title and can hide or reorder what a page shows. Tab/CR/LF are whitespace.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """``text`` without control and bidi-override characters (NFC, whitespace collapsed, if any were cut)."""
    return nfc(_CONTROLS.sub("", text)) if _CONTROLS.search(text) else text


def exact(text: str) -> str:
    """Lower-cased NFC with marks kept: tells ``dế`` from ``dê`` when ranking."""
    return nfc(text).casefold()


class _FoldTable(dict):
    """Per-character folding, worked out the first time a character is seen (str.translate asks)."""

    def __missing__(self, char: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(char).casefold())
        self[char] = folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_EXTRA_FOLDS)
        return folded


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Lower-case, ``đ`` -> ``d``, all combining marks removed, NFC, whitespace collapsed."""
    # Marks go first, then the letters NFD keeps whole: "Ǽ" -> "æ" + mark -> "ae" (idempotent).
    # Character by character through a table: folding is on the path of every key and query.
    return nfc(text.translate(_FOLD_TABLE))


# A character reference or a named HTML entity, always closed by ";": "AT&T", "R&D" and
# "Q&A" stay as they are. html.unescape would also take "&copy2019" and "&not" without ";".
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));")


def _entity(m: re.Match) -> str:
    decimal, hexadecimal, name = m.groups()
    if name is not None:
        return _HTML5.get(name + ";", m.group(0))
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    # only characters XML allows in text (no NUL, controls, surrogates or beyond Unicode)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return chr(code)
    return m.group(0)


def decode_entities(text: str) -> str:
    """One leftover level of XML/HTML escaping decoded: real exports escape twice, so after XML
    parsing a field reads ``Barnes &amp; Noble`` or ``Ti&#7871;ng Vi&#7879;t``. Exactly one level
    (``&amp;amp;`` -> ``&amp;``); a ``&`` not closed by ``;`` (``AT&T``) stays. Returns NFC."""
    if "&" not in text or ";" not in text:
        return text
    decoded = _ENTITY.sub(_entity, text)
    return nfc(decoded) if decoded != text else text
