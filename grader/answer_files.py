"""The answers named on the `grader` command line: files, folders of them, JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ANSWER_SUFFIXES", "answers_in"]

ANSWER_SUFFIXES = (".md", ".markdown", ".txt")


def answers_in(paths: tuple[str, ...]) -> Iterator[tuple[str, str | None, str | None]]:
    """(name, text, error) for every answer named on the command line.

    A folder yields its answer files in name order; a .jsonl file yields one answer per line
    (``content``, ``answer`` or ``text`` field, named by ``id`` when present).
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.suffix in ANSWER_SUFFIXES):
                yield from _read_file(child)
        elif path.suffix == ".jsonl":
            yield from _read_jsonl(path)
        else:
            yield from _read_file(path)


def _read_file(path: Path) -> Iterator[tuple[str, str | None, str | None]]:
    try:
        yield str(path), path.read_bytes().decode("utf-8"), None
    except OSError as exc:
        yield str(path), None, f"cannot read: {exc.strerror or exc}"
    except UnicodeDecodeError:
        yield str(path), None, "not UTF-8 text"


def _read_jsonl(path: Path) -> Iterator[tuple[str, str | None, str | None]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        yield str(path), None, f"cannot read: {exc}"
        return
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name = f"{path}:{n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield name, None, f"line {n}: invalid JSON ({exc.msg})"
            continue
        except (ValueError, RecursionError):  # a 5,000-digit number, nesting past the limit
            yield name, None, f"line {n}: JSON this program does not read (too large or deep)"
            continue
        if not isinstance(record, dict):
            yield name, None, f"line {n}: expected a JSON object"
            continue
        text = next((record[k] for k in ("content", "answer", "text") if k in record), None)
        if not isinstance(text, str):
            yield name, None, f"line {n}: field 'content' (or 'answer'/'text') must be a string"
            continue
        yield f"{path}:{record.get('id', n)}", text, None
