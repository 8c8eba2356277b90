"""Grading again from what was measured: a rubric that changes only points, blends, curves,
structure weights, caps, costs or feedback gives, from a grade's stored measurement, exactly
the grade that reading the answer again would."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.scoring import grade_text
from grader.scoring.grade import finish_grade
from grader.scoring.rubric import Rubric, rubric_from_dict

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
# Every other answer of the graded sample, the adversarial sets and the gaming answers.
ANSWERS = sorted(DATA.glob("**/*.md"))[::2]

Edit = Callable[[dict[str, Any]], None]


def _raw(name: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / "rubrics" / name).read_text(encoding="utf-8"))


def _criterion(data: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in data["criteria"] if c["id"] == cid)


def _variant(name: str, edit: Edit) -> Rubric:
    data = copy.deepcopy(_raw(name))
    edit(data)
    return rubric_from_dict(data)


def _points(d: dict[str, Any]) -> None:
    _criterion(d, "problem_identification")["points"] = 40
    _criterion(d, "risk_management")["points"] = 10


def _blend(d: dict[str, Any]) -> None:
    _criterion(d, "solution_design")["blend"] = {
        "coverage": 0.5,
        "similarity": 0.4,
        "structure": 0.1,
    }


def _curve(d: dict[str, Any]) -> None:
    _criterion(d, "prioritization")["curve"] = {"zero": 0.2, "full": 0.8}


def _structure_weights(d: dict[str, Any]) -> None:
    _criterion(d, "prioritization")["structure"] = {
        "placement": 0.2,
        "first_priority": 0.6,
        "buckets": 0.2,
    }


def _structure_order(d: dict[str, Any]) -> None:
    """The same checks, weighed anew and listed the other way round (their notes follow)."""
    for crit in d["criteria"]:
        crit["structure"] = {k: v + 0.05 for k, v in reversed(list(crit["structure"].items()))}


def _hints_and_names(d: dict[str, Any]) -> None:
    crit = _criterion(d, "problem_identification")
    crit["name"] = "Finding the problems"
    for concept in crit["concepts"]:
        concept["hint"] = "Look again at the snapshot: " + concept.get("hint", "")
    d["title"] = "Health check, second run"


def _caps_and_costs(d: dict[str, Any]) -> None:
    d["checks"]["generic_cap"] = {"default": 0.3}
    d["checks"]["contradiction_cost"] = {"problem_identification": 0.4}
    for ci in d["contraindications"]:
        ci["costs"] = {k: min(1.0, v * 2) for k, v in ci["costs"].items()}
        ci["message"] = "Reconsider: " + ci["message"]


FINISH_ONLY = {
    "points": _points,
    "blend": _blend,
    "curve": _curve,
    "structure weights": _structure_weights,
    "structure order": _structure_order,
    "hints, names and title": _hints_and_names,
    "caps and costs": _caps_and_costs,
}


def _same(a: Any, b: Any) -> None:
    assert a is not None and b is not None
    assert a.to_dict() == b.to_dict()
    assert (a.confidence, a.confidence_signals, a.language) == (
        b.confidence,
        b.confidence_signals,
        b.language,
    )


@pytest.fixture(scope="module")
def graded() -> list[tuple[str, Any]]:
    rubric = rubric_from_dict(_raw("ml-health-check.toml"))
    out = []
    for path in ANSWERS:
        text = path.read_text(encoding="utf-8")
        grade = grade_text(text, rubric)
        # Stored and read back as the service does: through JSON.
        grade.measured = json.loads(json.dumps(grade.measured))
        out.append((text, grade))
    return out


@pytest.mark.parametrize("edit", FINISH_ONLY.values(), ids=list(FINISH_ONLY))
def test_a_finish_only_change_regrades_from_the_measurement(
    graded: list[tuple[str, Any]], edit: Edit
) -> None:
    original = rubric_from_dict(_raw("ml-health-check.toml"))
    changed = _variant("ml-health-check.toml", edit)
    assert changed.version != original.version
    assert changed.measure_key == original.measure_key
    totals_moved = 0
    for text, grade in graded:
        again = finish_grade(grade.measured, changed, grade.plan)
        fresh = grade_text(text, changed)
        _same(again, fresh)
        assert again is not None and again.rubric_version == changed.version
        totals_moved += again.total != grade.total or again.to_dict() != grade.to_dict()
    assert totals_moved  # the change did change grades: the test would see a stale one


def _concept_phrase(d: dict[str, Any]) -> None:
    _criterion(d, "problem_identification")["concepts"][0]["phrases"].append("model decay")


def _reference(d: dict[str, Any]) -> None:
    _criterion(d, "solution_design")["references"][0] += " Add a canary stage."


def _min_words(d: dict[str, Any]) -> None:
    d["checks"]["min_words"] = 200


def _structure_names(d: dict[str, Any]) -> None:
    _criterion(d, "prioritization")["structure"] = {"placement": 0.6, "buckets": 0.4}


@pytest.mark.parametrize(
    "edit",
    [_concept_phrase, _reference, _min_words, _structure_names],
    ids=["concept phrase", "reference", "min_words", "structure checks"],
)
def test_a_change_to_what_is_read_needs_the_answer_again(
    graded: list[tuple[str, Any]], edit: Edit
) -> None:
    original = rubric_from_dict(_raw("ml-health-check.toml"))
    changed = _variant("ml-health-check.toml", edit)
    assert changed.measure_key != original.measure_key
    _, grade = graded[0]
    assert finish_grade(grade.measured, changed, grade.plan) is None


def test_a_measurement_without_its_plan_or_of_another_shape_is_not_finished(
    graded: list[tuple[str, Any]],
) -> None:
    rubric = _variant("ml-health-check.toml", _points)
    _, grade = graded[0]
    assert finish_grade(None, rubric, grade.plan) is None
    assert finish_grade(grade.measured, rubric, None) is None
    broken = dict(grade.measured, criteria=[{"coverage": 1.0}])
    assert finish_grade(broken, rubric, grade.plan) is None
    # A harmful action the rubric no longer lists (by id) is another reading.
    harmful = copy.deepcopy(grade.measured)
    harmful["reading"]["harmful"] = [["no_such_action", "quote"]]
    assert finish_grade(harmful, rubric, grade.plan) is None


def test_the_reference_kind_regrades_new_points_and_calibration_from_the_measurement() -> None:
    rows = [
        json.loads(line)
        for line in (DATA / "saf-en" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    ][::25]
    original = rubric_from_dict(_raw("tcp-udp-headers.toml"))

    def edit(d: dict[str, Any]) -> None:
        d["criteria"][0]["points"] = 5
        d["calibration"]["intercept"] = 0.1
        d["calibration"]["coefficients"] = {"coverage_log": 0.8}
        d["feedback"] = {"reveal_missing": True}

    changed = _variant("tcp-udp-headers.toml", edit)
    assert changed.measure_key == original.measure_key
    for row in rows + [{"answer": "<b>TCP</b> has a sequence number"}, {"answer": ""}]:
        grade = grade_text(row["answer"], original)
        measured = json.loads(json.dumps(grade.measured))
        _same(finish_grade(measured, changed), grade_text(row["answer"], changed))
    # Other references are another reading.
    other = _variant(
        "tcp-udp-headers.toml", lambda d: d["criteria"][0]["references"].append("UDP is small.")
    )
    assert other.measure_key != original.measure_key
