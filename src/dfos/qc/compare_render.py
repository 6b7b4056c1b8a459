"""dfos compare's report as text (for a QC scientist: the summary line first, then the differences, most
important first) and as HTML (a self-contained page, or its body for the monitor).  Pure."""

from __future__ import annotations

import html
import json
from typing import Any

from dfos.qc.compare import CompareReport, Difference, ProductComparison

__all__ = ["render_html", "render_html_body", "render_text", "summary_line"]

_WIDTH = 60


def summary_line(report: CompareReport) -> str:
    """One line: agree or differ, on how many keys, how many differences of which severity."""
    compared = ", ".join(f"{n} {what}" for what, n in report.counts)
    keys = f"{len(report.keys)} key{'s' if len(report.keys) != 1 else ''}"
    if report.agree:
        return f"AGREE within tolerance on {keys} ({compared or 'nothing to compare'})"
    differing = sum(1 for k in report.keys if not report.agree_on(k))
    kinds = ", ".join(f"{n} {s.label}" for s, n in sorted(report.by_severity().items()))
    return (f"DIFFER on {differing} of {keys}: {len(report.differences)} difference"
            f"{'s' if len(report.differences) != 1 else ''} ({kinds}); compared {compared or 'nothing'}")


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return " ".join(f"{k}={_shown(v)}" for k, v in value.items())
    return str(value)


def _cut(text: str, width: int = _WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _text_row(rank: int, d: Difference) -> list[str]:
    lines = [f"{rank:>3}. [{d.severity.label}] {d.key} {d.mode} {d.kind.value}: {d.subject}"
             + (f"  {d.item}" if d.item else "")]
    lines.append(f"       A: {_cut(_shown(d.a), 110)}")
    lines.append(f"       B: {_cut(_shown(d.b), 110)}")
    if d.note:
        lines.append(f"       {d.note}")
    return lines


def render_text(report: CompareReport) -> str:
    """The report for a terminal: the summary line, where A and B are, the ranked differences, the products."""
    lines = [summary_line(report), f"A: {report.a}", f"B: {report.b}",
             f"keys: {' '.join(report.keys) or '(none)'}", f"tolerances: {report.tolerances}"]
    if report.differences:
        lines.append("")
        lines.append("Differences, most important first:")
        for rank, d in enumerate(report.differences, start=1):
            lines += _text_row(rank, d)
    if report.products:
        lines.append("")
        lines.append("Products (pixel statistics A | B, largest |A-B|):")
        for p in report.products:
            lines += _product_lines(p)
    return "\n".join(lines) + "\n"


def _stats(p: ProductComparison) -> str:
    first = p.hdus[0] if p.hdus else None
    if first is None:
        return p.note or "no image data"
    a, b = first.a, first.b
    left = f"mean {_shown(a.mean)} median {_shown(a.median)} rms {_shown(a.rms)}" if a else "-"
    right = f"mean {_shown(b.mean)} median {_shown(b.median)} rms {_shown(b.rms)}" if b else "-"
    return f"{left} | {right}"


def _product_lines(p: ProductComparison) -> list[str]:
    more = f" (+{len(p.hdus) - 1} HDUs)" if len(p.hdus) > 1 else ""
    return [f"  {p.key} {p.ab} {p.catg} {p.a_name}: max |A-B| {_shown(p.max_abs_diff)}{more}",
            f"      {_stats(p)}"]


_CSS = """
body{font-family:sans-serif;margin:1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;font-size:90%}
th{background:#eee}
.agree{color:#060;font-weight:bold}.differ{color:#a00;font-weight:bold}
.s1{background:#fdd}.s2{background:#fec}.s3{background:#ffd}.s4{background:#eef}.s5{background:#efe}.s6{background:#f4f4f4}
td.v{font-family:monospace;max-width:40em;overflow-wrap:anywhere}
"""


def _cell(value: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{html.escape(_shown(value))}</td>"


def render_html_body(report: CompareReport) -> str:
    """The report as an HTML fragment (no <html>/<head>): for a page of the monitor."""
    state = "agree" if report.agree else "differ"
    parts = [f'<p class="{state}">{html.escape(summary_line(report))}</p>',
             "<table>", *(f"<tr><th>{k}</th>{_cell(v)}</tr>" for k, v in
                          (("A", report.a), ("B", report.b), ("tolerances", report.tolerances))), "</table>"]
    if report.keys:
        parts.append("<table><tr><th>key</th><th>result</th></tr>")
        for key in report.keys:
            ok = report.agree_on(key)
            parts.append(f'<tr><td>{html.escape(key)}</td><td class="{"agree" if ok else "differ"}">'
                         f'{"agree" if ok else "differ"}</td></tr>')
        parts.append("</table>")
    if report.differences:
        parts.append("<h3>Differences, most important first</h3><table><tr><th>#</th><th>severity</th><th>key</th>"
                     "<th>mode</th><th>kind</th><th>subject</th><th>item</th><th>A</th><th>B</th><th>note</th></tr>")
        for rank, d in enumerate(report.differences, start=1):
            parts.append(f'<tr class="s{int(d.severity)}"><td>{rank}</td>' + "".join(
                (_cell(d.severity.label), _cell(d.key), _cell(d.mode), _cell(d.kind.value), _cell(d.subject),
                 _cell(d.item), _cell(d.a, "v"), _cell(d.b, "v"), _cell(d.note))) + "</tr>")
        parts.append("</table>")
    if report.products:
        parts.append("<h3>Products</h3><table><tr><th>key</th><th>AB</th><th>PRO.CATG</th><th>product</th>"
                     "<th>HDU</th><th>mean A</th><th>mean B</th><th>median A</th><th>median B</th><th>rms A</th>"
                     "<th>rms B</th><th>max |A-B|</th><th>note</th></tr>")
        for p in report.products:
            for h in p.hdus or ():
                parts.append("<tr>" + "".join((
                    _cell(p.key), _cell(p.ab), _cell(p.catg), _cell(p.a_name), _cell(h.hdu),
                    _cell(h.a and h.a.mean), _cell(h.b and h.b.mean), _cell(h.a and h.a.median),
                    _cell(h.b and h.b.median), _cell(h.a and h.a.rms), _cell(h.b and h.b.rms),
                    _cell(h.max_abs_diff), _cell(h.note or p.note))) + "</tr>")
        parts.append("</table>")
    return "\n".join(parts) + "\n"


def render_html(report: CompareReport) -> str:
    """A self-contained HTML page (no scripts, no outside resources); the JSON report is embedded for tools."""
    data = json.dumps(report.to_dict()).replace("<", "\\u003c")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dfos compare</title>"
            f"<style>{_CSS}</style></head><body>\n<h1>dfos compare</h1>\n{render_html_body(report)}"
            f'<script type="application/json" id="report">{data}</script>\n</body></html>\n')
