"""The installed celery and kombu are the versions the code is written against.

``grader.service.broker`` and ``grader.service.sqlite_broker`` subclass kombu's transports and
override their internals, and the 30 s Redis redelivery needs settings that arrived with
celery/kombu 5.7: pyproject pins both to 5.7.x, and this test fails on an install (or a
pyproject edit) that drifts from that.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
DECLARED = {
    Requirement(r).name: Requirement(r)
    for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
}


@pytest.mark.parametrize("name", ["celery", "kombu"])
def test_celery_and_kombu_are_pinned_to_the_minor_the_broker_code_overrides(name):
    spec = DECLARED[name].specifier
    assert spec.contains("5.7.0") and spec.contains("5.7.99")
    assert not spec.contains("5.6.99") and not spec.contains("5.8.0")
    assert spec.contains(version(name)), f"{name} {version(name)} installed, {spec} declared"


def test_every_declared_dependency_is_installed_within_its_bounds():
    wrong = {
        name: version(name)
        for name, req in DECLARED.items()
        if not req.specifier.contains(version(name), prereleases=True)
    }
    assert not wrong
