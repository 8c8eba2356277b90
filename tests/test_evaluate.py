"""Dataset loading, out-of-fold evaluation and the serialisable calibration."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from grader.scoring.calibration import DEFAULT_CALIBRATION, LinearCalibration
from grader.scoring.evaluate import (
    AnswerRecord,
    EvaluationReport,
    evaluate_dataset,
    format_report,
    load_dataset,
)

SAF = Path(__file__).resolve().parent / "data" / "saf-en" / "train.jsonl"


@pytest.fixture(scope="module")
def records() -> list[AnswerRecord]:
    return load_dataset(SAF)


@pytest.fixture(scope="module")
def subset(records: list[AnswerRecord]) -> list[AnswerRecord]:
    """Five groups, 30 answers each: enough for out-of-fold fitting, fast to score."""
    keep = ["2.2", "2.3", "4.1", "6.3", "10.2"]
    out: list[AnswerRecord] = []
    for group in keep:
        out += [r for r in records if r.group == group][:30]
    return out


@pytest.fixture(scope="module")
def full_report(records: list[AnswerRecord]) -> EvaluationReport:
    return evaluate_dataset(records)


# -- loading -------------------------------------------------------------------------------


def test_load_dataset_reads_the_saf_copy(records: list[AnswerRecord]) -> None:
    assert len(records) == 1476
    assert len({r.group for r in records}) == 16
    first = records[0]
    assert first.id == "TC_10.1.1" and first.max_score == 1.0
    assert isinstance(first.reference_answers, tuple)
    assert (SAF.parent / "LICENSE").is_file()


GOOD = {
    "id": "a1",
    "question_id": "q1",
    "group": "g1",
    "question": "Why?",
    "reference_answers": ["Because."],
    "answer": "Because so.",
    "score": 0.5,
    "max_score": 1.0,
}


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", r":2: invalid JSON"),
        ("[1, 2]", r":2: expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "score"}), r":2: field 'score'"),
        (json.dumps(GOOD | {"id": "a2", "score": "high"}), r":2: field 'score'"),
        (json.dumps(GOOD | {"id": "a2", "score": True}), r":2: field 'score'"),
        (json.dumps(GOOD | {"id": "a2", "score": 2.0}), r":2: field 'score'"),
        (json.dumps(GOOD | {"id": "a2", "max_score": 0}), r":2: field 'max_score'"),
        (json.dumps(GOOD | {"id": "a2", "reference_answers": []}), r":2: field 'reference_"),
        (json.dumps(GOOD | {"id": "a2", "reference_answers": "x"}), r":2: field 'reference_"),
        (json.dumps(GOOD | {"id": "a2", "answer": None}), r":2: field 'answer'"),
        (json.dumps(GOOD | {"id": "a2", "group": ""}), r":2: field 'group'"),
        (json.dumps(GOOD | {"id": "a2", "grader_scores": [1, "x"]}), r":2: field 'grader_"),
        (json.dumps(GOOD), r":2: field 'id': duplicate id 'a1' \(first on line 1\)"),
    ],
)
def test_load_dataset_names_line_and_field(tmp_path: Path, bad_line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_dataset(path)


def test_load_dataset_skips_blank_lines_and_rejects_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text("\n" + json.dumps(GOOD) + "\n\n", encoding="utf-8")
    assert [r.id for r in load_dataset(path)] == ["a1"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no records"):
        load_dataset(empty)


def test_records_given_as_dicts_are_validated(subset: list[AnswerRecord]) -> None:
    rows = [asdict(r) | {"reference_answers": list(r.reference_answers)} for r in subset]
    rows[2]["score"] = -1
    with pytest.raises(ValueError, match=r"record 3: field 'score'"):
        evaluate_dataset(rows)


# -- evaluation ----------------------------------------------------------------------------


def test_evaluation_beats_the_tfidf_baseline_on_saf(full_report: EvaluationReport) -> None:
    r = full_report
    assert r.n == 1476 and r.n_groups == 16 and r.scale == "points"
    assert r.pearson >= 0.75
    assert r.baseline_pearson is not None and r.baseline_rmse is not None
    assert r.baseline_qwk is not None
    assert r.pearson > r.baseline_pearson + 0.05
    assert r.rmse < r.baseline_rmse
    assert r.qwk > r.baseline_qwk
    assert r.qwk_step == 0.125


def test_default_calibration_is_the_full_saf_fit(full_report: EvaluationReport) -> None:
    fitted = LinearCalibration.from_dict(full_report.calibration)
    assert fitted.features == DEFAULT_CALIBRATION.features
    assert fitted.zero_when == DEFAULT_CALIBRATION.zero_when
    assert fitted.intercept == pytest.approx(DEFAULT_CALIBRATION.intercept, abs=1e-5)
    assert fitted.coefficients == pytest.approx(DEFAULT_CALIBRATION.coefficients, abs=1e-5)


def test_evaluation_is_deterministic(subset: list[AnswerRecord]) -> None:
    a = evaluate_dataset(subset)
    b = evaluate_dataset(list(subset))
    assert a.predictions == b.predictions
    assert (a.pearson, a.rmse, a.qwk) == (b.pearson, b.rmse, b.qwk)
    assert a.calibration == b.calibration


def test_predictions_are_out_of_fold(subset: list[AnswerRecord]) -> None:
    """Changing one group's human scores changes no prediction inside that group."""
    before = evaluate_dataset(subset, baseline=True)
    target = "4.1"
    flipped = [replace(r, score=r.max_score - r.score) if r.group == target else r for r in subset]
    after = evaluate_dataset(flipped, baseline=True)
    assert after.baseline_predictions is not None and before.baseline_predictions is not None
    inside = [i for i, r in enumerate(subset) if r.group == target]
    outside = [i for i, r in enumerate(subset) if r.group != target]
    for i in inside:
        assert after.predictions[i] == before.predictions[i]
        assert after.baseline_predictions[i] == before.baseline_predictions[i]
    # ...while the other groups, whose calibration saw group 4.1, do move.
    assert any(after.predictions[i] != before.predictions[i] for i in outside)


