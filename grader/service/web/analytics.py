"""The grading analytics page of an assignment (operations.analytics)."""

from __future__ import annotations

from flask import render_template
from werkzeug.wrappers import Response

from ..auth import STAFF
from ..db import get_db
from ..downloads import stream_download
from ..operations import analytics as stats
from ..operations.assignments import get_assignment
from .blueprint import bp
from .charts import paired_bars
from .session import signed_in


@bp.get("/dashboard/<slug>/analytics")
@signed_in(*STAFF)
def analytics(slug: str) -> str:
    session = get_db().session
    a = get_assignment(session, slug)
    data = stats.analytics(session, a)
    rows = [c for c in data["criteria"] if c["grader_mean"] is not None]
    chart = (
        paired_bars([(c["name"], c["grader_mean"], c["final_mean"]) for c in rows])
        if rows
        else None
    )
    # Each criterion's distribution, the grader's beside the final, with its table.
    spreads = {
        c["id"]: paired_bars(
            [(f"{b['low']:g}–{b['high']:g}", b["grader"], b["final"]) for b in c["distribution"]],
            width=360,
            height=150,
        )
        for c in data["criteria"]
        if data["answers"]
    }
    return render_template(
        "web/analytics.html", assignment=a, data=data, chart=chart, spreads=spreads
    )


@bp.get("/dashboard/<slug>/analytics.csv")
@signed_in(*STAFF)
def analytics_csv(slug: str) -> Response:
    a = get_assignment(get_db().session, slug)
    return stream_download(stats.analytics_csv, a.id, filename=f"{a.slug}-analytics.csv")
