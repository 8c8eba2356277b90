"""Rubrics are validated on load, with errors that name the file, the field and the problem."""

from __future__ import annotations

import copy
import tomllib

import pytest

from grader.scoring import RubricError, load_rubric, rubric_from_dict

from .conftest import RUBRIC_PATH


@pytest.fixture()
def raw() -> dict:
    return tomllib.loads(RUBRIC_PATH.read_text())


def _problems(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(RubricError) as exc:
        rubric_from_dict(data, source="x.toml")
    return exc.value.problems


def test_shipped_rubric_loads(rubric):
    assert [c.id for c in rubric.criteria] == [
        "problem_identification",
        "prioritization",
        "solution_design",
        "risk_management",
    ]
    assert [c.points for c in rubric.criteria] == [30, 25, 25, 20]
    assert rubric.max_total == 100 and rubric.kind == "plan"
    assert len(rubric.version) == 16


def test_version_changes_with_content_not_with_comments(raw, tmp_path):
    base = rubric_from_dict(raw)
    changed = copy.deepcopy(raw)
    changed["criteria"][0]["points"] = 31
    assert rubric_from_dict(changed).version != base.version
    commented = tmp_path / "r.toml"
    commented.write_text("# a new comment\n" + RUBRIC_PATH.read_text())
    assert load_rubric(commented).version == base.version


def test_errors_name_field_and_problem(raw):
    raw["criteria"][1]["points"] = -5
    raw["criteria"][2]["blend"] = {"coverage": 0.5, "similarity": 0.2}
    raw["criteria"][0]["sources"] = ["step9"]
    raw["criteria"][3]["concepts"][0].pop("phrases")
    raw["criteria"][1]["placement"][0]["topic"] = "nope"
    raw["surprise"] = 1
    raw["checks"]["buried_topics"] = ["data_quality", "nope"]
    raw["checks"]["buried_cap"] = {"prioritization": 1.5}
    problems = dict(_problems(raw))
    assert problems["criteria[1].points"] == "must be greater than 0, got -5"
    assert problems["criteria[2].blend"] == "weights must sum to 1, got 0.7"
    assert problems["criteria[0].sources"].startswith("unknown source 'step9'")
    assert problems["criteria[3].concepts[0].phrases"] == "is required"
    assert problems["criteria[1].placement[0].topic"] == "unknown topic 'nope'"
    assert problems["surprise"] == "is not a known field"
    assert problems["checks.buried_topics"] == "unknown topic 'nope'"
    assert problems["checks.buried_cap.prioritization"] == "must be at most 1, got 1.5"


def test_error_message_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('id = "Bad Id"\nkind = "essay"\n')
    with pytest.raises(RubricError) as exc:
        load_rubric(path)
    text = str(exc.value)
    assert f"{path}: id: must be a lower-case slug" in text
    assert f"{path}: kind: must be 'plan' or 'reference', got 'essay'" in text
    assert f"{path}: criteria: must list at least one criterion" in text


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("id = [unclosed")
    with pytest.raises(RubricError, match="invalid TOML"):
        load_rubric(bad)
    with pytest.raises(RubricError, match="cannot read file"):
        load_rubric(tmp_path / "missing.toml")


def test_duplicate_ids_and_curve(raw):
    raw["criteria"][1]["id"] = "problem_identification"
    raw["criteria"][0]["curve"] = {"zero": 0.8, "full": 0.2}
    problems = dict(_problems(raw))
    assert problems["criteria"] == "duplicate criterion id 'problem_identification'"
    assert problems["criteria[0].curve"] == "full (0.2) must be greater than zero (0.8)"


def test_structure_needs_its_rules(raw):
    del raw["criteria"][1]["placement"]
    del raw["criteria"][1]["first_priority"]
    problems = dict(_problems(raw))
    assert problems["criteria[1].placement"] == "is required by structure.placement"
    assert problems["criteria[1].first_priority"] == "is required by structure.first_priority"
