"""Text normalisation, tokenising and typo-tolerant vocabulary lookup.

Every scorer in grader sees answers through this module, so the same text always becomes
the same token stream: words are lower-cased, stemmed (Snowball) and, where a word is not in
the rubric's vocabulary, mapped to the closest vocabulary word when the two differ only by a
typo ("drfit" -> "drift"). Numbers stay exact: "0.78" never fuzzily matches "0.87".

>>> [t.term for t in tokenize("Drift detection is dissabled (score 0.12)")]
['drift', 'detect', 'dissabl', 'score', '0.12']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

import snowballstemmer
from rapidfuzz import fuzz, process

__all__ = [
    "STOPWORDS",
    "Lexicon",
    "Token",
    "clean",
    "fold_accents",
    "is_number",
    "scan",
    "stem",
    "tokenize",
    "tricks",
    "terms",
    "word_count",
]

# Function words carry no evidence. Negations and "off" stay: "drift detection off" matters.
STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as into onto over
    is are was were be been being am do does did doing have has had having this that these
    those it its it's i me my we our us you your he she they them their there here what which
    who whom whose when where why how so such than too very can could should would will shall
    may might must just also about after before again all any both each few more most other
    some own same only up down out s t d ll m re ve let lets i'm we'd i'd we'll i'll""".split()
)

# Numbers, words, and numbers written ".78" (read as 0.78; not the "2" of "v.2"). The
# rare form comes last so that the common ones are tried first at every position.
_TOKEN_RE = re.compile(
    r"\d+(?:[.,]\d+)*(?:\s?%)?|[^\W\d_]+(?:'[^\W\d_]+)?|\.(?<![\w.]\.)\d+(?:\s?%)?",
    re.UNICODE,
)
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+$")
# One character for one, so offsets into cleaned text still point at the learner's words.
_PUNCT = (
    ("\u2013", "-"),
    ("\u2014", "-"),
    ("\u2212", "-"),
    ("\u2018", "'"),
    ("\u2019", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
)
_STEMMER = snowballstemmer.stemmer("english")
_PERCENT = frozenset({"percent", "pct"})
# Raw word -> its term ("" for a stopword). A pure function of the word, so caching it across
# answers changes nothing but speed.
_TERM_CACHE: dict[str, str] = {}


class Token(NamedTuple):
    """One word or number of a text: its normalised term and where it stands."""

    term: str
    start: int
    end: int
    stop: bool = False


# Characters a reader never sees: zero-width spaces and joiners, word joiner, BOM, soft hyphen,
# bidi controls. Inside a word they only break matching ("dr\u200bift"), so they go.
_INVISIBLE_RE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Cyrillic and Greek letters that look like Latin ones. In a word that mixes them with Latin
# letters (a copy-paste across keyboards, or an attempt to dodge matching) they are read as
# the Latin letter; words written wholly in Cyrillic or Greek are left as they are.
_CONFUSABLE = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u04bb\u0501"
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0406"
    "\u03bf\u03b1\u03b5\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5\u03c7"
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
    "aeopcyxijshdABEKMHOPCTXIoaeiknptuxABEZHIKMNOPTYX",
)
_MIXED_WORD_RE = re.compile(r"[^\W\d_]*[\u0370-\u03ff\u0400-\u04ff][^\W\d_]*")
_GREEK_CYRILLIC_RE = re.compile("[\u0370-\u03ff\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z]")


def _fold_confusables(text: str) -> str:
    def fold(m: re.Match[str]) -> str:
        word = m.group(0)
        return word.translate(_CONFUSABLE) if _LATIN_RE.search(word) else word

    return _MIXED_WORD_RE.sub(fold, text)


def clean(text: str) -> str:
    """Unicode-normalise text (NFKC), drop invisible characters, read look-alike letters in
    Latin words as Latin, and map typographic dashes and quotes to ASCII ones."""
    if not text.isascii():
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        if _INVISIBLE_RE.search(text):
            text = _INVISIBLE_RE.sub("", text)
        for char, ascii_char in _PUNCT:
            if char in text:
                text = text.replace(char, ascii_char)
        if _GREEK_CYRILLIC_RE.search(text):
            text = _fold_confusables(text)
    return text


@lru_cache(maxsize=8192)
def fold_accents(text: str) -> str:
    """text without its accents ("Étape" -> "Etape"), for matching section words."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ß", "ss")


def tricks(text: str) -> int:
    """How many invisible characters and look-alike letters inside Latin words text holds."""
    if text.isascii():
        return 0
    count = len(_INVISIBLE_RE.findall(text))
    if not _GREEK_CYRILLIC_RE.search(text):
        return count
    for m in _MIXED_WORD_RE.finditer(text):
        if _LATIN_RE.search(m.group(0)):
            count += sum(1 for ch in m.group(0) if "\u0370" <= ch <= "\u04ff")
    return count


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball stem of a lower-case word; numbers pass through unchanged."""
    if word[0].isdigit():
        return word
    return str(_STEMMER.stemWord(word))


def is_number(term: str) -> bool:
    return term[:1].isdigit()


