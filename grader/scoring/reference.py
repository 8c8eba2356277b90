"""Reference-answer grading: features of a short answer measured against instructor answers.

A :class:`ReferenceModel` is built from one question's reference answer(s) (and, optionally,
the question text) and from nothing else: its TF-IDF statistics, its concepts and its typo
lexicon all come from rubric text, never from learners' answers, so the same answer always
gets the same features for the same references.

Derived concepts are the key phrases of the references (runs of content words between
stopwords and punctuation, as in RAKE), weighted by the inverse document frequency of their
terms over the reference's sentences. Terms the question already contains weigh half: an
answer that merely restates the question should not look like one that explains it.

:meth:`ReferenceModel.features` returns a fixed, named feature vector (:data:`FEATURES`);
:mod:`grader.scoring.calibration` maps it to a fraction of the points
(:meth:`ReferenceModel.points` does both). :meth:`ReferenceModel.evidence` says which
concepts an answer covers (quoting it) and which it misses, for feedback.

Features: ``coverage`` is the weighted share of a reference's concept terms found in the
answer (typos forgiven through the lexicon; the best reference counts), ``coverage_log`` and
``coverage_sqrt`` are concave transforms of it (the first concepts found tell a wrong answer
from a partly right one). ``empty``, ``off_topic`` (no concept term at all),
``unrelated`` (that, and hardly a word in common with the references: the only one of the
two that pins a grade) and
``question_copy`` (a restated question, nothing added) are 0/1 indicators the calibration
turns into a zero grade. The rest are measured for diagnostics and other calibrations:
word and character n-gram TF-IDF cosines, reference-bigram coverage, log length ratio,
rapidfuzz token-set similarity and the share of answer terms found only in the question.

Long because: :class:`ReferenceModel` is one fitted object whose parts (TF-IDF state,
concepts, enumerated items, evidence quotes) share the same vocabulary and term weights;
the helpers below it are its own.

>>> model = ReferenceModel(["Diameter decreases by a factor of 10, e.g. 300m to 30m."])
>>> round(model.features("The diameter decreases tenfold")["coverage"], 2)
0.33
>>> [c.label for c in model.evidence("The diameter decreases").found]
['Diameter decreases']
>>> model.points("It gets bigger", points=2.0)
0.0
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from rapidfuzz import fuzz

from grader.scoring.calibration import DEFAULT_CALIBRATION, LinearCalibration
from grader.scoring.synonyms import SYNONYMS
from grader.scoring.text import STOPWORDS, Lexicon, Token, clean, stem, tokenize

__all__ = [
    "FEATURES",
    "PLACEHOLDER_ANSWERS",
    "Concept",
    "ConceptHit",
    "ReferenceEvidence",
    "ReferenceModel",
    "is_empty_answer",
]

#: Names of the features :meth:`ReferenceModel.features` returns, in this order.
FEATURES: tuple[str, ...] = (
    "empty",
    "off_topic",
    "unrelated",
    "question_copy",
    "coverage",
    "coverage_log",
    "coverage_sqrt",
    "word_cosine",
    "char_cosine",
    "bigram_coverage",
    "length_ratio",
    "token_set",
    "question_overlap",
)

#: Answers that say "I have no answer". They score nothing however the references read.
PLACEHOLDER_ANSWERS = frozenset(
    {
        "",
        "no response",
        "no answer",
        "no submission",
        "empty",
        "empty submission",
        "empty response",
        "empty answer",
        "none",
        "n a",
        "na",
        "idk",
        "i don t know",
        "i dont know",
        "don t know",
        "dont know",
        "no idea",
    }
)

# Weight of a concept term the question already contains (copying the question must not pay).
_QUESTION_TERM_FACTOR = 0.5
# An answer sharing no concept term with the references *and* this few of their words at all
# (rapidfuzz token_set_ratio / 100) is unrelated: clear evidence, unlike a mere absence of the
# references' key terms, which also happens to honest answers in other words.
_UNRELATED_TOKEN_SET = 0.3
# An answer this similar to the question (rapidfuzz token_set_ratio; 100 when one's words are
# a subset of the other's) that covers nothing the question does not is a copy of it.
_COPY_SIMILARITY = 90.0
# coverage_log = ln(1 + coverage / eps) / ln(1 + 1 / eps): steep near zero, where the first
# few concepts an answer hits separate a wrong answer from a partly right one.
_LOG_EPS = 0.01
# Longest key phrase, in content terms; longer runs are cut into pieces of this size.
_MAX_PHRASE_TERMS = 4
# A concept counts as found when this share of its weight appears in the answer.
_FOUND_SHARE = 0.5
_QUOTE_CHARS = 80
_CHAR_NGRAMS = (3, 5)
# "Name two challenges", "state at least 4 differences": how many of a reference's listed
# alternatives the question asks for.
_ASKED_RE = re.compile(
    r"\b(?:at least|name|state|give|list|describe|mention)\b[^.?!]{0,25}?"
    r"\b(\d{1,2}|one|two|three|four|five|six)\b",
    re.I,
)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
# A reference that offers alternatives rather than one answer.
_ALTERNATIVES_RE = re.compile(r"\bpossible\b|\bone of the following\b", re.I)
# Items of a listed reference: "1." / "2)" enumerations, bullets, "-item" dashes.
_ITEM_RE = re.compile(r"(?:(?<=\s)|^)(?:\d+[.)]|[\u25cf\u2022\u25aa]|-(?=\S))\s*")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
# Illustrations ("e.g. 300m to 30m"): terms found only in them weigh this share, since an
# answer that states the point without the reference's example is not missing the point.
_EXAMPLE_RE = re.compile(r"\b(?:e\.\s?g\.?|for example|for instance|i\.\s?e\.)[^.;:]*", re.I)
_EXAMPLE_FACTOR = 0.5

# Sentence ends, clause colons/semicolons, list bullets and "1." / "2)" / "ii)" enumerations.
_SEGMENT_RE = re.compile(
    r"(?<=[.!?;:])\s+|[\u25cf\u25cb\u2022\n]+|\s+-(?=\w)|(?:^|\s)(?=(?:\d{1,2}|[ivx]{1,4})[.)]\s?[A-Za-z])"
)
# Discourse and filler words: they still count towards coverage (dropping them from the
# weights loses agreement on SAF), but a concept shown as feedback neither starts nor ends
# with one, and a concept made only of them is not shown at all.
_FILLER = frozenset(
    stem(w)
    for w in """actually additionally also alternatively always another basically because
    called certain clearly consider considered correct correctly different done due e eg
    either else enough especially essentially etc even every example examples exactly
    following follows furthermore g generally get gets given however i ie including instead
    less like likely made make makes many mean means much must namely necessary need needed
    needs often one otherwise possible possibly probably rather result results said see seen
    several simply since still such take thus therefore typically until usually various via
    way whereas whether while within""".split()
)
# Anything but letters, digits, spaces, apostrophes and hyphens breaks a key phrase.
_PHRASE_BREAK_RE = re.compile(r"[^\w\s'\-]")
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Concept:
    """A key phrase of the references: its stemmed terms, a readable label and a weight."""

    label: str
    terms: tuple[str, ...]
    weight: float


@dataclass(frozen=True, slots=True)
class ConceptHit:
    """A concept the answer covers, with the stretch of the answer that shows it."""

    label: str
    weight: float
    share: float
    quote: str


@dataclass(frozen=True, slots=True)
class ReferenceEvidence:
    """What an answer covers of the references and what it misses, heaviest concepts first."""

    found: tuple[ConceptHit, ...]
    missing: tuple[Concept, ...]
    coverage: float
    empty: bool


def is_empty_answer(answer: str) -> bool:
    """True for blank answers and placeholders such as "No response." or "n/a"."""
    words = " ".join(_LETTERS_RE.findall(clean(answer).lower()))
    return words in PLACEHOLDER_ANSWERS or not tokenize(clean(answer))


def _segments(text: str) -> list[str]:
    """Sentences, clauses and list items of a reference: the documents its IDF counts over."""
    return [s.strip() for s in _SEGMENT_RE.split(text) if s and s.strip()]


def _char_ngrams(text: str) -> list[str]:
    """Character n-grams inside word boundaries, like scikit-learn's ``char_wb`` analyzer."""
    lo, hi = _CHAR_NGRAMS
    out: list[str] = []
    for word in _WORD_RE.findall(text.lower()):
        padded = f" {word} "
        for n in range(lo, hi + 1):
            if len(padded) < n:
                break
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


