"""A drift report, or two compared, as one self-contained HTML page (stdlib only: no template engine, no script).

What must hold: the page is made from the report's JSON form (what `write_json` writes and `load` reads back), so
verify, the proxy and `mockfabric diff` draw the same page from the same data; at the top the verdict, target, seed
and totals; a chart of statuses per operation that received requests; per operation its method, path, plane,
requests per phase, statuses, why it was skipped, and each finding with its check, title, message, the request
(method, path, query, headers, body), the answer's status and expected vs actual and the schema path where the report
holds them. Every text passes html_parts.shown, so nothing from a request or an answer becomes markup."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from .drift import PHASES, differences, finding_key
from .html_parts import counts_of, excerpt, facts, page, shown, statuses_chart

REQUEST_FIELDS = ("method", "path", "query", "headers", "body")


def render_report(data: Mapping[str, Any]) -> str:
    """The page of one drift report (its JSON form)."""
    operations = _operations(data)
    findings = [f for op in operations.values() for f in _findings(op)]
    unreached = data.get("unreached")
    bad = f"did not reach the service: {unreached}" if unreached else f"{len(findings)} distinct finding(s): does NOT conform"
    verdict = _verdict(not findings and not unreached, "conforms", bad)
    exercised = {name: op for name, op in operations.items() if _requests(op) or _findings(op)}
    body = [
        f"<h1>mockfabric drift report {verdict}</h1>",
        _summary(data, operations, findings),
        "<h2>Statuses per operation</h2>",
        _chart({name: [("", counts_of(op.get("statuses")))] for name, op in exercised.items()}, len(operations)),
        "<h2>Operations</h2>",
        _overview(operations),
        '<input type="checkbox" id="only-findings"> <label for="only-findings">only operations with findings</label>',
        f'<div id="operations">{"".join(_operation(i, name, op) for i, name, op in _numbered(operations))}</div>',
    ]
    return page(f"mockfabric drift report: {data.get('target', '')}", "\n".join(body))


def render_comparison(first: Mapping[str, Any], second: Mapping[str, Any], names: tuple[str, str]) -> str:
    """The page of `mockfabric diff A B`: what differs first (per operation, with the findings one report has and the
    other has not, in full), then both reports' figures side by side and a chart with a bar for each."""
    ops_a, ops_b = _operations(first), _operations(second)
    found = differences({"operations": ops_a}, {"operations": ops_b})
    verdict = _verdict(not found, "the reports agree", f"{sum(map(len, found.values()))} difference(s) in {len(found)} operation(s)")
    both = list(dict.fromkeys([*ops_a, *ops_b]))
    exercised = [n for n in both if any(_requests(ops.get(n)) or _findings(ops.get(n)) for ops in (ops_a, ops_b))]
    chart_rows = {
        n: [(label, counts_of((ops.get(n) or {}).get("statuses"))) for label, ops in (("A", ops_a), ("B", ops_b))] for n in exercised
    }
    body = [
        f"<h1>mockfabric drift reports compared {verdict}</h1>",
        _side_by_side(first, second, names, ops_a, ops_b),
        "<h2>Differences</h2>",
        _differences(found, ops_a, ops_b) if found else '<p class="muted">none: the same findings and statuses everywhere</p>',
        "<h2>Statuses per operation (A: first, B: second)</h2>",
        _chart(chart_rows, len(both)),
        "<h2>Operations side by side</h2>",
        _overview_pair(both, ops_a, ops_b, set(found)),
    ]
    return page(f"mockfabric diff: {names[0]} vs {names[1]}", "\n".join(body))


