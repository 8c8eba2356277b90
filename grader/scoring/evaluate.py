"""Agreement of reference-answer grading with human graders on a JSON Lines dataset.

Behind ``grader evaluate DATASET.jsonl``. Each answer gets the features of its question's
:class:`~grader.scoring.reference.ReferenceModel`; a :class:`LinearCalibration` maps them to
a fraction of ``max_score``. The calibration is fitted out of fold, leaving one ``group``
out at a time: an answer's prediction never comes from a model that saw any answer of its
group, which is how the grader meets a new question in service.

Figures are on the dataset's own scale when every answer has the same ``max_score``, and on
the fraction scale (score / max_score) otherwise. QWK rounds to ``qwk_step`` on the fraction
scale (see :mod:`grader.scoring.metrics`).

The baseline is plain TF-IDF cosine: scikit-learn's default ``TfidfVectorizer`` fitted on
the question's reference answers split into sentences, cosine of the answer with the closest
reference, then the same out-of-fold linear calibration (without the empty-answer rule).

Long because: one command's whole path, loading the dataset with errors naming file, line
and field (a third of it), the out-of-fold evaluation and its baseline, and the report.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from grader.scoring.calibration import DEFAULT_FEATURES, DEFAULT_ZERO_WHEN, LinearCalibration
from grader.scoring.compiled import CompiledReferenceRubric, compile_rubric
from grader.scoring.metrics import derive_step, pearson, qwk, rmse
from grader.scoring.reference import ReferenceModel
from grader.scoring.rubric import reference_rubric

__all__ = [
    "AnswerRecord",
    "EvaluationReport",
    "GroupFigures",
    "ProgressCallback",
    "evaluate_dataset",
    "format_report",
    "load_dataset",
]

#: Called as ``progress(done, total)`` after each answer's features are computed.
ProgressCallback = Callable[[int, int], None]

_BASELINE_FEATURE = "tfidf_cosine"
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One human-graded answer (see ``datasets/FORMAT.md``)."""

    id: str
    question_id: str
    group: str
    question: str
    reference_answers: tuple[str, ...]
    answer: str
    score: float
    max_score: float
    grader_scores: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """Agreement within one group (Pearson is NaN when a side is constant)."""

    group: str
    n: int
    pearson: float
    rmse: float
    baseline_pearson: float | None = None
    baseline_rmse: float | None = None
    # RMSE of always predicting the mean score of the other groups (what a grader that
    # knows nothing of the answer would do): grader must beat it in every group.
    constant_rmse: float | None = None


