"""Charts drawn server-side as inline SVG (no JavaScript, no CDN): the dashboard's pictures of the stats."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

W, H = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 44, 44, 16, 36
COLORS = {"answered": "#2e7d5b", "escalated": "#d9822b", "line": "#1f5fa8", "saved": "#6a4fb3", "cat": "#1f5fa8"}


def _scale(value: float) -> tuple[float, float]:
    """(top, step): whole-number ticks of 1, 2 or 5 × 10^k, at most five steps up to `value`."""
    if value <= 0:
        return 1.0, 1.0
    raw = max(value / 5, 1.0)
    exp = 10 ** math.floor(math.log10(raw))
    step = next(m * exp for m in (1, 2, 5, 10) if m * exp >= raw)
    return step * math.ceil(value / step), step


def _nice_max(value: float) -> float:
    return _scale(value)[0]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _frame(
    inner: list[str], *, title: str, cls: str, y_max: float, right_pct: bool = False, y_unit: str = ""
) -> Markup:
    plot_h = H - PAD_T - PAD_B
    parts = [
        f'<svg class="chart {cls}" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    top, step = (100.0, 25.0) if y_unit == "%" else _scale(y_max)
    n = int(round(top / step))
    for i in range(n + 1):
        y = PAD_T + plot_h * i / n
        parts.append(f'<line class="grid" x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(top - step * i))}{escape(y_unit)}</text>'
        )
    if right_pct:
        for i in range(5):
            y = PAD_T + plot_h * i / 4
            parts.append(f'<text class="axis pct" x="{W - PAD_R + 6}" y="{y + 4:.1f}">{(4 - i) * 25}%</text>')
    parts.extend(inner)
    parts.append("</svg>")
    return Markup("".join(parts))


def _x_labels(labels: list[str], slot: float) -> list[str]:
    step = max(1, math.ceil(len(labels) / 10))
    out = []
    for i, label in enumerate(labels):
        if i % step == 0:
            x = PAD_L + slot * (i + 0.5)
            out.append(
                f'<text class="axis x" x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    return out


def volume_chart(buckets: list[dict], *, labels: list[str], title: str, names: dict[str, str]) -> Markup:
    """Stacked bars (answered / escalated) per bucket and the self-resolution rate (自己解決率) as a line on the right axis."""
    n = max(1, len(buckets))
    slot = (W - PAD_L - PAD_R) / n
    bar_w = max(2.0, slot * 0.7)
    y_max = _nice_max(max([b["questions"] for b in buckets] or [0]))
    plot_h = H - PAD_T - PAD_B
    base = PAD_T + plot_h
    inner, points = [], []
    for i, b in enumerate(buckets):
        x = PAD_L + slot * i + (slot - bar_w) / 2
        y = base
        for key in ("answered", "escalated"):
            h = plot_h * b[key] / y_max
            if h > 0:
                y -= h
                tip = f"{labels[i]} {names[key]}: {b[key]}"
                inner.append(
                    f'<rect class="bar {key}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{COLORS[key]}">'
                    f"<title>{escape(tip)}</title></rect>"
                )
        if b["self_resolution_rate"] is not None:
            points.append(
                (
                    PAD_L + slot * (i + 0.5),
                    PAD_T + plot_h * (1 - b["self_resolution_rate"]),
                    labels[i],
                    b["self_resolution_rate"],
                )
            )
    if len(points) > 1:
        inner.append(
            f'<polyline class="line deflection" fill="none" stroke="{COLORS["line"]}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            + '"/>'
        )
    for x, y, label, rate in points:
        inner.append(
            f'<circle class="point deflection" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS["line"]}">'
            f"<title>{escape(label)} {escape(names['deflection_rate'])}: {rate * 100:.0f}%</title></circle>"
        )
    inner.extend(_x_labels(labels, slot))
    return _frame(inner, title=title, cls="volume", y_max=y_max, right_pct=True)


def rate_chart(values: list[float | None], *, labels: list[str], title: str, name: str) -> Markup:
    """A 0–100 % line (gaps where there is no data)."""
    n = max(1, len(values))
    slot = (W - PAD_L - PAD_R) / n
    plot_h = H - PAD_T - PAD_B
    inner: list[str] = []
    run: list[tuple[float, float]] = []

    def flush() -> None:
        if len(run) > 1:
            inner.append(
                f'<polyline class="line rate" fill="none" stroke="{COLORS["line"]}" stroke-width="2" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                + '"/>'
            )
        run.clear()

    for i, v in enumerate(values):
        if v is None:
            flush()
            continue
        x, y = PAD_L + slot * (i + 0.5), PAD_T + plot_h * (1 - v)
        run.append((x, y))
        inner.append(
            f'<circle class="point rate" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS["line"]}">'
            f"<title>{escape(labels[i])} {escape(name)}: {v * 100:.0f}%</title></circle>"
        )
    flush()
    inner.extend(_x_labels(labels, slot))
    frame = _frame(inner, title=title, cls="rate", y_max=100, y_unit="%")
    return frame


def bar_chart(
    values: list[float], *, labels: list[str], title: str, name: str, unit: str, cls: str = "saved"
) -> Markup:
    n = max(1, len(values))
    slot = (W - PAD_L - PAD_R) / n
    bar_w = max(2.0, slot * 0.7)
    plot_h = H - PAD_T - PAD_B
    y_max = _nice_max(max(values or [0]))
    inner = []
    for i, v in enumerate(values):
        h = plot_h * v / y_max
        if h > 0:
            x = PAD_L + slot * i + (slot - bar_w) / 2
            inner.append(
                f'<rect class="bar {cls}" x="{x:.1f}" y="{PAD_T + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{COLORS["saved"]}"><title>{escape(labels[i])} {escape(name)}: {escape(_fmt(v))}{escape(unit)}</title></rect>'
            )
    inner.extend(_x_labels(labels, slot))
    return _frame(inner, title=title, cls=cls, y_max=y_max)


def category_chart(items: list[tuple[str, int, int]], *, title: str, names: dict[str, str]) -> Markup:
    """Horizontal stacked bars per category: (label, answered, escalated)."""
    row_h = 30
    height = max(60, PAD_T + row_h * len(items) + 24)
    left = 110
    width = W - left - 60
    total_max = _nice_max(max([a + e for _, a, e in items] or [0]))
    parts = [
        f'<svg class="chart categories" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, answered, escalated) in enumerate(items):
        y = PAD_T + i * row_h
        parts.append(f'<text class="axis" x="{left - 8}" y="{y + 18}" text-anchor="end">{escape(label)}</text>')
        x = float(left)
        for key, v in (("answered", answered), ("escalated", escalated)):
            w = width * v / total_max
            if w > 0:
                parts.append(
                    f'<rect class="bar cat {key}" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}" fill="{COLORS[key]}">'
                    f"<title>{escape(label)} {escape(names[key])}: {v}</title></rect>"
                )
                x += w
        parts.append(f'<text class="axis value" x="{x + 6:.1f}" y="{y + 18}">{answered + escalated}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
