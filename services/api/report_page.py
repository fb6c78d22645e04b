"""The printable HTML report (``GET /reports``): goal attainment, funnel, time to first touch, breaches
per queue over time and rejection reasons, as server-rendered HTML with inline SVG charts.

No scripts and no front-end build: the page is the SLA report (``GET /v1/reports/sla``) and the
scorecard of the same window, drawn. Every figure carries ``data-figure`` with its raw value, which
the browser test compares with the JSON report.
"""

from __future__ import annotations

from html import escape

from schemas.reports import Scorecard, SlaReport

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2733}
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #d8dee6}
.meta{color:#5b6775}table{border-collapse:collapse;width:100%}td,th{padding:.25rem .5rem;text-align:left;
border-bottom:1px solid #eef1f4}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.met{color:#17803d}.on_track{color:#17803d}.at_risk{color:#b26a00}.missed{color:#b42318}.no_data{color:#5b6775}
svg text{font:12px system-ui,sans-serif;fill:#1d2733}section{break-inside:avoid}
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}}
"""
_BAR = "#3b6fb6"
_LABELS = ("≤15 min", "≤30 min", "≤1 h", "≤2 h", "≤4 h", "≤8 h", "≤1 day", "≤2 days", "more")


def render_report_page(report: SlaReport, scorecard: Scorecard) -> str:
    """The whole page for one window."""
    total = report.groups[0]
    title = f"SLA report {report.from_:%Y-%m-%d} to {report.to:%Y-%m-%d}"
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>{escape(report.agreement_version)} · [{report.from_:%Y-%m-%d %H:%M}, "
        f"{report.to:%Y-%m-%d %H:%M}) UTC · made {report.generated_at:%Y-%m-%d %H:%M} UTC</p>",
        _scorecard(scorecard),
        _funnel(report),
        _touch(report),
        _breaches(report),
        _reasons(total.marketing.rejected_by_reason),
        "</body></html>",
    ]
    return "".join(parts)


def _figure(name: str, value: float | None, shown: str) -> str:
    raw = "" if value is None else f"{value:g}"
    return f"<span data-figure='{escape(name)}' data-value='{raw}'>{escape(shown)}</span>"


def _scorecard(card: Scorecard) -> str:
    rows = []
    for item in card.items:
        value, target = item.actual_value, item.target_value
        ratio = value / target if value is not None and target else 0.0
        share = not item.item.startswith("mqls")
        actual = "-" if value is None else f"{value:.1%}" if share else f"{value:g}"
        status = escape(item.status.replace("_", " "))
        rows.append(
            f"<tr><td>{escape(item.side)}</td><td>{escape(item.item)}</td><td>{escape(item.target)}</td>"
            f"<td class='n'>{_figure(f'goal.{item.item}', value, actual)}</td>"
            f"<td>{_meter(min(ratio, 1.0))}</td>"
            f"<td class='{item.status}' data-status='{escape(item.item)}'>{status}</td>"
            f"<td>{'<br>'.join(escape(r) for r in item.remediation)}</td></tr>"
        )
    review = card.review
    schedule = ", ".join(
        part for part in (
            f"every {review.every_months} months" if review.every_months else "",
            f"next review {review.next_review_on}" if review.next_review_on else "",
            f"expiry review {review.expiry_review_on}" if review.expiry_review_on else "",
            f"led by {review.owner}" if review.owner else "",
        ) if part
    )  # fmt: skip
    return (
        "<section><h2>Goals and obligations</h2><table><tr><th>side</th><th>item</th><th>target</th>"
        "<th class='n'>actual</th><th>attainment</th><th>status</th><th>prescribed if missed</th></tr>"
        + "".join(rows)
        + f"</table><p class='meta'>{card.missed} missed, {card.at_risk} at risk. "
        f"Review: {escape(schedule)}.</p></section>"
    )


def _meter(share: float) -> str:
    width = round(120 * share)
    return (
        f"<svg width='120' height='10' role='img' aria-label='{share:.0%}'>"
        "<rect width='120' height='10' fill='#eef1f4'/>"
        f"<rect width='{width}' height='10' fill='{_BAR}'/></svg>"
    )


def _bars(rows: list[tuple[str, str, float]], figure_prefix: str, width: int = 420) -> str:
    """A horizontal bar chart: (label, figure name, value) per bar, scaled to the largest value."""
    if not rows:
        return "<p class='meta'>Nothing in this window.</p>"
    top = max(value for _, _, value in rows) or 1.0
    height = 22 * len(rows)
    bars = []
    for index, (label, name, value) in enumerate(rows):
        y = index * 22
        length = round((width - 200) * value / top)
        bars.append(
            f"<text x='0' y='{y + 15}'>{escape(label)}</text>"
            f"<rect x='150' y='{y + 4}' width='{length}' height='14' fill='{_BAR}'/>"
            f"<text x='{155 + length}' y='{y + 15}' data-figure='{escape(figure_prefix + name)}' "
            f"data-value='{value:g}'>{value:g}</text>"
        )
    return f"<svg width='{width}' height='{height}' role='img'>{''.join(bars)}</svg>"


def _funnel(report: SlaReport) -> str:
    total = report.groups[0]
    rows = [
        ("leads", "leads", total.marketing.leads),
        ("MQLs", "mqls", total.marketing.mqls),
        ("SQLs", "sqls", total.marketing.sqls),
        ("handed off", "handed_off", total.marketing.handed_off),
        ("accepted", "accepted", total.sales.accepted),
        ("converted", "converted", total.sales.converted),
    ]
    return f"<section><h2>Funnel</h2>{_bars([(a, b, float(c)) for a, b, c in rows], 'funnel.')}</section>"


def _touch(report: SlaReport) -> str:
    touch = report.groups[0].sales.time_to_first_touch
    rows = [
        (label, str(i), float(bucket.count))
        for i, (label, bucket) in enumerate(zip(_LABELS, touch.histogram, strict=True))
    ]
    p50 = "-" if touch.p50_seconds is None else f"{touch.p50_seconds / 3600:.1f} h"
    p90 = "-" if touch.p90_seconds is None else f"{touch.p90_seconds / 3600:.1f} h"
    return (
        "<section><h2>Time to first touch (business time)</h2>"
        f"<p>{_figure('touch.count', touch.count, str(touch.count))} first touches; median "
        f"{_figure('touch.p50_seconds', touch.p50_seconds, p50)}, 90th percentile "
        f"{_figure('touch.p90_seconds', touch.p90_seconds, p90)}</p>"
        f"{_bars(rows, 'touch.bucket.')}</section>"
    )


def _breaches(report: SlaReport) -> str:
    queues = sorted({row.queue for row in report.breaches_by_week})
    weeks = sorted({row.week for row in report.breaches_by_week})
    if not weeks:
        return "<section><h2>Breaches per queue and week</h2><p class='meta'>No breaches.</p></section>"
    counts = {(row.week, row.queue): row.breaches for row in report.breaches_by_week}
    header = "".join(f"<th class='n'>{week:%Y-%m-%d}</th>" for week in weeks)
    body = "".join(
        f"<tr><td>{escape(queue)}</td>"
        + "".join(_cell(f"breaches.{queue}.{week}", counts.get((week, queue), 0)) for week in weeks)
        + "</tr>"
        for queue in queues
    )
    return (
        "<section><h2>Breaches per queue and week (from Monday)</h2><table><tr><th>queue</th>"
        f"{header}</tr>{body}</table></section>"
    )


def _cell(name: str, count: int) -> str:
    return f"<td class='n'>{_figure(name, count, str(count))}</td>"


def _reasons(reasons: dict[str, int]) -> str:
    rows = [
        (reason, reason, float(count)) for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])
    ]
    return f"<section><h2>Rejection reasons</h2>{_bars(rows, 'rejected.')}</section>"
