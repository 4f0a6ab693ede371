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


def fold(text: str) -> str:
    """Lower-case, ``đ`` -> ``d``, all combining marks removed, NFC, whitespace collapsed."""
    # Marks go first, then the letters NFD keeps whole: "Ǽ" -> "æ" + mark -> "ae" (idempotent).
    decomposed = unicodedata.normalize("NFD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_EXTRA_FOLDS)
    return nfc(stripped)
