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


# -- identifiers as people type them into a search box (the patron search, SRU's bath.isbn) --------------
# "ISBN 978...", "isbn:...", "ISBN-13: ...", "urn:isbn:...", "ISSN 1234-5678"
_QUERY_LABEL = re.compile(r"^\s*(?:urn\s*:\s*)?(isbn|issn)(?:\s*-\s*1[03]|\s+1[03](?=\s*:))?\s*[:=#]?\s*",
                          re.IGNORECASE)  # ("ISBN 10..." is an ISBN starting with 10, "ISBN 10:" a label)
# a run of digits, hyphens and spaces ending in a digit or an X that is not the start of a word
_QUERY_RUN = re.compile(r"[0-9](?:[0-9\- ]*[0-9Xx])?(?![^\W\d_])")
_QUALIFIER = re.compile(r"\s*(?:$|[(\[:;,/.]|[^\W\d_])")  # what may follow: nothing, "(bìa mềm)", "; 45000đ", "pbk"
_ISSN_FORM = re.compile(r"[0-9]{4}-?[0-9]{3}[0-9Xx]")


def parse_identifier(text: str) -> tuple[str, str] | None:
    """``("isbn", ISBN-13)`` or ``("issn", "NNNN-NNNC")`` when ``text`` is one identifier written as people
    write it, else None (then it is words to search for: "Toán 10", "1984").

    ISBNs: 10 or 13 digits with hyphens or spaces or none, a final X, an ``ISBN`` / ``isbn:`` /
    ``urn:isbn:`` label, a trailing qualifier (``9786042123456 (bìa mềm)``, ``... : 45000đ``); the check
    digit must be right, and ISBN-10s become ISBN-13s (the form records keep). ISSNs: ``1234-5678`` or
    ``12345678`` (or labelled ``ISSN``), check digit right, nothing after them but a parenthesis.
    """
    value = nfc(text).translate(_DASHES)
    label = _QUERY_LABEL.match(value)
    kind = label.group(1).lower() if label else None
    rest = value[label.end():] if label else value.lstrip()
    run = _QUERY_RUN.match(rest)
    if not run or not _QUALIFIER.match(rest, run.end()):
        return None
    if kind != "isbn":
        found = run.group().strip()
        if _ISSN_FORM.fullmatch(found) and (not rest[run.end():].strip() or rest[run.end():].lstrip()[:1] == "("):
            issn, _ = normalize_issn(found)
            return ("issn", issn) if issn else None
        if kind == "issn":
            return None
    isbn = _isbn_at_start(run.group())
    return ("isbn", isbn) if isbn else None


def _isbn_at_start(run: str) -> str | None:
    """The ISBN-13 of the run, or of its first words when the rest is something else ("0-85170-577-4 45000")."""
    words = run.split(" ")
    for end in range(len(words), 0, -1):
        digits = "".join(words[:end]).replace("-", "").upper()
        if len(digits) == 13 and valid_isbn13(digits):
            return digits
        if len(digits) == 10 and valid_isbn10(digits):
            return isbn10_to_13(digits)
        if len(digits) < 10:
            break
    return None


def isbn_query_values(text: str) -> list[str]:
    """The ISBN-13s a query term asks for: each space-separated item when every one is an ISBN (several
    ISBNs: "9786042123456 0851705774"), else the whole term as one ISBN in any written form ("978 604 ..."),
    else each item, an ISBN-13 when valid or as typed (hyphens out, X upper-cased: it matches nothing)."""
    items = nfc(text).split()
    each = [parse_identifier(item) for item in items]
    whole = parse_identifier(text) if len(items) > 1 and not all(one and one[0] == "isbn" for one in each) else None
    if whole and whole[0] == "isbn":
        return [whole[1]]
    values = []
    for item, one in zip(items, each):
        value = one[1] if one and one[0] == "isbn" else item.translate(_DASHES).replace("-", "").upper()
        if value not in values:
            values.append(value)
    return values