def _number_term(raw: str) -> str:
    raw = raw.replace(" ", "")
    if raw[0] == ".":
        raw = "0" + raw
    digits = raw.rstrip("%")
    if _THOUSANDS_RE.match(digits):
        digits = digits.replace(",", "")
    else:
        digits = digits.replace(",", ".")
    return digits + ("%" if raw.endswith("%") else "")


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[Token]:
    """Split cleaned text into stemmed word and number tokens with their offsets.

    "15 percent" becomes the single term "15%", so "15%" in a rubric matches either.
    """
    out: list[Token] = []
    append = out.append
    cache = _TERM_CACHE
    for m in _TOKEN_RE.finditer(text):
        raw = m.group(0)
        if raw[0].isdigit() or raw[0] == ".":
            append(Token(_number_term(raw), m.start(), m.end()))
            continue
        term = cache.get(raw)
        if term is None:
            word = raw.lower()
            term = "" if word in STOPWORDS else stem(word)
            if len(cache) > 200_000:
                cache.clear()
            cache[raw] = term
        if not term:
            if keep_stopwords:
                append(Token(raw.lower(), m.start(), m.end(), True))
            continue
        if term in _PERCENT and out and is_number(out[-1].term):
            prev = out[-1]
            if not prev.term.endswith("%"):
                out[-1] = Token(prev.term + "%", prev.start, m.end())
            continue
        append(Token(term, m.start(), m.end()))
    return out


def scan(text: str) -> tuple[list[str], list[int], list[int], int]:
    """Terms, start and end offsets of the content tokens, and the count of all words.

    The same tokens as :func:`tokenize` without building a Token per word: the hot path of
    grading reads every answer through it once.
    """
    out_terms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    words = 0
    cache = _TERM_CACHE
    for m in _TOKEN_RE.finditer(text):
        words += 1
        raw = m.group(0)
        if raw[0].isdigit() or raw[0] == ".":
            term = _number_term(raw)
        else:
            cached = cache.get(raw)
            if cached is None:
                word = raw.lower()
                cached = "" if word in STOPWORDS else stem(word)
                if len(cache) > 200_000:
                    cache.clear()
                cache[raw] = cached
            term = cached
            if not term:
                continue
            if term in _PERCENT and out_terms and is_number(out_terms[-1]):
                if not out_terms[-1].endswith("%"):
                    out_terms[-1] += "%"
                    ends[-1] = m.end()
                continue
        out_terms.append(term)
        starts.append(m.start())
        ends.append(m.end())
    return out_terms, starts, ends, words


def terms(text: str) -> list[str]:
    """Just the terms of :func:`tokenize`, for when offsets are not needed."""
    return [t.term for t in tokenize(text)]


def word_count(text: str) -> int:
    """Number of words and numbers in text, stopwords included."""
    return len(_TOKEN_RE.findall(text))


def _synonyms_for(vocabulary: frozenset[str], classes: Mapping[str, str]) -> dict[str, str]:
    """Term -> the vocabulary's own word of its synonym class (``classes`` maps each term to
    its class's name), for terms the vocabulary lacks; classes it has no word of are left
    out, so a synonym never takes a word away from its typo lookup."""
    present: dict[str, str] = {}
    for term in sorted(vocabulary):
        if term in classes:
            present.setdefault(classes[term], term)
    return {
        term: present[head]
        for term, head in classes.items()
        if head in present and term not in vocabulary
    }


class Lexicon:
    """A fixed vocabulary of stemmed terms with typo-tolerant lookup.

    The vocabulary comes from rubric data only, so a term's canonical form depends on the
    term and the rubric, never on earlier submissions; the cache merely remembers answers.

    >>> lex = Lexicon(["drift", "schema", "disabl"])
    >>> lex.canonical("drfit"), lex.canonical("schemas"), lex.canonical("churn")
    ('drift', 'schema', 'churn')
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        *,
        min_length: int = 5,
        cutoff: float = 80.0,
        synonyms: Mapping[str, str] | None = None,
    ):
        if not 0 < cutoff <= 100:
            raise ValueError(f"cutoff must be in (0, 100], got {cutoff!r}")
        self.vocabulary_ = frozenset(t for t in vocabulary if t)
        self.synonyms = _synonyms_for(self.vocabulary_, synonyms or {})
        self.min_length = min_length
        self.cutoff = cutoff
        self._by_length: dict[int, list[str]] = {}
        for t in sorted(self.vocabulary_):
            if not is_number(t):
                self._by_length.setdefault(len(t), []).append(t)
        self._cache: dict[str, str] = {}

    def canonical(self, term: str) -> str:
        """The vocabulary term that term is a typo of, or term itself."""
        hit = self._cache.get(term)
        if hit is None:
            if term in self.synonyms:
                hit = self.synonyms[term]
            elif term in self.vocabulary_ or len(term) < self.min_length or is_number(term):
                hit = term
            else:
                hit = self._closest(term)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[term] = hit
        return hit

    def _closest(self, term: str) -> str:
        n = len(term)
        candidates = [
            c
            for k in range(n - 2, n + 3)
            if k >= self.min_length - 1
            for c in self._by_length.get(k, ())
        ]
        if not candidates:
            return term
        # Shorter words need a closer match: one slip in five letters is a typo, two is a new word.
        cutoff = max(self.cutoff, 100.0 - 100.0 / n) if n < 7 else self.cutoff
        best = process.extractOne(term, candidates, scorer=fuzz.ratio, score_cutoff=cutoff)
        if best is None:
            return term
        # Ties break on the alphabetically first candidate (candidates are sorted), so the
        # mapping is deterministic.
        return str(best[0])

    def canonical_terms(self, tokens: Iterable[Token]) -> list[str]:
        return [self.canonical(t.term) for t in tokens]

    def canonical_list(self, terms_: list[str]) -> list[str]:
        """Canonical forms of many terms: one dict lookup each once they have been seen."""
        cache, canonical = self._cache, self.canonical
        return [cache.get(t) or canonical(t) for t in terms_]
