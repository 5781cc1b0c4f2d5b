"""Inline SVG charts of the audit report (no JavaScript, no external resource).

Drawn by :mod:`dpsynth.audit.html`: the risk bars with their intervals, ROC
curves on log axes, the per-record exposure histogram and real-vs-synthetic bar
charts. Every string is escaped here; malformed numbers draw as 0.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

_GREY, _INK, _MUTED, _GRID = "#8c959f", "#1f2328", "#57606a", "#d8dee4"
_REAL, _SYNTHETIC = "#0072b2", "#e69f00"
_COLOURS = {"pass": "#1a7f37", "fail": "#c62828", "inconclusive": "#9a6700"}
# Okabe-Ito, colour-blind safe, yellow left out (too pale on white)
_PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000")
_MAX_POINTS = 2000


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _seq(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _float(value: object) -> float | None:
    """The value as a finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _floats(values: object) -> list[float]:
    """The finite numbers of a list, non-numbers as 0 (only for drawing)."""
    return [_float(v) or 0.0 for v in _seq(values)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _tick_label(x: float) -> str:
    return f"{x:g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.0e}"


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>{body}</svg>'
    )


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items()
    )
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{_e(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {style}/>'


def _scale(
    low: float, high: float, start: float, end: float
) -> Callable[[float], float]:
    """The linear map of [low, high] onto [start, end]."""
    return lambda v: start + (v - low) / ((high - low) or 1.0) * (end - start)


def _short(text: object, limit: int) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _risk_chart(attacks: list[Mapping[str, Any]], tolerance: float | None) -> str:
    """Horizontal bars of risk with CI whiskers and the tolerance as a dashed line."""
    values = [0.0] + ([tolerance] if tolerance is not None else [])
    for a in attacks:
        values += [v for v in [_float(a.get("risk"))] + _floats(a.get("ci")) if v]
    low, high = min(values), max(values)
    pad = 0.05 * ((high - low) or 1.0)
    ticks = _ticks(low - (pad if low < 0 else 0), high + pad)
    top, height = 30, 30 + 30 * len(attacks) + 36
    sx = _scale(min(ticks[0], low), max(ticks[-1], high), 230, 880)
    parts = []
    for t in ticks:
        parts.append(_line(sx(t), top - 6, sx(t), height - 30, f'stroke="{_GRID}"'))
        parts.append(_text(sx(t), height - 14, _tick_label(t), text_anchor="middle"))
    for i, a in enumerate(attacks):
        parts.append(_risk_row(a, i, sx, y=top + 30 * i + 15))
    parts.append(_line(sx(0), top - 6, sx(0), height - 30, f'stroke="{_MUTED}"'))
    if tolerance is not None:
        x, red = sx(tolerance), _COLOURS["fail"]
        dash = f'stroke="{red}" stroke-width="2" stroke-dasharray="6 4"'
        parts.append(_line(x, top - 12, x, height - 30, dash))
        label = f"tolerance {tolerance:g}"
        anchor = "end" if x > 760 else "start"
        parts.append(
            _text(x + (-4 if x > 760 else 4), 14, label, fill=red, text_anchor=anchor)
        )
    label = "Risk per attack with confidence intervals"
    return _svg(900, height, label, "".join(parts))


def _risk_row(
    a: Mapping[str, Any], i: int, sx: Callable[[float], float], *, y: float
) -> str:
    """One attack's label, bar and whisker in the risk chart."""
    diagnostic = a.get("diagnostic") is True
    colour = _GREY if diagnostic else _COLOURS.get(_str(a.get("verdict")), _GREY)
    name = _short(a.get("name", f"attack {i + 1}"), 30)
    name += " (diagnostic)" if diagnostic else ""
    parts = [
        _text(220, y + 4, name, text_anchor="end", fill=_MUTED if diagnostic else _INK)
    ]
    risk = _float(a.get("risk"))
    if risk is not None:
        x0, x1 = sorted((sx(0.0), sx(risk)))
        opacity = "0.45" if diagnostic else "0.85"
        parts.append(
            f'<rect x="{x0:.1f}" y="{y - 8:.1f}" width="{max(x1 - x0, 1):.1f}" '
            f'height="16" fill="{colour}" fill-opacity="{opacity}"/>'
        )
    ci = _floats(a.get("ci"))
    if len(ci) == 2:
        whisker = f'stroke="{_INK}" stroke-width="1.5"'
        parts.append(_line(sx(ci[0]), y, sx(ci[1]), y, whisker))
        parts += [_line(sx(c), y - 6, sx(c), y + 6, whisker) for c in ci]
    return "".join(parts)


def _log_position(value: float, start: float, length: float) -> float:
    """Position of a rate on a log axis from 1e-4 (at `start`) to 1."""
    return start + (math.log10(min(max(value, 1e-4), 1.0)) + 4) / 4 * length


def _roc_chart(curves: list[tuple[str, list[float], list[float], bool]]) -> str:
    """ROC curves on log-log axes, FPR and TPR from 1e-4 to 1, with the diagonal."""
    left, top, size = 64, 14, 380

    def sx(v: float) -> float:
        return _log_position(v, left, size)

    def sy(v: float) -> float:
        return top + size - _log_position(v, 0.0, size)

    parts = []
    for d in range(5):
        v = 10.0 ** (d - 4)
        parts.append(_line(sx(v), top, sx(v), top + size, f'stroke="{_GRID}"'))
        parts.append(_line(left, sy(v), left + size, sy(v), f'stroke="{_GRID}"'))
        parts.append(_text(sx(v), top + size + 18, f"{v:g}", text_anchor="middle"))
        parts.append(_text(left - 6, sy(v) + 4, f"{v:g}", text_anchor="end"))
    for v in (1e-3, 1e-2):
        dots = f'stroke="{_MUTED}" stroke-dasharray="2 3"'
        parts.append(_line(sx(v), top, sx(v), top + size, dots))
    diagonal = f'stroke="{_MUTED}" stroke-dasharray="6 4"'
    parts.append(_line(sx(1e-4), sy(1e-4), sx(1), sy(1), diagonal))
    for i, (_, fpr, tpr, diagnostic) in enumerate(curves):
        n = min(len(fpr), len(tpr))
        step = max(1, n // _MAX_POINTS)
        idx = list(range(0, n, step)) + ([n - 1] if n and (n - 1) % step else [])
        points = " ".join(f"{sx(fpr[j]):.1f},{sy(tpr[j]):.1f}" for j in idx)
        dash = ' stroke-dasharray="5 3"' if diagnostic else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke-width="2"'
            f' stroke="{_PALETTE[i % len(_PALETTE)]}"{dash}/>'
        )
    frame = f'stroke="{_INK}" fill="none"'
    parts.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" {frame}/>')
    parts.append(
        _text(
            left + size / 2,
            top + size + 38,
            "false positive rate",
            text_anchor="middle",
        )
    )
    parts.append(
        f'<text x="14" y="{top + size / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + size / 2})">true positive rate</text>'
    )
    return _svg(
        left + size + 16, top + size + 48, "ROC curves, log-log axes", "".join(parts)
    )


def _histogram(edges: list[float], counts: list[float]) -> str:
    """Vertical bars over bin edges, each labelled with its count."""
    n = min(len(counts), len(edges) - 1)
    left, right, top, bottom = 60, 880, 20, 200
    low, high = edges[0], edges[n]
    peak = max(max(counts[:n]), 0.0) or 1.0
    yticks = _ticks(0.0, peak, 4)
    peak = max(peak, yticks[-1])

    sx, sy = _scale(low, high, left, right), _scale(0.0, peak, bottom, top)

    parts = []
    for t in yticks:
        parts.append(_line(left, sy(t), right, sy(t), f'stroke="{_GRID}"'))
        parts.append(_text(left - 6, sy(t) + 4, _tick_label(t), text_anchor="end"))
    for i in range(n):
        x0, x1, c = sx(edges[i]), sx(edges[i + 1]), counts[i]
        h = max(bottom - sy(c), 1.0 if c > 0 else 0.0)
        parts.append(
            f'<rect x="{x0 + 1:.1f}" y="{bottom - h:.1f}" height="{h:.1f}" '
            f'width="{max(x1 - x0 - 2, 1):.1f}" fill="{_PALETTE[0]}"/>'
        )
        if c > 0 and n <= 40:
            parts.append(
                _text(
                    (x0 + x1) / 2,
                    bottom - h - 4,
                    f"{c:g}",
                    text_anchor="middle",
                    class_="small",
                )
            )
    xticks = edges[: n + 1] if n <= 12 else _ticks(low, high, 8)
    for t in xticks:
        parts.append(_text(sx(t), bottom + 18, _tick_label(t), text_anchor="middle"))
    parts.append(_line(left, bottom, right, bottom, f'stroke="{_INK}"'))
    parts.append(
        _text((left + right) / 2, bottom + 40, "exposure score", text_anchor="middle")
    )
    parts.append(_text(14, top - 6, "records", fill=_MUTED))
    return _svg(900, bottom + 50, "Histogram of per-record exposure", "".join(parts))


def _bars(labels: list[str], real: list[float], synthetic: list[float]) -> str:
    """Grouped bars of the real and synthetic shares of one column's categories."""
    n = len(labels)
    left, right, top, bottom = 44, 412, 10, 160
    yticks = _ticks(0.0, max(real + synthetic + [1e-9]), 4)
    peak = yticks[-1] or 1.0
    group = (right - left) / max(n, 1)
    width = max(group * 0.4, 0.5)

    def sy(v: float) -> float:
        return bottom - min(max(v, 0.0), peak) / peak * (bottom - top)

    parts = []
    for t in yticks:
        parts.append(_line(left, sy(t), right, sy(t), f'stroke="{_GRID}"'))
        parts.append(
            _text(
                left - 5, sy(t) + 4, _tick_label(t), text_anchor="end", class_="small"
            )
        )
    every = max(1, math.ceil(n / 12))
    for i in range(n):
        x = left + group * i + group * 0.1
        for j, (values, colour) in enumerate(((real, _REAL), (synthetic, _SYNTHETIC))):
            y = sy(values[i])
            parts.append(
                f'<rect x="{x + j * width:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{bottom - y:.1f}" fill="{colour}"/>'
            )
        if i % every == 0:
            cx = x + width
            parts.append(
                f'<text x="{cx:.1f}" y="{bottom + 12}" text-anchor="end" class="small" '
                f'transform="rotate(-40 {cx:.1f} {bottom + 12})">'
                f"{_e(_short(labels[i], 14))}</text>"
            )
    parts.append(_line(left, bottom, right, bottom, f'stroke="{_INK}"'))
    return _svg(420, 236, "Real and synthetic shares per category", "".join(parts))


# -------------------------------------------------------------------- sections
