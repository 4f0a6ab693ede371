"""ISBN and ISSN clean-up with check-digit verification.

Matching across libraries keys on ISBN-13, so every valid ISBN is turned into that one form and
everything doubtful is kept apart (``invalid_isbns``) rather than guessed at.
"""
from __future__ import annotations

import re

from .text import nfc

# An ISBN-looking run: digits with hyphens/spaces, possibly ending in X. Qualifiers such as
# "(bìa mềm)", "(pbk.)", ": 45000đ" are what follows it and are dropped.
_CANDIDATE = re.compile(r"[0-9](?:[0-9\- ]*[0-9Xx])?")
_SEPARATORS = str.maketrans("", "", "- ")
_DASHES = str.maketrans("\u2010\u2011\u2012\u2013\u2014\u2212\u00ad", "-------")  # typographic hyphens


def valid_isbn10(digits: str) -> bool:
    if len(digits) != 10 or not digits.isascii() or not digits[:9].isdigit() or not (digits[9].isdigit() or digits[9] == "X"):
        return False
    total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9]))
    total += 10 if digits[9] == "X" else int(digits[9])
    return total % 11 == 0


def valid_isbn13(digits: str) -> bool:
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit() or digits[:3] not in ("978", "979"):
        return False
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def isbn10_to_13(digits: str) -> str:
    """ISBN-10 (valid, no hyphens) -> ISBN-13 with its own check digit."""
    body = "978" + digits[:9]
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return body + str(check)


def isbn13_to_10(digits: str) -> str | None:
    """ISBN-13 (978 prefix, no hyphens) -> ISBN-10 with its own check digit; None for 979 ISBNs."""
    if not digits.startswith("978") or len(digits) != 13:
        return None
    body = digits[3:12]
    check = (11 - sum((10 - i) * int(d) for i, d in enumerate(body)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def normalize_isbn(raw: str) -> tuple[str | None, str]:
    """``(isbn13 or None, the ISBN as found with qualifiers cut off)``.

    Accepts what catalogues really hold: "978-604-1-00000-0 (bìa mềm) : 45000đ", "0-85170-577-4",
    "ISBN 8935...". The second value is what an invalid ISBN is reported as.
    """
    text = nfc(raw).translate(_DASHES)
    matches = list(_CANDIDATE.finditer(text))
    if not matches:
        return None, text.strip(" :;,./")
    # "(T. 1) 978-604-..." : the first run of ISBN length, else the first run.
    match = next((m for m in matches if len(m.group().translate(_SEPARATORS)) in (10, 13)), matches[0])
    found = match.group().strip()
    digits = found.translate(_SEPARATORS).upper()
    if len(digits) not in (10, 13):
        # "0851705774 45000" -> the first token alone
        found = found.split(" ")[0]
        digits = found.replace("-", "").upper()
    if len(digits) == 10 and valid_isbn10(digits):
        return isbn10_to_13(digits), found
    if valid_isbn13(digits):
        return digits, found
    return None, found


def normalize_issn(raw: str) -> tuple[str | None, str]:
    """``("1234-5679" or None, as found)``; None when the check digit is wrong."""
    text = nfc(raw)
    match = re.search(r"[0-9]{4}-?[0-9]{3}[0-9Xx]", text)
    if not match:
        return None, text.strip(" :;,.")
    digits = match.group().replace("-", "").upper()
    total = sum(int(d) * (8 - i) for i, d in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    if digits[7] != ("X" if check == 10 else str(check)):
        return None, match.group()
    return digits[:4] + "-" + digits[4:], match.group()