def test_predictions_stay_on_the_scale(subset: list[AnswerRecord]) -> None:
    scaled = [replace(r, score=r.score * 5, max_score=5.0) for r in subset]
    report = evaluate_dataset(scaled, baseline=False)
    assert all(0.0 <= p <= 5.0 for p in report.predictions)
    assert report.baseline_pearson is None and report.baseline_predictions is None
    plain = evaluate_dataset(subset, baseline=False)
    assert report.pearson == pytest.approx(plain.pearson)
    assert report.rmse == pytest.approx(plain.rmse * 5)


def test_progress_callback_sees_every_answer(subset: list[AnswerRecord]) -> None:
    seen: list[tuple[int, int]] = []
    evaluate_dataset(subset, baseline=False, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (1, len(subset)) and seen[-1] == (len(subset), len(subset))
    assert len(seen) == len(subset)


def test_report_json_and_text(subset: list[AnswerRecord]) -> None:
    report = evaluate_dataset(subset)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert {"n", "pearson", "rmse", "qwk", "baseline"} <= set(data)
    assert set(data["baseline"]) == {"pearson", "rmse", "qwk"}
    assert data["n"] == len(subset)
    assert len(data["groups"]) == 5
    text = format_report(report)
    for needle in ("Pearson r", "RMSE", "QWK", "tf-idf", "4.1"):
        assert needle in text


def test_bad_evaluation_parameters(subset: list[AnswerRecord]) -> None:
    one_group = [r for r in subset if r.group == "4.1"]
    with pytest.raises(ValueError, match="2 groups"):
        evaluate_dataset(one_group)
    with pytest.raises(ValueError, match="features"):
        evaluate_dataset(subset, features=("no_such_feature",))
    with pytest.raises(ValueError, match="qwk_step"):
        evaluate_dataset(subset, qwk_step=0.0)
    with pytest.raises(ValueError, match="path_or_records"):
        evaluate_dataset([])


# -- calibration ---------------------------------------------------------------------------


def test_calibration_round_trips_through_plain_data() -> None:
    rows = [
        {"coverage_log": x / 10, "word_cosine": (x % 3) / 3, "empty": 0.0} for x in range(11)
    ] + [{"coverage_log": 0.0, "word_cosine": 0.0, "empty": 1.0}]
    targets = [min(1.0, 0.1 + 0.8 * x / 10) for x in range(11)] + [0.0]
    cal = LinearCalibration.fit(rows, targets, features=("coverage_log", "word_cosine"))
    data = json.loads(json.dumps(cal.to_dict()))

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return isinstance(value, str | int | float)

    assert plain(data)
    again = LinearCalibration.from_dict(data)
    assert again == cal
    assert list(again.predict(rows)) == list(cal.predict(rows))
    assert cal.predict_one(rows[-1]) == 0.0  # zero_when: empty


def test_calibration_fit_is_least_squares_and_clipped() -> None:
    rows = [{"x": float(x)} for x in range(5)]
    cal = LinearCalibration.fit(rows, [0.0, 0.25, 0.5, 0.75, 1.0], features=("x",), alpha=0.0)
    assert cal.coefficients[0] == pytest.approx(0.25)
    assert cal.intercept == pytest.approx(0.0, abs=1e-12)
    assert cal.predict_one({"x": 10.0}) == 1.0
    assert cal.predict_one({"x": -3.0}) == 0.0
    assert cal.points({"x": 2.0}, 4.0) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"coefficients": {"x": 1.0}}, "intercept"),
        ({"intercept": 0.0, "coefficients": {}}, "coefficients"),
        ({"intercept": 0.0, "coefficients": {"x": "big"}}, r"coefficients\['x'\]"),
        ({"intercept": math.inf, "coefficients": {"x": 1.0}}, "intercept"),
        ({"intercept": 0.0, "coefficients": {"x": 1.0}, "kind": "trees"}, "kind"),
        ({"intercept": 0.0, "coefficients": {"x": 1.0}, "zero_when": "empty"}, "zero_when"),
        ({"intercept": 0.0, "coefficients": {"x": 1.0}, "slope": 2}, "unknown keys"),
    ],
)
def test_calibration_from_bad_dict_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LinearCalibration.from_dict(data)


def test_calibration_bad_fit_parameters() -> None:
    rows = [{"x": 0.0}, {"x": 1.0}]
    with pytest.raises(ValueError, match="alpha"):
        LinearCalibration.fit(rows, [0.0, 1.0], features=("x",), alpha=-1.0)
    with pytest.raises(ValueError, match="targets"):
        LinearCalibration.fit(rows, [0.0], features=("x",))
    with pytest.raises(ValueError, match="'y'"):
        LinearCalibration.fit(rows, [0.0, 1.0], features=("y",))
    with pytest.raises(ValueError, match="features"):
        LinearCalibration((), (), 0.0)
