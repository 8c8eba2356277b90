"""Paging bounds that come from the settings, not from the query models."""

from __future__ import annotations

from flask import current_app

from ..contracts.queries import Paging
from ..errors import APIError


def page_size(args: Paging) -> int:
    """``per_page``, or PAGE_SIZE when absent; a 422 above MAX_PAGE_SIZE."""
    cap = int(current_app.config["MAX_PAGE_SIZE"])
    if args.per_page is None:
        return min(int(current_app.config["PAGE_SIZE"]), cap)
    if args.per_page > cap:
        raise APIError(
            422, "invalid_parameter", f"per_page must be between 1 and {cap}", field="per_page"
        )
    return args.per_page
