"""CQL (the Contextual Query Language of SRU, version 1.2): a parser, and its indexes mapped onto the
search engines' fielded queries (``unionapi.search.documents.Query``).

No maintained CQL parser is on PyPI (``cql-parser`` 1.0.2, 2023, calls itself a work in progress) and the
grammar is small, so this is a recursive-descent parser. Whatever it cannot do is a :class:`CQLError`
carrying SRU's own diagnostic (``info:srw/diagnostic/1/<code>``), never another exception.

Terms are folded as the patron search folds them (``normalizer.text.fold``: ``truyen kieu`` finds
``Truyện Kiều``). Relations on the word indexes: ``adj`` (a phrase, the words next to each other in one
title or subject), ``all`` (every word, any order), ``any`` (one of the words), ``==`` / ``exact`` (a whole
title, author or subject), ``=`` (``adj`` for titles and subjects, ``all`` for creators, whose names are
written either way round, and for keywords anywhere). A word ending in ``*`` is truncated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from normalizer.ids import isbn_query_values
from normalizer.text import fold
from unionapi.search.documents import (And, Everything, Not, Or, Prefix, Query, Value, Whole, Words, Years,
                                       value_key, words)

MAX_QUERY_CHARS = 2000
MAX_BOOLEANS = 32
MAX_DEPTH = 16  # nested parentheses
MIN_PREFIX = 2  # characters of a truncated word

MESSAGES = {
    1: "General system error", 2: "System temporarily unavailable", 4: "Unsupported operation",
    5: "Unsupported version", 6: "Unsupported parameter value", 7: "Mandatory parameter not supplied",
    8: "Unsupported parameter", 10: "Query syntax error", 12: "Too many characters in query",
    13: "Invalid or unsupported use of parentheses", 14: "Invalid or unsupported use of quotes",
    16: "Unsupported index", 19: "Unsupported relation", 20: "Unsupported relation modifier",
    22: "Unsupported combination of relation and index", 27: "Empty term unsupported",
    28: "Masking character not supported", 29: "Masked words too short", 31: "Anchoring character not supported",
    33: "Combination of proximity/adjacency and masking characters not supported",
    36: "Term in invalid format for index or relation", 38: "Too many boolean operators in query",
    39: "Proximity not supported", 46: "Unsupported boolean modifier", 48: "Query feature unsupported",
    61: "First record position out of range", 66: "Unknown schema for retrieval", 65: "Record does not exist",
    71: "Unsupported record packing", 72: "XPath retrieval unsupported", 80: "Sort not supported",
    110: "Stylesheets not supported",
}


class CQLError(Exception):
    """An SRU diagnostic: ``code`` in info:srw/diagnostic/1, ``details`` as the diagnostics list says."""

    def __init__(self, code: int, details: str = "", message: str | None = None):
        self.code, self.details = code, details
        self.message = message or MESSAGES.get(code, "Diagnostic")
        super().__init__(f"{self.uri}: {self.message}" + (f" ({details})" if details else ""))

    @property
    def uri(self) -> str:
        return f"info:srw/diagnostic/1/{self.code}"


# -- the parse tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Modifier:
    name: str
    comparitor: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Clause:
    """``index relation term``; a bare term has neither index nor relation. ``term`` is as written
    (backslash escapes and masking characters kept), without its quotes."""
    term: str
    index: str | None = None
    relation: str | None = None
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True)
class Boolean:
    op: str  # and | or | not | prox
    left: "Clause | Boolean"
    right: "Clause | Boolean"
    modifiers: tuple[Modifier, ...] = ()


Node = Clause | Boolean

BOOLEANS = ("and", "or", "not", "prox")
KEYWORDS = (*BOOLEANS, "sortby")
SYMBOLS = ("==", "<>", "<=", ">=", "=", "<", ">")  # longest first
NAMED_RELATIONS = ("adj", "all", "any", "exact", "within", "encloses")
_SPECIAL = set('()=<>"/')


# -- tokens ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str  # word | quoted | symbol
    text: str
    at: int

    @property
    def lower(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


def _tokens(text: str) -> list[_Token]:
    out, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == '"':
            j, chars = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    chars.append(text[j:j + 2])
                    j += 2
                else:
                    chars.append(text[j])
                    j += 1
            if j >= n:
                raise CQLError(14, str(i), "Invalid or unsupported use of quotes: a quoted term is not closed")
            out.append(_Token("quoted", "".join(chars), i))
            i = j + 1
        elif char in "()/":
            out.append(_Token("symbol", char, i))
            i += 1
        elif char in "=<>":
            symbol = next(s for s in SYMBOLS if text.startswith(s, i))
            out.append(_Token("symbol", symbol, i))
            i += len(symbol)
        else:  # a simple string; a backslash escapes the next character here too (a last one stands for itself)
            j, chars = i, []
            while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
                if text[j] == "\\":
                    chars.append(text[j:j + 2] if j + 1 < n else "\\\\")
                    j += 2
                else:
                    chars.append(text[j])
                    j += 1
            out.append(_Token("word", "".join(chars), i))
            i = j
    return out


# -- the parser -------------------------------------------------------------------------------------
def parse(text: str) -> Node:
    """The parse tree of a CQL query; CQLError for anything else (syntax, limits, unsupported features)."""
    if len(text) > MAX_QUERY_CHARS:
        raise CQLError(12, str(MAX_QUERY_CHARS))
    return _Parser(_tokens(text)).whole()


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens, self.i, self.depth, self.booleans = tokens, 0, 0, 0

    def peek(self, k: int = 0) -> _Token | None:
        return self.tokens[self.i + k] if self.i + k < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_symbol(self, k: int, *symbols: str) -> bool:
        token = self.peek(k)
        return token is not None and token.kind == "symbol" and token.text in symbols

    def whole(self) -> Node:
        if not self.tokens:
            raise CQLError(10, "0", "Query syntax error: the query is empty")
        node = self.query()
        token = self.peek()
        if token is not None:
            if token.kind == "symbol" and token.text == ")":
                raise CQLError(13, str(token.at), "Invalid or unsupported use of parentheses: ')' without '('")
            raise CQLError(10, str(token.at), f"Query syntax error: '{token.text}' at character {token.at + 1} "
                                              "was not expected (a boolean such as 'and' is missing?)")
        return node

    def query(self) -> Node:
        if self.is_symbol(0, ">"):
            raise CQLError(48, "prefix assignment", "Query feature unsupported: prefix assignments ('>')")
        node = self.scoped()
        token = self.peek()
        if token is not None and token.lower == "sortby":
            raise CQLError(80, "sortby")
        return node

    def scoped(self) -> Node:
        left = self.clause()
        while (token := self.peek()) is not None and token.lower in BOOLEANS:
            self.take()
            modifiers = self.modifiers()
            self.booleans += 1
            if self.booleans > MAX_BOOLEANS:
                raise CQLError(38, str(MAX_BOOLEANS))
            left = Boolean(token.lower, left, self.clause(), modifiers)
        return left

    def clause(self) -> Node:
        token = self.peek()
        if token is None:
            raise CQLError(10, str(self.end()), "Query syntax error: a search term is missing at the end")
        if token.kind == "symbol":
            if token.text == "(":
                self.take()
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise CQLError(13, str(token.at), f"Invalid or unsupported use of parentheses: more than "
                                                      f"{MAX_DEPTH} levels")
                node = self.query()
                if not self.is_symbol(0, ")"):
                    raise CQLError(13, str(token.at), "Invalid or unsupported use of parentheses: '(' is not closed")
                self.take()
                self.depth -= 1
                return node
            if token.text == ")":
                raise CQLError(13, str(token.at), "Invalid or unsupported use of parentheses: a search term is "
                                                  "missing before ')'")
            raise CQLError(10, str(token.at), f"Query syntax error: '{token.text}' at character {token.at + 1} "
                                              "where a search term was expected")
        if token.kind == "word" and self.is_symbol(1, *SYMBOLS):
            return self.relation_clause()
        following = self.peek(1)
        if (token.kind == "word" and following is not None and following.kind == "word"
                and following.lower not in KEYWORDS and self.peek(2) is not None
                and (following.lower in NAMED_RELATIONS or following.lower.startswith("cql.")
                     or "." in token.text or self.is_symbol(2, "/"))):
            return self.relation_clause()
        self.take()
        return Clause(self.more_words(token))

    def relation_clause(self) -> Clause:
        index = self.take().text
        relation = self.take()
        name = relation.text if relation.kind == "symbol" else relation.lower
        modifiers = self.modifiers()
        token = self.peek()
        if token is None or token.kind == "symbol":
            at = token.at if token is not None else self.end()
            raise CQLError(10, str(at), f"Query syntax error: a search term is missing after '{index} {name}'")
        self.take()
        return Clause(self.more_words(token), index, name, modifiers)

    def more_words(self, token: _Token) -> str:
        """Lenient, as YAZ and cql-go are: ``dc.title = truyen kieu`` reads as ``dc.title = "truyen kieu"``."""
        term = token.text
        if token.kind != "word":
            return term
        while ((nxt := self.peek()) is not None and nxt.kind == "word" and nxt.lower not in KEYWORDS
               and not self.is_symbol(1, *SYMBOLS)):
            term += " " + self.take().text
        return term

    def modifiers(self) -> tuple[Modifier, ...]:
        found = []
        while self.is_symbol(0, "/"):
            slash = self.take()
            name = self.peek()
            if name is None or name.kind != "word":
                raise CQLError(10, str(slash.at), "Query syntax error: a modifier name is missing after '/'")
            self.take()
            if self.is_symbol(0, *SYMBOLS) and (value := self.peek(1)) is not None and value.kind != "symbol":
                comparitor = self.take().text
                self.take()
                found.append(Modifier(name.lower, comparitor, value.text))
            else:
                found.append(Modifier(name.lower))
        return tuple(found)

    def end(self) -> int:
        last = self.tokens[-1] if self.tokens else None
        return last.at + len(last.text) if last else 0


# -- back to text -----------------------------------------------------------------------------------
_SIMPLE = re.compile(r'[^\s()=<>"/]+')


def quote(term: str) -> str:
    """A term as CQL writes it: bare when it can be, else in quotes."""
    if _SIMPLE.fullmatch(term) and term.lower() not in KEYWORDS:
        return term
    return '"' + term + '"'


def _modifiers(modifiers: tuple[Modifier, ...]) -> str:
    return "".join(f"/{m.name}" + (f"{m.comparitor}{quote(m.value)}" if m.comparitor else "") for m in modifiers)


def to_cql(node: Node) -> str:
    """The query as CQL text that parses back into the same tree."""
    if isinstance(node, Clause):
        if node.index is None:
            return quote(node.term)
        return f"{node.index} {node.relation}{_modifiers(node.modifiers)} {quote(node.term)}"
    return f"({to_cql(node.left)}) {node.op}{_modifiers(node.modifiers)} ({to_cql(node.right)})"


# -- indexes: CQL onto the engines' fielded queries ------------------------------------------------------
TEXT_INDEXES = {
    "dc.title": "title", "bath.title": "title", "title": "title",
    "dc.creator": "creator", "dc.author": "creator", "bath.author": "creator", "bath.name": "creator",
    "creator": "creator", "author": "creator",
    "dc.subject": "subject", "bath.subject": "subject", "subject": "subject",
    "cql.anywhere": "any", "cql.serverchoice": "any", "cql.keywords": "any", "anywhere": "any",
    "keywords": "any",
}
VALUE_INDEXES = {"bath.isbn": "isbn", "isbn": "isbn", "rec.id": "id", "id": "id"}
DATE_INDEXES = ("dc.date", "date", "year")
ALL_RECORDS = ("cql.allrecords",)
# what explain lists: (index, title, relations)
EXPLAINED = [
    ("dc.title", "title (words folded: diacritics optional)", "= adj all any == exact"),
    ("dc.creator", "author (also dc.author)", "= adj all any == exact"),
    ("dc.subject", "subject", "= adj all any == exact"),
    ("bath.isbn", "ISBN, 10 or 13 digits, hyphens or spaces allowed", "= == exact any"),
    ("dc.date", "year of publication", "= == < > <= >= <> within"),
    ("rec.id", "union entry id", "= == exact any"),
    ("cql.anywhere", "anywhere (also cql.serverChoice, cql.keywords, a bare term)", "= adj all any"),
    ("cql.allRecords", "every entry (cql.allRecords = 1)", "="),
]
_DEFAULT_EQ = {"title": "adj", "subject": "adj", "creator": "all", "any": "all"}


def to_query(node: Node) -> Query:
    """The engines' fielded query of a parse tree; CQLError for an index, relation or term it cannot search."""
    if isinstance(node, Boolean):
        if node.modifiers:
            raise CQLError(46, node.modifiers[0].name)
        if node.op == "prox":
            raise CQLError(39, "prox")
        left, right = to_query(node.left), to_query(node.right)
        if node.op == "or":
            return Or(_flat(Or, left) + _flat(Or, right))
        if node.op == "not":
            return And(_flat(And, left) + (Not(right),))
        return And(_flat(And, left) + _flat(And, right))
    return _clause(node)


