"""Shared fixtures: test data paths and the health-check rubric."""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import mean

import pytest

from grader.scoring import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HEALTH = DATA / "health-check"
GAMING = DATA / "gaming"
RUBRIC_PATH = ROOT / "rubrics" / "ml-health-check.toml"


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric(RUBRIC_PATH)


def human_grades() -> dict[str, dict[str, float]]:
    """The mean of the two graders, per file and criterion (and 'total')."""
    per: dict[str, dict[str, list[float]]] = {}
    with open(HEALTH / "grades.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            entry = per.setdefault(row["file"], {})
            for key in (
                "problem_identification",
                "prioritization",
                "solution_design",
                "risk_management",
                "total",
            ):
                entry.setdefault(key, []).append(float(row[key]))
    return {f: {k: mean(v) for k, v in d.items()} for f, d in per.items()}


@pytest.fixture()
def raw_rubric() -> dict:
    import tomllib

    return tomllib.loads(RUBRIC_PATH.read_text())
