"""The pieces every HTML report page is made of: text made safe to show, values cut to a length, the page frame and
the statuses chart (inline SVG).

What must hold: every piece of report text passes `shown` (lone surrogates and control characters become visible
escapes, so the page always encodes to UTF-8, and then HTML escaping, so text a client sent is text, never markup);
a long value ends in a visible "[truncated …]"; the page loads nothing (no script, no external style, font or image,
and a Content-Security-Policy that forbids any fetch), so it opens offline and cannot call out."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

VALUE_LIMIT = 2000  # characters of one shown value (a body, an actual answer) before it is cut
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

STYLE = """
:root { color-scheme: light; --ok: #2e7d32; --redirect: #1565c0; --client: #ef6c00; --server: #c62828; --other: #757575; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #212121; }
h1 { font-size: 1.4em; margin: 0 0 .3em; } h2 { font-size: 1.15em; margin: 1.4em 0 .4em; }
.verdict { font-weight: 600; padding: .15em .5em; border-radius: 3px; color: #fff; }
.verdict.pass { background: var(--ok); } .verdict.fail { background: var(--server); }
table { border-collapse: collapse; } td, th { padding: .2em .6em; text-align: left; vertical-align: top; }
table.facts th { font-weight: 600; color: #555; }
table.ops { width: 100%; font-size: 13px; } table.ops tr { border-bottom: 1px solid #eee; }
table.ops td { white-space: nowrap; padding: .1em .5em; } table.ops td.path { white-space: normal; word-break: break-all; }
table.ops td.n { text-align: right; } table.ops td.bad { color: var(--server); font-weight: 600; }
tr.differs { background: #fff3e0; }
details.op { border: 1px solid #ddd; border-radius: 4px; margin: .4em 0; padding: .3em .6em; }
details.op > summary { cursor: pointer; } details.op.has-findings { border-color: var(--server); }
.finding { border-left: 4px solid var(--server); margin: .6em 0; padding: .2em .8em; background: #fafafa; }
.finding h4 { margin: .2em 0; font-size: 1em; }
.check { font-family: ui-monospace, monospace; background: #eee; padding: 0 .3em; border-radius: 2px; }
pre { white-space: pre-wrap; word-break: break-all; background: #f5f5f5; padding: .4em .6em; margin: .2em 0;
      max-height: 24em; overflow: auto; font: 12px/1.4 ui-monospace, monospace; }
.truncated { color: var(--server); font-style: italic; }
.muted { color: #757575; } dl { margin: .2em 0; } dt { font-weight: 600; margin-top: .3em; } dd { margin-left: 1.2em; }
#only-findings:checked ~ #operations details.op:not(.has-findings) { display: none; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.s2xx { fill: var(--ok); } .s3xx { fill: var(--redirect); } .s4xx { fill: var(--client); } .s5xx { fill: var(--server); }
.sother { fill: var(--other); }
"""


def shown(value: object) -> str:
    """`value` as HTML text: lone surrogates as `\\udXXX`, control characters as `\\xNN`, then escaped (quotes too)."""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return html.escape(text, quote=True)


def as_text(value: Any) -> str:
    """A report value as readable text: strings as they are, other JSON data indented."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def excerpt(value: Any, limit: int = VALUE_LIMIT) -> str:
    """`value` in a <pre>, cut after `limit` characters with a visible note of how much was left out."""
    text = as_text(value)
    if len(text) <= limit:
        return f"<pre>{shown(text)}</pre>"
    note = f"[truncated: {len(text) - limit} more characters of {len(text)}]"
    return f'<pre>{shown(text[:limit])}\n<span class="truncated">{note}</span></pre>'


def facts(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of (label, already shown HTML)."""
    body = "".join(f"<tr><th>{shown(label)}</th><td>{cell}</td></tr>" for label, cell in rows)
    return f'<table class="facts">{body}</table>'


def page(title: str, body: str) -> str:
    """The whole document: inline style only, nothing fetched, nothing run."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{shown(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def status_class(status: str) -> str:
    """The chart colour of a status: 2xx, 3xx, 4xx, 5xx, or other (no response, undeclared)."""
    return f"s{status[0]}xx" if len(status) == 3 and status.isdigit() and status[0] in "2345" else "sother"


def counts_of(value: Any) -> dict[str, int]:
    """A report's statuses mapping as {status: count}, whatever a hand-edited file holds (bad entries left out)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}


LABEL_WIDTH, BAR_WIDTH, ROW, GAP = 250, 560, 16, 6


def statuses_chart(rows: Sequence[tuple[str, Sequence[tuple[str, Mapping[str, int]]]]]) -> str:
    """A horizontal stacked bar per series of each operation: `rows` is [(operation, [(series label, statuses)])],
    one <g class="op-bar" data-operation=…> per operation, one <rect> per status (its count in a <title>)."""
    most = max([sum(counts.values()) for _, series in rows for _, counts in series] + [1])
    height_of = [max(1, len(series)) * ROW + GAP for _, series in rows]
    legend_height = 22
    height = legend_height + sum(height_of)
    parts = [_legend()]
    y = legend_height
    for (operation, series), row_height in zip(rows, height_of, strict=True):
        parts.append(f'<g class="op-bar" data-operation="{shown(operation)}">')
        parts.append(f'<text x="0" y="{y + ROW - 4}">{shown(_short(operation))}</text>')
        for index, (label, counts) in enumerate(series):
            parts.append(_bar(label, counts, y + index * ROW, most))
        parts.append("</g>")
        y += row_height
    width = LABEL_WIDTH + BAR_WIDTH + 80
    return (
        f'<svg class="statuses-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>HTTP statuses per operation</title>{"".join(parts)}</svg>'
    )


def _bar(label: str, counts: Mapping[str, int], y: int, most: int) -> str:
    x = float(LABEL_WIDTH)
    pieces = [f'<text x="{LABEL_WIDTH - 18}" y="{y + ROW - 4}" class="series">{shown(label)}</text>'] if label else []
    for status, count in sorted(counts.items()):
        width = BAR_WIDTH * count / most
        pieces.append(
            f'<rect class="{status_class(status)}" data-status="{shown(status)}" x="{x:.1f}" y="{y + 2}" '
            f'width="{max(width, 1):.1f}" height="{ROW - 4}"><title>{shown(status)}: {count}</title></rect>'
        )
        x += width
    total = sum(counts.values())
    pieces.append(f'<text x="{x + 4:.1f}" y="{y + ROW - 4}" class="total">{total}</text>')
    return "".join(pieces)


def _legend() -> str:
    items = [("s2xx", "2xx"), ("s3xx", "3xx"), ("s4xx", "4xx"), ("s5xx", "5xx"), ("sother", "no response / other")]
    parts, x = [], LABEL_WIDTH
    for css, label in items:
        parts.append(f'<rect class="{css}" x="{x}" y="4" width="12" height="12"></rect><text x="{x + 16}" y="14">{label}</text>')
        x += 40 + 7 * len(label)
    return f'<g class="legend">{"".join(parts)}</g>'


def _short(name: str, limit: int = 36) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
