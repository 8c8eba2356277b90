"""A rubric compiled for scoring: its vocabulary, phrase matchers and fitted TF-IDF state.

Compiling is the only place anything is fitted, and it sees rubric data only (reference
answers, concept phrases, the exercise text), never submissions, so scores cannot drift as
answers stream in. Compiled rubrics are cached by version.

Similarity is TF-IDF cosine at the sentence level, read as recall: for every sentence of a
criterion's reference answers, the best-matching sentence of the answer; the mean of those
cosines. Adding a sentence to an answer can raise that figure but never lower it, so a
correct addition never costs points, and padding earns nothing unless it echoes a reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from .calibration import DEFAULT_CALIBRATION, LinearCalibration
from .copying import Exercise
from .facts import CompiledFact, compile_facts
from .layout import Layout
from .matching import Doc, compile_phrase, phrase_vocabulary
from .reference import ReferenceModel
from .rubric import Concept, Criterion, Rubric
from .text import Lexicon, terms

__all__ = [
    "CompiledCriterion",
    "CompiledReferenceRubric",
    "CompiledRubric",
    "compile_rubric",
    "features",
    "split_sentences",
]

_SENTENCE = re.compile(r"[^.!?;\n]+(?:[.!?;]+|$)", re.M)


def features(term_list: list[str]) -> list[str]:
    """TF-IDF features of a term sequence: unigrams and adjacent bigrams."""
    return term_list + [f"{a} {b}" for a, b in zip(term_list, term_list[1:], strict=False)]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= 3]


def _identity(doc: list[str]) -> list[str]:
    return doc


@dataclass(frozen=True, slots=True)
class CompiledCriterion:
    criterion: Criterion
    concepts: tuple[tuple[Concept, tuple[tuple[str, ...], ...]], ...]
    weight_of: dict[str, float]
    reference_rows: np.ndarray  # one L2-normalised TF-IDF row per reference sentence
    similarity_full: float


class CompiledRubric:
    """Everything scoring needs from a rubric, fitted once."""

    def __init__(self, rubric: Rubric):
        self.rubric = rubric
        phrases: list[str] = [p for t in rubric.topics for p in t.phrases]
        phrases += list(rubric.checks.anchors)
        for c in rubric.criteria:
            phrases += [p for concept in c.concepts for p in concept.phrases]
        for f in rubric.facts:
            phrases += [*f.subject, *f.mentions, *f.contradictions]
        for ci in rubric.contraindications:
            phrases += list(ci.phrases)
        vocab = phrase_vocabulary(phrases)
        for c in rubric.criteria:
            for ref in c.references:
                vocab.update(terms(ref))
        self.lexicon = Lexicon(vocab)
        self.exercise = Exercise(rubric.exercise) if rubric.exercise.strip() else None
        self.topics = {
            t.id: tuple(compile_phrase(p, self.lexicon) for p in t.phrases) for t in rubric.topics
        }
        self.anchors = tuple(compile_phrase(p, self.lexicon) for p in rubric.checks.anchors)
        self.facts: tuple[CompiledFact, ...] = compile_facts(
            tuple(
                (f.id, f.name, f.subject, f.values, f.mentions, f.contradictions)
                for f in rubric.facts
            ),
            self.lexicon,
        )
        # Every number the scenario gives: a number from another fact is not a contradiction.
        self.scenario_numbers = frozenset(v for f in self.facts for v in f.values)
        self.contraindications = tuple(
            (ci, tuple(compile_phrase(p, self.lexicon) for p in ci.phrases))
            for ci in rubric.contraindications
        )
        ref_sentences = [
            [
                features(Doc(s, self.lexicon).terms)
                for ref in c.references
                for s in split_sentences(ref)
            ]
            for c in rubric.criteria
        ]
        self.vectorizer_ = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, norm="l2")
        self.vectorizer_.fit([s for sents in ref_sentences for s in sents])
        self.vocabulary_: dict[str, int] = dict(self.vectorizer_.vocabulary_)
        self.idf_: np.ndarray = self.vectorizer_.idf_
        criteria = []
        for c, sents in zip(rubric.criteria, ref_sentences, strict=True):
            criteria.append(
                CompiledCriterion(
                    criterion=c,
                    concepts=tuple(
                        (concept, tuple(compile_phrase(p, self.lexicon) for p in concept.phrases))
                        for concept in c.concepts
                    ),
                    weight_of={concept.name: concept.weight for concept in c.concepts},
                    reference_rows=self.vectorizer_.transform(sents).toarray(),
                    similarity_full=0.5,
                )
            )
        self.criteria = tuple(criteria)

    def sentence_matrix(self, layout: Layout) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """TF-IDF rows (sublinear tf, L2) of the layout's sentences over the columns they use.

        Returns (rows, vocabulary columns, sentence starts). Each row holds the numbers
        ``vectorizer_.transform`` gives for that sentence's features, restricted to the
        columns that are non-zero somewhere in the answer, so products stay small.
        """
        starts = [0, *layout.sentence_starts]
        vocab = self.vocabulary_
        terms = layout.terms
        sentence = (
            np.searchsorted(
                np.asarray(starts), np.asarray(layout.starts, dtype=np.intp), side="right"
            )
            - 1
        )
        uni = np.fromiter((vocab.get(t, -1) for t in terms), dtype=np.intp, count=len(terms))
        bi = np.fromiter(
            (vocab.get(a + " " + b, -1) for a, b in zip(terms, terms[1:], strict=False)),
            dtype=np.intp,
            count=max(0, len(terms) - 1),
        )
        same = sentence[1:] == sentence[:-1]  # bigrams never cross a sentence boundary
        keep_bi = (bi >= 0) & same
        rows = np.concatenate([sentence[uni >= 0], sentence[1:][keep_bi]])
        cols = np.concatenate([uni[uni >= 0], bi[keep_bi]])
        used, local = np.unique(cols, return_inverse=True)
        width = len(used)
        counts = np.bincount(rows * width + local, minlength=len(starts) * width)
        matrix = counts.astype(np.float64).reshape(len(starts), width)
        if width:
            nz = matrix > 0
            matrix[nz] = 1.0 + np.log(matrix[nz])
            matrix *= self.idf_[used]
            norms = np.sqrt((matrix * matrix).sum(axis=1))
            norms[norms == 0] = 1.0
            matrix /= norms[:, None]
        return matrix, used, starts

    def similarities(self, layout: Layout, ranges: list[list[tuple[int, int]]]) -> list[float]:
        """For each criterion, the mean over its reference sentences of the best cosine
        with any answer sentence inside that criterion's ranges."""
        matrix, used, starts = self.sentence_matrix(layout)
        start_arr = np.asarray(starts)
        out: list[float] = []
        for crit, crit_ranges in zip(self.criteria, ranges, strict=True):
            refs = crit.reference_rows
            if not crit_ranges or not refs.size or not used.size:
                out.append(0.0)
                continue
            lo = np.asarray([a for a, _ in crit_ranges])
            hi = np.asarray([b for _, b in crit_ranges])
            k = np.searchsorted(lo, start_arr, side="right") - 1
            rows = np.flatnonzero((k >= 0) & (start_arr < hi[np.maximum(k, 0)]))
            if not rows.size:
                out.append(0.0)
                continue
            sims = matrix[rows] @ refs[:, used].T
            out.append(float(np.round(sims.max(axis=0).mean(), 6)))
        return out


class CompiledReferenceRubric:
    """A reference-answer rubric: one criterion, its ReferenceModel and its calibration."""

    def __init__(self, rubric: Rubric):
        self.rubric = rubric
        criterion = rubric.criteria[0]
        self.model = ReferenceModel(criterion.references, rubric.question or None)
        self.calibration = (
            LinearCalibration.from_dict(rubric.calibration)
            if rubric.calibration
            else DEFAULT_CALIBRATION
        )


_CACHE: dict[str, CompiledRubric | CompiledReferenceRubric] = {}
_CACHE_SIZE = 256


def compile_rubric(rubric: Rubric) -> CompiledRubric | CompiledReferenceRubric:
    """Compile a rubric, reusing the compiled form of an identical rubric version."""
    compiled = _CACHE.get(rubric.version)
    if compiled is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        kind = CompiledRubric if rubric.kind == "plan" else CompiledReferenceRubric
        compiled = _CACHE[rubric.version] = kind(rubric)
    return compiled
