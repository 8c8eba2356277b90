"""Accessibility checks in the browser with axe-core (vendored under vendor/axe-core, MPL-2.0):
every page the browser tests visit must have no serious or critical violation."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@lru_cache(maxsize=1)
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now (WCAG 2.1 A and AA).

    Evaluated through the DevTools protocol, which the pages' strict CSP does not block."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    found = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
            const r = await axe.run(document, {runOnly: tags});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in found if v["impact"] in SERIOUS]


def assert_accessible(page: Any) -> None:
    bad = violations(page)
    assert not bad, f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in bad
    )
