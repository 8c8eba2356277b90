"""Rubric files and stored versions: which file an assignment may use, its validation, and
the parsed rubric of a stored version (once per process)."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from grader.scoring import Rubric, RubricError, load_rubric, rubric_from_dict

from ..errors import APIError
from ..models import Assignment, RubricVersion

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


#: The longest rubric source the pages and the API take (the shipped one is ~60 KB).
MAX_SOURCE = 256 * 1024


def store_source(session: Session, source: str) -> RubricVersion:
    """Validate a rubric's TOML written in the pages or sent to the API and keep it under
    its version (nothing else changes: applying it is a regrade). A 422 names what is
    wrong: the TOML line and column, or every rule the rubric breaks."""
    if len(source.encode("utf-8")) > MAX_SOURCE:
        raise APIError(
            422,
            "invalid_rubric",
            f"the rubric is limited to {MAX_SOURCE // 1024} KB",
            field="rubric",
        )
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise APIError(
            422, "invalid_rubric", f"the rubric is not valid TOML: {exc}", field="rubric"
        ) from None
    except RecursionError:
        raise APIError(
            422, "invalid_rubric", "the rubric nests too deeply to be a rubric", field="rubric"
        ) from None
    where = _not_rubric_value(data, "")
    if where is not None:
        raise APIError(
            422,
            "invalid_rubric",
            f"the rubric is invalid: {where}: dates and times are not rubric values",
            field="rubric",
        )
    try:
        rubric = rubric_from_dict(data, source="the rubric")
    except RubricError as exc:
        raise APIError(
            422, "invalid_rubric", f"the rubric is invalid: {exc}", field="rubric"
        ) from exc
    row = session.get(RubricVersion, rubric.version)
    if row is None:
        row = RubricVersion(version=rubric.version, rubric_id=rubric.id, source=source)
        session.add(row)
        session.flush()
    return row


def _not_rubric_value(value: Any, path: str) -> str | None:
    """The path of the first TOML date or time in value (a rubric holds text, numbers,
    booleans, lists and tables only), or None."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, datetime.date | datetime.time):
            return where
    return None


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


def file_version(rubrics_dir: str, a: Assignment) -> str | None:
    """The version of the assignment's rubric file as it is now (None: missing or invalid)."""
    try:
        return read_rubric(rubric_path(rubrics_dir, a.rubric_file)).version
    except APIError:
        return None


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