class _Tfidf:
    """Smoothed, sublinear TF-IDF over a fixed vocabulary, L2-normalised.

    Mirrors scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``: ``idf = ln((1+n)/(1+df))+1``.
    Vectors are sparse dicts, so scoring one short answer costs microseconds, not a matrix.
    """

    def __init__(self, documents: Sequence[Sequence[str]]):
        df = Counter(t for doc in documents for t in set(doc))
        n = len(documents)
        self.vocabulary_: dict[str, int] = {t: i for i, t in enumerate(sorted(df))}
        self.idf_: tuple[float, ...] = tuple(
            math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(df)
        )

    def idf(self, term: str) -> float:
        return self.idf_[self.vocabulary_[term]]

    def transform(self, terms: Iterable[str]) -> dict[str, float]:
        vec: dict[str, float] = {}
        for term, count in Counter(terms).items():
            index = self.vocabulary_.get(term)
            if index is not None:
                vec[term] = (1.0 + math.log(count)) * self.idf_[index]
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


class ReferenceModel:
    """Everything needed to score answers to one question, fitted on its rubric text only.

    Attributes (scikit-learn style, set at construction):

    ``vocabulary_`` / ``idf_``
        word TF-IDF state (stemmed terms; documents = reference and question sentences);
    ``char_vocabulary_`` / ``char_idf_``
        character n-gram TF-IDF state of the same documents;
    ``concepts_``
        derived key phrases with weights, heaviest first;
    ``term_weights_``
        weight of each concept term (IDF, halved for terms of the question);
    ``lexicon_``
        typo-tolerant lookup over reference and question terms.
    """

    def __init__(self, references: Sequence[str], question: str | None = None):
        if isinstance(references, str) or not references:
            raise ValueError("references must be a non-empty list of strings")
        if not all(isinstance(r, str) for r in references):
            raise ValueError("references must contain only strings")
        if question is not None and not isinstance(question, str):
            raise ValueError(f"question must be a string or None, got {type(question).__name__}")
        self.references: tuple[str, ...] = tuple(clean(r) for r in references)
        self.question: str = clean(question or "")
        if not any(tokenize(r) for r in self.references):
            raise ValueError("references contain no content words")

        vocabulary = [t.term for r in self.references for t in tokenize(r)]
        question_tokens = tokenize(self.question)
        self.lexicon_ = Lexicon(vocabulary + [t.term for t in question_tokens], synonyms=SYNONYMS)

        ref_segments = [s for r in self.references for s in _segments(r)]
        question_segments = _segments(self.question)
        documents = [self._terms(s) for s in ref_segments + question_segments]
        self._word = _Tfidf([d for d in documents if d])
        self._char = _Tfidf([_char_ngrams(s) for s in ref_segments + question_segments])

        self._ref_terms = [self._terms(r) for r in self.references]
        self._ref_vectors = [self._word.transform(t) for t in self._ref_terms]
        self._ref_char_vectors = [self._char.transform(_char_ngrams(r)) for r in self.references]
        self._ref_bigrams = [frozenset(zip(ts, ts[1:], strict=False)) for ts in self._ref_terms]
        self._ref_length = sum(len(t) for t in self._ref_terms) / len(self._ref_terms)
        self._ref_set = frozenset(t for ts in self._ref_terms for t in ts)
        self._question_set = frozenset(self._terms(self.question))
        self._question_only = self._question_set - self._ref_set

        self.term_weights_: dict[str, float] = {
            t: self._word.idf(t) * (_QUESTION_TERM_FACTOR if t in self._question_set else 1.0)
            for t in sorted(self._ref_set)
        }
        # Each reference is an alternative: an answer is measured against the one it covers best.
        self._ref_weights = [
            self._weights(reference, ts)
            for reference, ts in zip(self.references, self._ref_terms, strict=True)
        ]
        asked = _asked(self.question)
        self._ref_items = [self._items(r, asked) for r in self.references]
        self.concepts_: tuple[Concept, ...] = self._derive_concepts()
        self._question_coverage = self._coverage(self._question_set)

    # -- fitted state, scikit-learn style -------------------------------------------------

    @property
    def vocabulary_(self) -> dict[str, int]:
        return self._word.vocabulary_

    @property
    def idf_(self) -> tuple[float, ...]:
        return self._word.idf_

    @property
    def char_vocabulary_(self) -> dict[str, int]:
        return self._char.vocabulary_

    @property
    def char_idf_(self) -> tuple[float, ...]:
        return self._char.idf_

    # -- scoring ---------------------------------------------------------------------------

    def features(self, answer: str) -> dict[str, float]:
        """Named features of an answer, in :data:`FEATURES` order; all 0 but ``empty`` for
        blank or placeholder answers."""
        if not isinstance(answer, str):
            raise ValueError(f"answer must be a string, got {type(answer).__name__}")
        text = clean(answer)
        if is_empty_answer(text):
            return dict.fromkeys(FEATURES, 0.0) | {"empty": 1.0}
        terms = self._terms(text)
        present = set(terms)
        coverage = self._coverage(present)
        vector = self._word.transform(terms)
        char_vector = self._char.transform(_char_ngrams(text))
        bigrams = set(zip(terms, terms[1:], strict=False))
        lowered = text.lower()
        token_set = max(fuzz.token_set_ratio(lowered, r.lower()) for r in self.references) / 100.0
        copied = (
            bool(self.question)
            and coverage <= self._question_coverage + 1e-12
            and fuzz.token_set_ratio(lowered, self.question.lower()) >= _COPY_SIMILARITY
        )
        values = {
            "empty": 0.0,
            "off_topic": 1.0 if coverage == 0.0 else 0.0,
            "unrelated": 1.0 if coverage == 0.0 and token_set < _UNRELATED_TOKEN_SET else 0.0,
            "question_copy": 1.0 if copied else 0.0,
            "coverage": coverage,
            "coverage_log": math.log1p(coverage / _LOG_EPS) / math.log1p(1.0 / _LOG_EPS),
            "coverage_sqrt": math.sqrt(coverage),
            "word_cosine": max(_cosine(vector, r) for r in self._ref_vectors),
            "char_cosine": max(_cosine(char_vector, r) for r in self._ref_char_vectors),
            "bigram_coverage": max(
                (len(bigrams & b) / len(b) for b in self._ref_bigrams if b), default=0.0
            ),
            "length_ratio": math.log((1 + len(terms)) / (1 + self._ref_length)),
            "token_set": token_set,
            "question_overlap": (
                sum(1 for t in terms if t in self._question_only) / len(terms) if terms else 0.0
            ),
        }
        return {name: float(values[name]) for name in FEATURES}

    def points(
        self, answer: str, *, points: float = 1.0, calibration: LinearCalibration | None = None
    ) -> float:
        """Grade in [0, points]: the features mapped by ``calibration`` (default: the one
        fitted on SAF, :data:`~grader.scoring.calibration.DEFAULT_CALIBRATION`)."""
        calibration = DEFAULT_CALIBRATION if calibration is None else calibration
        return calibration.points(self.features(answer), points)

    def evidence(self, answer: str) -> ReferenceEvidence:
        """Concepts the answer covers (with a short quote from it) and those it misses."""
        if not isinstance(answer, str):
            raise ValueError(f"answer must be a string, got {type(answer).__name__}")
        text = clean(answer)
        if is_empty_answer(text):
            return ReferenceEvidence((), self.concepts_, 0.0, True)
        tokens = tokenize(text)
        canon = self.lexicon_.canonical_terms(tokens)
        positions: dict[str, list[Token]] = {}
        for term, token in zip(canon, tokens, strict=True):
            positions.setdefault(term, []).append(token)
        found: list[ConceptHit] = []
        missing: list[Concept] = []
        for concept in self.concepts_:
            weights = [self.term_weights_[t] for t in concept.terms]
            hit = sum(w for t, w in zip(concept.terms, weights, strict=True) if t in positions)
            share = hit / sum(weights)
            if share >= _FOUND_SHARE:
                spots = _nearest(concept.terms, weights, positions)
                found.append(ConceptHit(concept.label, concept.weight, share, _quote(text, spots)))
            else:
                missing.append(concept)
        return ReferenceEvidence(
            tuple(found), tuple(missing), self._coverage(set(positions)), False
        )

    # -- helpers ---------------------------------------------------------------------------

    def _terms(self, text: str) -> list[str]:
        return self.lexicon_.canonical_terms(tokenize(text))

    def _weights(self, reference: str, terms: Sequence[str]) -> dict[str, float]:
        """A reference's term weights, terms seen only in its examples discounted."""
        shown = {t for m in _EXAMPLE_RE.finditer(reference) for t in self._terms(m.group(0))}
        stated = set(self._terms(_EXAMPLE_RE.sub(" ", reference)))
        return {
            t: self.term_weights_[t] * (_EXAMPLE_FACTOR if t in shown - stated else 1.0)
            for t in sorted(set(terms))
            if t in self.term_weights_
        }

    def _items(self, reference: str, asked: int | None) -> tuple[int, list[dict[str, float]]]:
        """(how many, the items' weights) when the question asks for that many of the
        alternatives the reference lists, else (0, [])."""
        if not asked or not (
            _ALTERNATIVES_RE.search(reference) or "at least" in self.question.lower()
        ):
            return 0, []
        parts = [p for p in _ITEM_RE.split(reference) if p.strip()]
        if len(parts) < 3:
            parts = [p for p in _SENTENCE_END_RE.split(reference) if p.strip()]
        items = [w for p in parts if (w := self._weights(p, self._terms(p)))]
        return (asked, items) if len(items) > asked else (0, [])

    def _coverage(self, present: AbstractSet[str]) -> float:
        """Weighted share of a reference's concept terms that the answer contains; the best
        of the references, since each is a complete answer on its own. Where the question
        asks for N of the alternatives a reference lists, the N items the answer covers best
        are a complete answer too."""
        best = 0.0
        for weights, (asked, items) in zip(self._ref_weights, self._ref_items, strict=True):
            best = max(best, _share(weights, present))
            if asked:
                shares = sorted((_share(w, present) for w in items), reverse=True)
                best = max(best, sum(shares[:asked]) / asked)
        return best

    def _derive_concepts(self) -> tuple[Concept, ...]:
        """Key phrases: runs of content words between stopwords and punctuation, trimmed of
        filler words, at most a few terms long, none contained in another."""
        seen: dict[tuple[str, ...], Concept] = {}
        for reference in self.references:
            for run in _phrase_runs(reference):
                for i in range(0, len(run), _MAX_PHRASE_TERMS):
                    piece = _trim(run[i : i + _MAX_PHRASE_TERMS])
                    if not piece:
                        continue
                    terms = tuple(dict.fromkeys(self.lexicon_.canonical(t.term) for t in piece))
                    if terms in seen:
                        continue
                    label = reference[piece[0].start : piece[-1].end]
                    weight = sum(self.term_weights_[t] for t in terms)
                    seen[terms] = Concept(label, terms, weight)
        # "congestion" says nothing "congestion avoidance phase" does not: keep the longer.
        sets = {terms: frozenset(terms) for terms in seen}
        kept = [
            c
            for terms, c in seen.items()
            if not any(sets[terms] < other for other in sets.values())
        ]
        return tuple(sorted(kept, key=lambda c: (-c.weight, c.label)))