# --- reading a report's JSON form (tolerant: a hand-edited file may hold anything) -------------------------------
def _operations(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    operations = data.get("operations")
    if not isinstance(operations, Mapping):
        return {}
    return {str(name): dict(op) for name, op in operations.items() if isinstance(op, Mapping)}


def _findings(op: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    found = (op or {}).get("findings")
    return [dict(f) for f in found if isinstance(f, Mapping)] if isinstance(found, list) else []


def _requests(op: Mapping[str, Any] | None) -> int:
    value = (op or {}).get("requests")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _numbered(operations: Mapping[str, dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    return [(index, name, op) for index, (name, op) in enumerate(operations.items())]


# --- the pieces ----------------------------------------------------------------------------------------------------
def _verdict(passed: bool, good: str, bad: str) -> str:
    return f'<span class="verdict {"pass" if passed else "fail"}">{shown(good if passed else bad)}</span>'


def _when(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            pass
    return str(value)


def _summary(data: Mapping[str, Any], operations: Mapping[str, dict[str, Any]], findings: list[dict[str, Any]]) -> str:
    skipped = sum(1 for op in operations.values() if op.get("skipped"))
    occurrences = sum(f.get("occurrences", 1) if isinstance(f.get("occurrences"), int) else 1 for f in findings)
    rows = [
        ("target", shown(data.get("target", ""))),
        ("seed", shown(data.get("seed", ""))),
        ("examples per operation and mode", shown(data.get("max_examples", ""))),
        ("read-only / billable allowed", f"{shown(data.get('read_only', ''))} / {shown(data.get('allow_billable', ''))}"),
        ("started", shown(_when(data.get("started")))),
        ("seconds", shown(data.get("seconds", ""))),
        ("generated requests", shown(sum(_requests(op) for op in operations.values()))),
        ("operations", shown(f"{len(operations)} ({skipped} skipped)")),
        ("findings", shown(f"{len(findings)} distinct, {occurrences} occurrence(s)")),
    ]
    return facts(rows)


def _chart(rows: Mapping[str, list[tuple[str, dict[str, int]]]], total: int) -> str:
    left_out = total - len(rows)
    note = f'<p class="muted">{left_out} operation(s) received no request (skipped or not called): see the table.</p>'
    if not rows:
        return '<p class="muted">no operation received a request</p>'
    return statuses_chart(list(rows.items())) + (note if left_out else "")


def _statuses(op: Mapping[str, Any] | None) -> str:
    counts = counts_of((op or {}).get("statuses"))
    return shown(" ".join(f"{status}:{count}" for status, count in sorted(counts.items())))


def _phases(op: Mapping[str, Any]) -> list[str]:
    phases = op.get("phases")
    if not isinstance(phases, Mapping):
        phases = {}
    return [shown(phases.get(phase, 0)) for phase in PHASES]


def _overview(operations: Mapping[str, dict[str, Any]]) -> str:
    columns = ("operation", "method and path", "plane", "requests", *PHASES, "statuses", "findings", "skipped")
    head = "".join(f"<th>{h}</th>" for h in columns)
    rows = []
    for index, name, op in _numbered(operations):
        findings = len(_findings(op))
        cells = [
            (f'<a href="#op-{index}">{shown(name)}</a>', ""),
            (f"{shown(op.get('method', ''))} {shown(op.get('path', ''))}", "path"),
            (shown(op.get("plane", "")), ""),
            (shown(_requests(op)), "n"),
            *((phase, "n") for phase in _phases(op)),
            (_statuses(op), ""),
            (shown(findings), "n bad" if findings else "n"),
            (shown(op.get("skipped") or ""), "muted"),
        ]
        rows.append("<tr>" + "".join(f'<td class="{css}">{cell}</td>' for cell, css in cells) + "</tr>")
    return f'<table class="ops"><tr>{head}</tr>{"".join(rows)}</table>'


def _operation(index: int, name: str, op: Mapping[str, Any]) -> str:
    findings = _findings(op)
    classes = "op has-findings" if findings else "op"
    opened = " open" if findings else ""
    line = f"{shown(name)} <span class='muted'>{shown(op.get('method', ''))} {shown(op.get('path', ''))}</span>"
    counts = f"{_requests(op)} request(s), {len(findings)} finding(s)" + (f"; skipped: {op.get('skipped')}" if op.get("skipped") else "")
    rows = [
        ("plane", shown(op.get("plane", ""))),
        ("requests per phase", ", ".join(f"{phase} {count}" for phase, count in zip(PHASES, _phases(op), strict=True))),
        ("statuses", _statuses(op) or '<span class="muted">none</span>'),
    ]
    if op.get("skipped"):
        rows.append(("skipped", shown(op["skipped"])))
    details = "".join(_finding(f) for f in findings) or '<p class="muted">no findings</p>'
    return (
        f'<details class="{classes}" id="op-{index}" data-operation="{shown(name)}"{opened}>'
        f"<summary>{line} — {shown(counts)}</summary>{facts(rows)}{details}</details>"
    )


def _finding(finding: Mapping[str, Any]) -> str:
    occurrences = finding.get("occurrences", 1)
    head = (
        f'<h4><span class="check">{shown(finding.get("check", ""))}</span> {shown(finding.get("title", ""))} '
        f'<span class="muted">({shown(occurrences)}x, {shown(finding.get("mode", ""))})</span></h4>'
    )
    parts = [head, excerpt(finding.get("message", ""))]
    request = finding.get("request")
    if isinstance(request, Mapping) and request:
        parts.append(f'<div class="request"><strong>request</strong>{_request(request)}</div>')
    status = finding.get("status")
    answered = shown(status if status is not None else "none (no response)")
    parts.append(f'<div class="answer"><strong>answer</strong> status {answered}</div>')
    particulars = [(key, excerpt(finding[key])) for key in ("expected", "actual") if finding.get(key) is not None]
    if finding.get("schema_path") is not None:
        particulars.append(("schema path", excerpt(finding["schema_path"])))
    if particulars:
        parts.append(facts(particulars))
    return f'<div class="finding" data-check="{shown(finding.get("check", ""))}">{"".join(parts)}</div>'


def _request(request: Mapping[str, Any]) -> str:
    line = f"<pre class='request-line'>{shown(request.get('method', ''))} {shown(request.get('path', ''))}</pre>"
    items = [("query", request.get("query")), ("headers", request.get("headers")), ("body", request.get("body"))]
    items += [(str(key), value) for key, value in request.items() if key not in REQUEST_FIELDS]
    shown_items = "".join(f"<dt>{shown(label)}</dt><dd>{excerpt(value)}</dd>" for label, value in items if value not in (None, {}, ""))
    return line + (f"<dl>{shown_items}</dl>" if shown_items else "")


# --- the comparison ------------------------------------------------------------------------------------------------
def _side_by_side(
    first: Mapping[str, Any],
    second: Mapping[str, Any],
    names: tuple[str, str],
    ops_a: Mapping[str, dict[str, Any]],
    ops_b: Mapping[str, dict[str, Any]],
) -> str:
    def figures(data: Mapping[str, Any], ops: Mapping[str, dict[str, Any]]) -> list[str]:
        findings = [f for op in ops.values() for f in _findings(op)]
        return [
            shown(data.get("target", "")),
            shown(data.get("seed", "")),
            shown(_when(data.get("started"))),
            shown(sum(_requests(op) for op in ops.values())),
            shown(len(findings)),
            _verdict(not findings, "conforms", "does NOT conform"),
        ]

    labels = ("target", "seed", "started", "generated requests", "distinct findings", "verdict")
    head = f"<tr><th></th><th>A: {shown(names[0])}</th><th>B: {shown(names[1])}</th></tr>"
    pairs = zip(labels, figures(first, ops_a), figures(second, ops_b), strict=True)
    rows = "".join(f"<tr><th>{label}</th><td>{a}</td><td>{b}</td></tr>" for label, a, b in pairs)
    return f'<table class="facts">{head}{rows}</table>'


def _differences(found: Mapping[str, list[str]], ops_a: Mapping[str, dict[str, Any]], ops_b: Mapping[str, dict[str, Any]]) -> str:
    parts = []
    for name, lines in found.items():
        a, b = ops_a.get(name), ops_b.get(name)
        keys_a = {finding_key(f) for f in _findings(a)}
        keys_b = {finding_key(f) for f in _findings(b)}
        only_a = [f for f in _findings(a) if finding_key(f) not in keys_b]
        only_b = [f for f in _findings(b) if finding_key(f) not in keys_a]
        items = "".join(f"<li>{shown(line)}</li>" for line in lines)
        statuses = f"<p>statuses: A {_statuses(a) or 'none'}; B {_statuses(b) or 'none'}</p>"
        detail = "".join(
            f"<h3>only in {label}</h3>{''.join(_finding(f) for f in only)}" for label, only in (("A", only_a), ("B", only_b)) if only
        )
        parts.append(
            f'<details class="op has-findings" data-operation="{shown(name)}"{" open" if only_a or only_b else ""}>'
            f"<summary>{shown(name)} — {shown(len(lines))} difference(s)</summary><ul>{items}</ul>{statuses}{detail}</details>"
        )
    return "".join(parts)


def _overview_pair(names: list[str], ops_a: Mapping[str, dict[str, Any]], ops_b: Mapping[str, dict[str, Any]], differing: set[str]) -> str:
    columns = ("operation", "A requests", "A statuses", "A findings", "B requests", "B statuses", "B findings")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
    rows = []
    for name in names:
        cells = [shown(name)]
        for ops in (ops_a, ops_b):
            op = ops.get(name)
            if op is None:
                cells += ["<span class='muted'>absent</span>", "", ""]
                continue
            skipped = f" <span class='muted'>skipped: {shown(op['skipped'])}</span>" if op.get("skipped") else ""
            cells += [shown(_requests(op)) + skipped, _statuses(op), shown(len(_findings(op)))]
        css = ' class="differs"' if name in differing else ""
        rows.append(f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="ops">{head}{"".join(rows)}</table>'