def _flat(kind, query: Query) -> tuple:
    return query.items if isinstance(query, kind) else (query,)


def _clause(clause: Clause) -> Query:
    index = (clause.index or "cql.serverchoice").lower()
    relation = clause.relation or "="
    if relation.startswith("cql."):
        relation = relation[4:]
    if clause.modifiers:
        raise CQLError(20, clause.modifiers[0].name)
    if index in ALL_RECORDS:
        return Everything()
    if index in TEXT_INDEXES:
        return _text(TEXT_INDEXES[index], index, relation, clause.term)
    if index in VALUE_INDEXES:
        return _values(VALUE_INDEXES[index], index, relation, clause.term)
    if index in DATE_INDEXES:
        return _date(index, relation, clause.term)
    raise CQLError(16, clause.index or index)


def _unsupported_relation(index: str, relation: str) -> CQLError:
    if relation in (*SYMBOLS, *NAMED_RELATIONS):
        return CQLError(22, f"{index} {relation}")
    return CQLError(19, relation)


def _check_plain(term: str) -> None:
    """A term without CQL's masking or anchoring characters (escaped ones are plain characters)."""
    unescaped = re.sub(r"\\.", "", term)
    if "^" in unescaped:
        raise CQLError(31, term)
    if "*" in unescaped or "?" in unescaped:
        raise CQLError(28, term)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _text(field: str, index: str, relation: str, term: str) -> Query:
    if relation == "=":
        relation = _DEFAULT_EQ[field]
    if relation in ("==", "exact"):
        if field == "any":
            raise CQLError(22, f"{index} {relation}")
        _check_plain(term)
        key = value_key(_unescape(term))
        if not key:
            raise CQLError(27, term)
        return Whole(field, key)
    if relation not in ("adj", "all", "any"):
        raise _unsupported_relation(index, relation)
    plain, prefixes = _words(term)
    if relation == "any":
        return _one(Or, [Words(field, (w,)) for w in plain] + [Prefix(field, p) for p in prefixes])
    if relation == "adj" and prefixes and len(plain) + len(prefixes) > 1:
        raise CQLError(33, term)
    phrase = relation == "adj" and len(plain) > 1
    found = [Words(field, tuple(plain), phrase)] if plain else []
    return _one(And, found + [Prefix(field, p) for p in prefixes])


