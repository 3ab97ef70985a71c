"""Coordinates of the project pages' charts, drawn by the server as inline SVG (decision 0013):
the EVM S-curve and the resource histogram."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

S_CURVE = {"width": 640, "height": 220, "left": 64, "right": 12, "top": 10, "bottom": 26}
HISTOGRAM = {"width": 640, "height": 120, "left": 36, "right": 8, "top": 8, "bottom": 20}


def _scale(top: float, inner: float) -> Any:
    return lambda value: inner * (1 - min(max(value / top, 0.0), 1.0)) if top > 0 else inner


def s_curve(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Polylines of cumulative PV, EV and AC per period end (EV and AC stop at the status date)."""
    if not points:
        return {"empty": True}
    c = S_CURVE
    inner_w = c["width"] - c["left"] - c["right"]
    inner_h = c["height"] - c["top"] - c["bottom"]
    keys = ("pv_cum", "ev_cum", "ac_cum")
    top = max([float(p[k]) for p in points for k in keys if p[k] is not None] + [1.0]) * 1.05
    y = _scale(top, inner_h)
    step = inner_w / max(len(points) - 1, 1)
    lines = {}
    for key in keys:
        xy = [
            f"{c['left'] + i * step:.1f},{c['top'] + y(float(p[key])):.1f}"
            for i, p in enumerate(points)
            if p[key] is not None
        ]
        lines[key[:2]] = " ".join(xy)
    grid = [{"y": c["top"] + y(top * s), "label": top * s} for s in (0, 0.5, 1)]
    first: date = points[0]["period_end"]
    last: date = points[-1]["period_end"]
    return {"empty": False, "lines": lines, "grid": grid, "first": first, "last": last, **c}


def histogram(periods: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Bars of planned hours per period against capacity; bars above capacity flagged."""
    if not periods:
        return {"empty": True}
    c = HISTOGRAM
    inner_w = c["width"] - c["left"] - c["right"]
    inner_h = c["height"] - c["top"] - c["bottom"]
    top = max([float(p["hours"]) for p in periods] + [float(p["capacity"]) for p in periods])
    top = max(top, 1.0) * 1.1
    y = _scale(top, inner_h)
    width = inner_w / len(periods)
    bars = [
        {
            "x": round(c["left"] + i * width + 1, 1),
            "y": round(c["top"] + y(float(p["hours"])), 1),
            "w": round(max(width - 2, 1), 1),
            "h": round(inner_h - y(float(p["hours"])), 1),
            "cap_y": round(c["top"] + y(float(p["capacity"])), 1),
            **p,
        }
        for i, p in enumerate(periods)
    ]
    return {"empty": False, "bars": bars, "top": top, "base": c["top"] + inner_h, **c}
