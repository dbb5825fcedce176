"""Templates and the small server-drawn charts (inline SVG: no script, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

#: The level bands' colours; each passes WCAG AA (4.5:1) as text on white.
LEVEL_COLOURS = {"normal": "#1d6b35", "elevated": "#8a5300", "highest": "#b3261e"}


def when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` UTC (what analysts compare across pages)."""
    if not value:
        return ""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return at.strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["when"] = when
templates.env.globals["LEVEL_COLOURS"] = LEVEL_COLOURS


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def histogram(scores: Sequence[int], bins: int = 10) -> dict[str, Any]:
    """Counts of risk scores 0-100 in ``bins`` equal bins, with bar geometry for the SVG."""
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s)) * bins // 100)] += 1
    top = max(counts) or 1
    width = 100 // bins
    bars = [
        {
            "x": i * width,
            "count": c,
            "height": round(100 * c / top, 1),
            "label": f"{i * width}-{i * width + width - 1}",
        }
        for i, c in enumerate(counts)
    ]
    bars[-1]["label"] = f"{(bins - 1) * width}-100"
    return {"bars": bars, "total": len(scores)}


def reason_bars(reasons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reason as a signed bar: half-widths scaled to the largest |contribution|."""
    top = max((abs(float(r["contribution"])) for r in reasons), default=0.0) or 1.0
    return [
        {
            **r,
            "width": round(50 * abs(float(r["contribution"])) / top, 1),
            "raises": float(r["contribution"]) > 0,
        }
        for r in reasons
    ]