def _one(kind, items: list) -> Query:
    return items[0] if len(items) == 1 else kind(tuple(items))


def _words(term: str) -> tuple[list[str], list[str]]:
    """The folded words of a term, and its truncated words (``hist*``) apart; CQLError for other masks."""
    plain, prefixes = [], []
    for raw in re.findall(r'(?:\\.|[^\s\\])+', term):
        unescaped = re.sub(r"\\.", "", raw)
        if "^" in unescaped:
            raise CQLError(31, term)
        truncated = raw.endswith("*") and not raw.endswith("\\*")
        body = raw[:-1] if truncated else raw
        if "*" in re.sub(r"\\.", "", body) or "?" in unescaped:
            raise CQLError(28, term)
        found = words(fold(_unescape(body)))
        if truncated:
            if not found or len(found[-1]) < MIN_PREFIX:
                raise CQLError(29, str(MIN_PREFIX))
            plain += found[:-1]
            prefixes.append(found[-1])
        else:
            plain += found
    if not plain and not prefixes:
        raise CQLError(27, term)
    return plain, prefixes


def _values(field: str, index: str, relation: str, term: str) -> Query:
    if relation not in ("=", "==", "exact", "any"):
        raise _unsupported_relation(index, relation)
    _check_plain(term)
    items = _unescape(term).split()
    if not items:
        raise CQLError(27, term)
    if field == "isbn":  # any written form (normalizer.ids, as the patron search reads one): ISBN-13s
        items = isbn_query_values(_unescape(term))
    return Value(field, tuple(dict.fromkeys(items)))


