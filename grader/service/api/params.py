"""Query parameters, parsed strictly: a bad value is a 422 naming the parameter."""

from __future__ import annotations

from flask import request

from ..errors import APIError


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """An integer within [lo, hi], or default when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise APIError(422, "invalid_parameter", f"{name} must be an integer", field=name) from exc
    if not lo <= value <= hi:
        raise APIError(
            422, "invalid_parameter", f"{name} must be between {lo} and {hi}", field=name
        )
    return value


def positive_int_arg(name: str) -> int | None:
    """A positive integer that fits an id column, or None when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**31):
        raise APIError(422, "invalid_parameter", f"{name} must be a positive integer", field=name)
    return int(raw)
