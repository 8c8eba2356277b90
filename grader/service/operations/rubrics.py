"""Rubric files and stored versions: which file an assignment may use, its validation, and
the parsed rubric of a stored version (once per process)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sqlalchemy.orm import Session

from grader.scoring import Rubric, RubricError, load_rubric, rubric_from_dict

from ..errors import APIError
from ..models import (
    RubricVersion,
)

_RUBRIC_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


# A file name, not a path: file systems refuse names past 255 bytes (ENAMETOOLONG).
_RUBRIC_NAME_MAX = 100


def rubric_path(rubrics_dir: str, name: str) -> Path:
    """A rubric file inside rubrics_dir; anything that could escape it is refused."""
    if (
        not name.endswith(".toml")
        or len(name) > _RUBRIC_NAME_MAX
        or not set(name) <= _RUBRIC_NAME_CHARS
        or name.startswith(".")
        or "/" in name
    ):
        raise APIError(
            422,
            "invalid_rubric",
            "rubric must be a file name like 'ml-health-check.toml' from the rubrics folder",
            field="rubric",
        )
    path = Path(rubrics_dir) / name
    if not path.is_file():
        raise APIError(422, "invalid_rubric", f"no rubric file named {name!r}", field="rubric")
    return path


def read_rubric(path: Path) -> Rubric:
    try:
        return load_rubric(path)
    except RubricError as exc:
        raise APIError(
            422, "invalid_rubric", f"the rubric is invalid: {exc}", field="rubric"
        ) from exc


def store_rubric(session: Session, path: Path) -> RubricVersion:
    """Validate a rubric file and keep its content under its version."""
    rubric = read_rubric(path)
    row = session.get(RubricVersion, rubric.version)
    if row is None:
        row = RubricVersion(
            version=rubric.version, rubric_id=rubric.id, source=path.read_text(encoding="utf-8")
        )
        session.add(row)
        session.flush()
    return row


_RUBRIC_CACHE: dict[str, Rubric] = {}


def parsed(version: str) -> Rubric | None:
    """The rubric of a stored version if this process has parsed it already."""
    return _RUBRIC_CACHE.get(version)


def rubric_for(version: RubricVersion) -> Rubric:
    """The Rubric a stored version describes (parsed once per process)."""
    rubric = _RUBRIC_CACHE.get(version.version)
    if rubric is None:
        rubric = rubric_from_dict(tomllib.loads(version.source), source=version.rubric_id)
        _RUBRIC_CACHE[version.version] = rubric
    return rubric
