"""Vietnamese text: one NFC form inside, one folding function for search and keys.

Folding is used for the index, for match keys and for query parsing, so that a patron typing
``truyen kieu`` finds ``Truyện Kiều``. The exact form (marks kept) sits beside it for ranking.
"""
from __future__ import annotations

import unicodedata

# đ/Đ are letters of their own, not d + a mark: NFD does not decompose them.
_EXTRA_FOLDS = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ı": "i", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss"})


def nfc(text: str) -> str:
    """NFC with collapsed whitespace; the one form text takes inside unioncat."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


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