@dataclass(frozen=True)
class EvaluationReport:
    """Out-of-fold agreement figures for grader and, optionally, the TF-IDF baseline.

    ``predictions`` (and ``baseline_predictions``) are the out-of-fold grades in points of
    each answer's own ``max_score``, in the order of ``ids``; :meth:`to_dict` leaves them out.
    """

    n: int
    n_groups: int
    pearson: float
    rmse: float
    qwk: float
    qwk_step: float
    scale: str
    baseline_pearson: float | None = None
    baseline_rmse: float | None = None
    baseline_qwk: float | None = None
    groups: tuple[GroupFigures, ...] = ()
    features: tuple[str, ...] = DEFAULT_FEATURES
    calibration: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    ids: tuple[str, ...] = field(default=(), repr=False)
    predictions: tuple[float, ...] = field(default=(), repr=False)
    baseline_predictions: tuple[float, ...] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``n``, ``pearson``, ``rmse``, ``qwk`` at top level, the baseline's
        figures nested under ``baseline`` (null when not computed); NaN becomes null."""
        baseline = None
        if self.baseline_pearson is not None:
            baseline = {
                "pearson": _json_number(self.baseline_pearson),
                "rmse": _json_number(self.baseline_rmse),
                "qwk": _json_number(self.baseline_qwk),
            }
        return {
            "n": self.n,
            "pearson": _json_number(self.pearson),
            "rmse": _json_number(self.rmse),
            "qwk": _json_number(self.qwk),
            "baseline": baseline,
            "n_groups": self.n_groups,
            "qwk_step": self.qwk_step,
            "scale": self.scale,
            "features": list(self.features),
            "calibration": self.calibration,
            "seconds": round(self.seconds, 3),
            "groups": [
                {k: _json_number(v) if isinstance(v, float) else v for k, v in asdict(g).items()}
                for g in self.groups
            ],
        }


# -- loading --------------------------------------------------------------------------------


def load_dataset(path: str | os.PathLike[str]) -> list[AnswerRecord]:
    """Read and validate a JSON Lines dataset; blank lines are skipped.

    Raises ValueError naming the file, line number and field of the first bad record.
    """
    p = Path(path)
    records: list[AnswerRecord] = []
    seen: dict[str, int] = {}
    with p.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: invalid JSON ({exc.msg})") from None
            record = _record(data, where)
            if record.id in seen:
                raise ValueError(
                    f"{where}: field 'id': duplicate id {record.id!r} (first on line "
                    f"{seen[record.id]})"
                )
            seen[record.id] = lineno
            records.append(record)
    if not records:
        raise ValueError(f"{p}: no records")
    return records


def _record(data: object, where: str) -> AnswerRecord:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")

    def need(name: str) -> Any:
        if name not in data:
            raise ValueError(f"{where}: field {name!r} is missing")
        return data[name]

    def text(name: str, *, allow_empty: bool = True) -> str:
        value = need(name)
        if not isinstance(value, str):
            raise ValueError(f"{where}: field {name!r} must be a string, got {value!r:.60}")
        if not allow_empty and not value.strip():
            raise ValueError(f"{where}: field {name!r} must not be empty")
        return value

    def number(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: field {name!r} must be a number, got {value!r:.60}")
        if not math.isfinite(value):
            raise ValueError(f"{where}: field {name!r} must be finite, got {value!r}")
        return float(value)

    references = need("reference_answers")
    if not isinstance(references, list) or not references:
        raise ValueError(f"{where}: field 'reference_answers' must be a non-empty list")
    if not all(isinstance(r, str) and r.strip() for r in references):
        raise ValueError(f"{where}: field 'reference_answers' must hold non-empty strings")
    max_score = number("max_score", need("max_score"))
    if max_score <= 0:
        raise ValueError(f"{where}: field 'max_score' must be positive, got {max_score!r}")
    score = number("score", need("score"))
    if not 0 <= score <= max_score:
        raise ValueError(f"{where}: field 'score' must be in [0, max_score], got {score!r}")
    grader_scores = None
    if data.get("grader_scores") is not None:
        raw = data["grader_scores"]
        if not isinstance(raw, list):
            raise ValueError(f"{where}: field 'grader_scores' must be a list of numbers")
        grader_scores = tuple(number("grader_scores", v) for v in raw)
    return AnswerRecord(
        id=text("id", allow_empty=False),
        question_id=text("question_id", allow_empty=False),
        group=text("group", allow_empty=False),
        question=text("question"),
        reference_answers=tuple(references),
        answer=text("answer"),
        score=score,
        max_score=max_score,
        grader_scores=grader_scores,
    )


def _records(
    source: str | os.PathLike[str] | Iterable[AnswerRecord | Mapping[str, Any]],
) -> list[AnswerRecord]:
    if isinstance(source, str | os.PathLike):
        return load_dataset(source)
    records = []
    for i, item in enumerate(source, start=1):
        if isinstance(item, AnswerRecord):
            records.append(item)
        else:
            data = dict(item) if isinstance(item, Mapping) else item
            records.append(_record(data, f"record {i}"))
    if not records:
        raise ValueError("path_or_records holds no records")
    return records


# -- evaluation -----------------------------------------------------------------------------


def evaluate_dataset(
    path_or_records: str | os.PathLike[str] | Iterable[AnswerRecord | Mapping[str, Any]],
    *,
    baseline: bool = True,
    progress: ProgressCallback | None = None,
    features: Sequence[str] = DEFAULT_FEATURES,
    alpha: float = 1.0,
    qwk_step: float | None = None,
) -> EvaluationReport:
    """Out-of-fold (leave-one-group-out) agreement of grader with the human scores.

    ``qwk_step`` is on the fraction scale; by default it is derived from the scores
    (:func:`grader.scoring.metrics.derive_step`). The report's ``calibration`` is fitted on
    all records, ready to store in a rubric.
    """
    started = time.perf_counter()
    records = _records(path_or_records)
    features = tuple(features)
    if not features:
        raise ValueError("features must name at least one feature")
    if qwk_step is not None and not (math.isfinite(qwk_step) and 0 < qwk_step <= 1):
        raise ValueError(f"qwk_step must be in (0, 1], got {qwk_step!r}")
    groups = np.array([r.group for r in records])
    if len(set(groups.tolist())) < 2:
        raise ValueError("path_or_records must span at least 2 groups for out-of-fold fitting")
    targets = np.array([r.score / r.max_score for r in records])
    max_scores = np.array([r.max_score for r in records])

    rows = _feature_rows(records, progress)
    unknown = set(features) - set(rows[0])
    if unknown:
        raise ValueError(f"features names unknown features: {sorted(unknown)}")
    predicted = _out_of_fold(rows, targets, groups, features, alpha, DEFAULT_ZERO_WHEN)
    calibration = LinearCalibration.fit(rows, targets, features=features, alpha=alpha)

    base_pred = None
    if baseline:
        base_rows = [{_BASELINE_FEATURE: v} for v in _baseline_cosines(records)]
        base_pred = _out_of_fold(base_rows, targets, groups, (_BASELINE_FEATURE,), alpha, ())

    uniform = bool(np.all(max_scores == max_scores[0]))
    unit = float(max_scores[0]) if uniform else 1.0
    step = qwk_step if qwk_step is not None else derive_step(targets, 1.0)

    def figures(pred: np.ndarray) -> tuple[float, float, float]:
        return (
            pearson(targets, pred),
            rmse(targets * unit, pred * unit),
            qwk(targets, pred, step=step, lo=0.0, hi=1.0),
        )

    ours = figures(predicted)
    theirs = figures(base_pred) if base_pred is not None else (None, None, None)
    per_group = []
    for g in sorted(set(groups.tolist())):
        m = groups == g
        constant = float(targets[~m].mean())
        per_group.append(
            GroupFigures(
                group=g,
                n=int(m.sum()),
                pearson=_safe_pearson(targets[m], predicted[m]),
                rmse=rmse(targets[m] * unit, predicted[m] * unit),
                baseline_pearson=(
                    _safe_pearson(targets[m], base_pred[m]) if base_pred is not None else None
                ),
                baseline_rmse=(
                    rmse(targets[m] * unit, base_pred[m] * unit) if base_pred is not None else None
                ),
                constant_rmse=rmse(targets[m] * unit, np.full(int(m.sum()), constant) * unit),
            )
        )
    return EvaluationReport(
        n=len(records),
        n_groups=len(per_group),
        pearson=ours[0],
        rmse=ours[1],
        qwk=ours[2],
        qwk_step=step,
        scale="points" if uniform else "fraction",
        baseline_pearson=theirs[0],
        baseline_rmse=theirs[1],
        baseline_qwk=theirs[2],
        groups=tuple(per_group),
        features=features,
        calibration=calibration.to_dict(),
        seconds=time.perf_counter() - started,
        ids=tuple(r.id for r in records),
        predictions=tuple(float(v) for v in predicted * max_scores),
        baseline_predictions=(
            tuple(float(v) for v in base_pred * max_scores) if base_pred is not None else None
        ),
    )


def _feature_rows(
    records: Sequence[AnswerRecord], progress: ProgressCallback | None
) -> list[dict[str, float]]:
    """Features of every answer, graded with the reference-answer rubric kind: one rubric per
    distinct question and references (SAF reuses a question_id for different questions)."""
    models: dict[tuple[str, tuple[str, ...]], ReferenceModel] = {}
    rows = []
    total = len(records)
    for done, r in enumerate(records, start=1):
        key = (r.question, r.reference_answers)
        model = models.get(key)
        if model is None:
            rubric = reference_rubric(
                list(r.reference_answers), question=r.question, points=r.max_score
            )
            compiled = compile_rubric(rubric)
            assert isinstance(compiled, CompiledReferenceRubric)
            model = models[key] = compiled.model
        rows.append(model.features(r.answer))
        if progress is not None:
            progress(done, total)
    return rows


def _out_of_fold(
    rows: Sequence[Mapping[str, float]],
    targets: np.ndarray,
    groups: np.ndarray,
    features: tuple[str, ...],
    alpha: float,
    zero_when: tuple[str, ...],
) -> np.ndarray:
    """Leave-one-group-out predictions: group g is predicted by a fit on all other groups."""
    predicted = np.zeros(len(rows))
    for g in sorted(set(groups.tolist())):
        test = np.flatnonzero(groups == g)
        train = np.flatnonzero(groups != g)
        calibration = LinearCalibration.fit(
            [rows[int(i)] for i in train],
            targets[train],
            features=features,
            alpha=alpha,
            zero_when=zero_when,
        )
        predicted[test] = calibration.predict([rows[int(i)] for i in test])
    return predicted


def _baseline_cosines(records: Sequence[AnswerRecord]) -> list[float]:
    """Plain TF-IDF cosine of each answer with its closest reference answer."""
    fitted: dict[tuple[str, ...], tuple[TfidfVectorizer, Any] | None] = {}
    out = []
    for r in records:
        key = r.reference_answers
        if key not in fitted:
            sentences = [s for ref in key for s in _SENTENCE_RE.split(ref) if s.strip()]
            try:
                vectorizer = TfidfVectorizer().fit(sentences)
                fitted[key] = (vectorizer, vectorizer.transform(list(key)))
            except ValueError:  # references without a single word token
                fitted[key] = None
        state = fitted[key]
        if state is None:
            out.append(0.0)
            continue
        vectorizer, refs = state
        answer = vectorizer.transform([r.answer])
        out.append(float((refs @ answer.T).toarray().max()))
    return out


def _safe_pearson(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(a, b) if a.size >= 2 else math.nan


def _json_number(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(float(value), 4)


# -- reporting ------------------------------------------------------------------------------


def format_report(report: EvaluationReport) -> str:
    """Human-readable figures, grader and baseline side by side, then per group."""

    def num(value: float | None) -> str:
        return "   -  " if value is None or math.isnan(value) else f"{value:6.3f}"

    lines = [
        f"answers: {report.n}   groups: {report.n_groups}   "
        f"(out-of-fold, leave one group out; scale: {report.scale})",
        f"features: {', '.join(report.features)}",
        "",
        f"{'':14}{'grader':>8}{'tf-idf':>8}",
        f"{'Pearson r':14}  {num(report.pearson)}  {num(report.baseline_pearson)}",
        f"{'RMSE':14}  {num(report.rmse)}  {num(report.baseline_rmse)}",
        f"{'QWK':14}  {num(report.qwk)}  {num(report.baseline_qwk)}",
        f"(QWK after rounding to steps of {report.qwk_step:g} of max_score)",
    ]
    if report.groups:
        lines += [
            "",
            f"{'group':14}{'n':>5}{'r':>8}{'RMSE':>8}{'tf-idf r':>10}{'tf-idf RMSE':>12}"
            f"{'const RMSE':>11}",
        ]
        for g in report.groups:
            lines.append(
                f"{g.group[:14]:14}{g.n:5d}  {num(g.pearson)}  {num(g.rmse)}"
                f"    {num(g.baseline_pearson)}      {num(g.baseline_rmse)}"
                f"     {num(g.constant_rmse)}"
            )
    lines += ["", f"time: {report.seconds:.1f} s"]
    return "\n".join(lines)