_YEAR = re.compile(r"\s*(-?\d{1,4})(?:[-/.]\d{1,2}){0,2}\s*")


def _year(term: str) -> int:
    found = _YEAR.fullmatch(_unescape(term))
    if not found:
        raise CQLError(36, term, "Term in invalid format for index or relation: a year is expected, e.g. 2005")
    return int(found.group(1))


def _date(index: str, relation: str, term: str) -> Query:
    _check_plain(term)
    if relation == "within":
        parts = _unescape(term).split()
        if len(parts) != 2:
            raise CQLError(36, term, "Term in invalid format for index or relation: 'within' takes two years, "
                                     "e.g. \"2000 2010\"")
        lo, hi = sorted((_year(parts[0]), _year(parts[1])))
        return Years(lo, hi)
    year = _year(term)
    ranges = {"=": (year, year), "==": (year, year), "exact": (year, year), "<": (None, year - 1),
              "<=": (None, year), ">": (year + 1, None), ">=": (year, None)}
    if relation == "<>":
        return Not(Years(year, year))
    if relation not in ranges:
        raise _unsupported_relation(index, relation)
    return Years(*ranges[relation])


def compile_query(text: str) -> Query:
    """CQL text -> the engines' query (CQLError with SRU's diagnostic for anything it cannot search)."""
    return to_query(parse(text))