def _share(weights: Mapping[str, float], present: AbstractSet[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def _asked(question: str) -> int | None:
    """How many things the question asks for ("name two challenges"), if it says."""
    m = _ASKED_RE.search(question)
    if m is None:
        return None
    value = m.group(1).lower()
    return int(value) if value.isdigit() else _NUMBER_WORDS[value]


def _trim(tokens: list[Token]) -> list[Token]:
    """Drop filler words and lone letters or digits from both ends of a phrase."""

    def weak(token: Token) -> bool:
        return token.term in _FILLER or len(token.term) == 1

    lo, hi = 0, len(tokens)
    while lo < hi and weak(tokens[lo]):
        lo += 1
    while hi > lo and weak(tokens[hi - 1]):
        hi -= 1
    return tokens[lo:hi]


def _phrase_runs(text: str) -> list[list[Token]]:
    """Split text into runs of content tokens; stopwords and punctuation end a run."""
    runs: list[list[Token]] = []
    run: list[Token] = []
    previous_end = 0
    for token in tokenize(text, keep_stopwords=True):
        gap = text[previous_end : token.start]
        previous_end = token.end
        stop = text[token.start : token.end].lower() in STOPWORDS
        # A hyphen joins words ("full-duplex"); spaced, it is a dash or a bullet and breaks.
        broken = bool(_PHRASE_BREAK_RE.search(gap)) or ("-" in gap and gap != "-")
        if run and (stop or broken):
            runs.append(run)
            run = []
        if not stop:
            run.append(token)
    if run:
        runs.append(run)
    return runs


def _nearest(
    terms: Sequence[str], weights: Sequence[float], positions: Mapping[str, list[Token]]
) -> list[Token]:
    """The occurrences of a concept's terms that stand closest to its heaviest matched term,
    so the quote shows them together rather than each term's first use."""
    matched = [(w, t) for t, w in zip(terms, weights, strict=True) if t in positions]
    anchor = positions[max(matched, key=lambda m: (m[0], m[1]))[1]][0]
    return [
        min(positions[t], key=lambda tok: (abs(tok.start - anchor.start), tok.start))
        for _, t in matched
    ]


def _quote(text: str, tokens: Sequence[Token]) -> str:
    """A short excerpt of the answer around the tokens that matched a concept."""
    start = min(t.start for t in tokens)
    end = max(t.end for t in tokens)
    if end - start > _QUOTE_CHARS:
        end = start + _QUOTE_CHARS
    pad = max(0, (_QUOTE_CHARS - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    excerpt = " ".join(text[lo:hi].split())
    return ("..." if lo > 0 else "") + excerpt + ("..." if hi < len(text) else "")
