"""Query language and text normalization, independent of the search engine.

`parse_query` turns what a user types into a small tree (`Term`, `Phrase`, `And`, `Or`, `Not`)
whose words are already normalized exactly as the index normalizes page text (`index_tokens`),
so the Whoosh layer only translates nodes and the result layer can find hit words on a line
with the same rules. The syntax, deliberately small and strict so mistakes get a message
instead of a silent surprise:

    august 1934          both words (AND is implied)
    "August 5"           a phrase: the words next to each other, in order
    Aug*                 words starting with "aug";  a?gust  one unknown letter
    Augnst~  Augnst~2    OCR-tolerant: words within 1 (or the given) edit(s)
    a AND b, a OR b, NOT a, (a OR b) AND c      operators in capitals; NOT > AND > OR

Normalization is OCR-minded: Unicode compatibility folding (ligatures such as "ﬁ" become
"fi"), accents removed, case folded, and only runs of letters/digits kept, so "1934." and
"(1934)" both index and match as "1934". There is no stemming: scans hold names, numbers and
codes that stemmers mangle, and fuzzy matching covers the variants users need.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from scandex.errors import QueryError

# A token is a run of letters, digits (and underscores, which \w includes).
WORD_RE = re.compile(r"\w+")
OPERATORS = frozenset({"AND", "OR", "NOT"})
MAX_FUZZY_DISTANCE = 2


def fold(text: str) -> str:
    """Normalize one token: compatibility-decompose, drop accents, casefold."""
    if text.isascii():
        return text.lower()  # the common case, and 10x faster
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def index_tokens(text: str) -> list[str]:
    """The normalized tokens of `text`, exactly as the index stores them."""
    return [token for match in WORD_RE.finditer(text) for token in _split_folded(match.group())]


@functools.lru_cache(maxsize=1 << 16)
def word_tokens(word: str) -> tuple[str, ...]:
    """`index_tokens` of one OCR word, cached: words repeat a lot across the pages of hits."""
    return tuple(index_tokens(word))


def _split_folded(raw: str) -> list[str]:
    if raw.isascii():
        return [raw.lower()]
    # Folding can introduce non-word characters (e.g. "½" -> "1⁄2"), so split again.
    return WORD_RE.findall(fold(raw))


def auto_fuzzy_distance(word: str) -> int:
    """Edit distance that tolerates OCR slips without matching everything: 0, 1 or 2."""
    if len(word) <= 3:
        return 0
    if len(word) <= 7:
        return 1
    return 2


# ----------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Term:
    """One normalized word; `fuzzy` is an edit distance (0 = exact)."""

    text: str
    fuzzy: int = 0
    prefix: bool = False  # "aug*": every indexed word starting with text
    wildcard: bool = False  # text contains ? (one character) or * (any run)


@dataclass(frozen=True)
class Phrase:
    """Words that must appear next to each other, in this order."""

    words: tuple[Term, ...]


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Term | Phrase | And | Or | Not


# ----------------------------------------------------------------------------- lexing


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "phrase", "op", "(", ")"
    text: str
    position: int  # 1-based column in the query, for messages
    fuzzy: int | None = None  # from a trailing ~ or ~N; None = no ~


_SEPARATORS = ' \t\r\n()"'
_FUZZY_SUFFIX_RE = re.compile(r"~(\d*)$")


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i + 1))
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError(f"unclosed quote at column {i + 1}: {query!r}")
            j = end + 1
            suffix = _read_until_separator(query, j)
            fuzzy = _fuzzy_suffix(suffix, query, j) if suffix else None
            if suffix and fuzzy is None:
                raise QueryError(
                    f"unexpected {suffix!r} right after a phrase at column {j + 1}; "
                    f"put a space between them"
                )
            tokens.append(_Token("phrase", query[i + 1 : end], i + 1, fuzzy))
            i = j + len(suffix)
        else:
            word = _read_until_separator(query, i)
            if word in OPERATORS:
                tokens.append(_Token("op", word, i + 1))
            else:
                match = _FUZZY_SUFFIX_RE.search(word)
                fuzzy = _fuzzy_suffix(match.group(), query, i) if match else None
                text = word[: match.start()] if match else word
                tokens.append(_Token("word", text, i + 1, fuzzy))
            i += len(word)
    return tokens


def _read_until_separator(query: str, start: int) -> str:
    end = start
    while end < len(query) and query[end] not in _SEPARATORS:
        end += 1
    return query[start:end]


def _fuzzy_suffix(suffix: str, query: str, start: int) -> int | None:
    """The edit distance a "~" or "~N" suffix asks for; 0 means "choose by length"."""
    match = _FUZZY_SUFFIX_RE.fullmatch(suffix)
    if match is None:
        return None
    if not match.group(1):
        return 0
    distance = int(match.group(1))
    if not 1 <= distance <= MAX_FUZZY_DISTANCE:
        raise QueryError(
            f"fuzzy distance must be 1 or {MAX_FUZZY_DISTANCE} (column {start + 1}): {query!r}"
        )
    return distance


# ----------------------------------------------------------------------------- parsing


class _Parser:
    """Recursive descent over the tokens: or_expr := and_expr (OR and_expr)*, and so on."""

    def __init__(self, query: str, tokens: list[_Token]) -> None:
        self.query = query
        self.tokens = tokens
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, message: str) -> QueryError:
        return QueryError(f"{message}: {self.query!r}")

    def parse(self) -> Node | None:
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            # Only a stray ")" can stop the descent early.
            raise self.fail(f'unmatched ")" at column {token.position}')
        return node

    def or_expr(self) -> Node | None:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "OR":
            self.take()
            self.require_operand("OR", token)
            children.append(self.and_expr())
        return _combine(Or, children)

    def and_expr(self) -> Node | None:
        children = [self.unary()]
        while (token := self.peek()) is not None:
            if token.kind == "op" and token.text == "AND":
                self.take()
                self.require_operand("AND", token)
            elif token.kind == ")" or (token.kind == "op" and token.text == "OR"):
                break
            children.append(self.unary())
        return _combine(And, children)

    def unary(self) -> Node | None:
        token = self.peek()
        if token is None:
            raise self.fail("expected a word or phrase at the end")
        if token.kind == "op":
            if token.text != "NOT":
                raise self.fail(f"{token.text} at column {token.position} needs a word before it")
            self.take()
            self.require_operand("NOT", token)
            child = self.unary()
            return Not(child) if child is not None else None
        return self.primary()

    def primary(self) -> Node | None:
        token = self.take()
        if token.kind == "(":
            if (after := self.peek()) is not None and after.kind == ")":
                raise self.fail(f"empty parentheses at column {token.position}")
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise self.fail(f'missing ")" for the "(" at column {token.position}')
            self.take()
            return node
        if token.kind == ")":
            raise self.fail(f'unmatched ")" at column {token.position}')
        if token.kind == "phrase":
            return _phrase_node(token, self.query)
        return _word_node(token, self.query)

    def require_operand(self, operator: str, token: _Token) -> None:
        after = self.peek()
        if after is None or after.kind == ")" or (after.kind == "op" and after.text != "NOT"):
            raise self.fail(
                f"{operator} at column {token.position} needs a word or phrase after it"
            )


def _combine(kind: type[And] | type[Or], children: list[Node | None]) -> Node | None:
    # Parts that normalize to nothing (punctuation only) drop out of the query.
    kept = tuple(child for child in children if child is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kind(kept)


def _word_node(token: _Token, query: str) -> Node | None:
    raw = token.text
    fuzzy = token.fuzzy
    if "?" in raw or "*" in raw.rstrip("*") or raw.count("*") > 1:
        return _wildcard_node(token, query)
    prefix = raw.endswith("*")
    words = index_tokens(raw[:-1] if prefix else raw)
    if prefix and not words:
        raise QueryError(
            f"a * needs at least one letter or digit before it (column {token.position}): {query!r}"
        )
    if prefix and fuzzy is not None:
        raise QueryError(f"a word cannot be both a prefix (*) and fuzzy (~): {query!r}")
    terms = [_term(word, fuzzy) for word in words]
    if prefix:
        terms[-1] = replace(terms[-1], prefix=True)
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms))


def _wildcard_node(token: _Token, query: str) -> Node:
    if token.fuzzy is not None:
        raise QueryError(f"a word cannot have both wildcards and ~: {query!r}")
    # Keep the wildcard characters and normalize the rest like index text.
    pieces = re.split(r"([?*])", token.text)
    text = "".join(
        piece if piece in ("?", "*") else "".join(index_tokens(piece)) for piece in pieces
    )
    if not text.strip("?*"):
        raise QueryError(
            f"a wildcard needs at least one letter or digit (column {token.position}): {query!r}"
        )
    return Term(text, wildcard=True)


def _phrase_node(token: _Token, query: str) -> Node | None:
    if "*" in token.text or "?" in token.text:
        # Inside quotes these are literal text; say so rather than silently ignore them.
        raise QueryError(
            f"wildcards do not work inside quotes (column {token.position}): {query!r}"
        )
    terms = tuple(_term(word, token.fuzzy) for word in index_tokens(token.text))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else Phrase(terms)


def _term(word: str, fuzzy: int | None) -> Term:
    if fuzzy is None:
        return Term(word)
    # A bare "~" chooses by length, but the user asked for fuzziness, so at least 1.
    return Term(word, fuzzy=fuzzy or max(1, auto_fuzzy_distance(word)))


def parse_query(query: str, *, fuzzy: bool = False) -> Node:
    """The query tree for `query`; `fuzzy` makes every plain word OCR-tolerant.

    Raises QueryError with the column of the problem for unbalanced quotes or parentheses,
    dangling operators, queries without searchable words, and queries that only exclude.
    """
    if not query.strip():
        raise QueryError("empty query: give a word or a phrase to search for")
    node = _Parser(query, _lex(query)).parse()
    if node is None:
        raise QueryError(f"the query has no searchable words (letters or digits): {query!r}")
    if not any(True for _ in positive_leaves(node)):
        raise QueryError(
            f"the query only excludes words (NOT ...); add a word to search for: {query!r}"
        )
    return make_fuzzy(node) if fuzzy else node


def make_fuzzy(node: Node) -> Node:
    """`node` with every exact, plain word made fuzzy by its length."""
    if isinstance(node, Term):
        if node.fuzzy or node.prefix or node.wildcard:
            return node
        return replace(node, fuzzy=auto_fuzzy_distance(node.text))
    if isinstance(node, Phrase):
        return Phrase(tuple(make_fuzzy(word) for word in node.words))  # type: ignore[misc]
    if isinstance(node, And):
        return And(tuple(make_fuzzy(child) for child in node.children))
    if isinstance(node, Or):
        return Or(tuple(make_fuzzy(child) for child in node.children))
    return Not(make_fuzzy(node.child))


def positive_leaves(node: Node) -> Iterator[Term | Phrase]:
    """The words and phrases a hit can contain (everything not under a NOT)."""
    if isinstance(node, Term | Phrase):
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from positive_leaves(child)


# ----------------------------------------------------------------------------- hit words


def match_positions(
    tokens: Sequence[str], patterns: Iterable[Sequence[Container[str]]]
) -> set[int]:
    """Indexes of `tokens` that take part in an occurrence of any pattern.

    A pattern is a sequence of allowed tokens (one container per word of a phrase; a single
    word is a pattern of length one): sets already expanded for fuzzy matches, or anything
    that answers `in` (a prefix, a wildcard).
    """
    hits: set[int] = set()
    for pattern in patterns:
        if not pattern:
            continue
        width = len(pattern)
        starts = [i for i, token in enumerate(tokens) if token in pattern[0]]
        if width == 1:
            hits.update(starts)
            continue
        for start in starts:
            if start + width <= len(tokens) and all(
                tokens[start + k] in pattern[k] for k in range(1, width)
            ):
                hits.update(range(start, start + width))
    return hits
