"""The dashboard's pages as HTML: one layout, escaped text everywhere, charts as inline SVG, a few lines of inline
script for the clock buttons and the token form. Nothing is loaded from anywhere else (it works offline).

What must hold: every value that came from a client (names, ids, bodies, headers, tenants) passes `esc`, which also
turns text that is not valid Unicode (a lone surrogate) into a visible escape instead of failing the page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from .views import JOURNAL_PAGE, PAGE_SIZE, RESOURCES_SHOWN, Paged, ResourcesPage

UI = "/_mockfabric/ui"
BODY_SHOWN = 16 * 1024  # characters of a body or answer a page shows
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff;text-decoration:none} header b{margin-right:12px}
main{padding:12px 16px} table{border-collapse:collapse;background:#fff;margin:6px 0 14px;min-width:50%}
th,td{border:1px solid #d9dde3;padding:3px 8px;text-align:left;vertical-align:top} th{background:#eef1f5}
pre{background:#fff;border:1px solid #d9dde3;padding:8px;white-space:pre-wrap;word-break:break-all;max-height:480px;overflow:auto}
.s-RUNNING,.s-SUCCEEDED,.ok{color:#17803d}.s-CREATING,.s-UPDATING,.s-PENDING,.s-DELETING,.s-STOPPING{color:#a15c00}
.bad,.s-CREATE_FAILED,.s-UPDATE_FAILED,.s-DELETE_FAILED,.s-FAILED{color:#b42318} .muted{color:#667085}
button{margin-right:6px} form{display:inline} .clock{font-family:monospace}
"""
SCRIPT = """
function mfToken(){const m=document.cookie.match(/(?:^|; )mockfabric-control-token=([^;]*)/);return m?decodeURIComponent(m[1]):null}
async function mfClock(body){const h={'Content-Type':'application/json'};const t=mfToken();if(t)h['X-Mockfabric-Control-Token']=t;
 const r=await fetch('/_mockfabric/clock',{method:'POST',headers:h,body:JSON.stringify(body)});
 if(!r.ok){document.getElementById('clock-error').textContent=(await r.text()).slice(0,300);return}location.reload()}
function mfSaveToken(){const v=document.getElementById('token').value;
 document.cookie='mockfabric-control-token='+encodeURIComponent(v)+'; path=/_mockfabric/; SameSite=Strict';location.reload()}
async function mfLive(){const t=document.getElementById('journal'),box=document.getElementById('live');
 if(!t||!box||!box.checked)return;try{const r=await fetch(location.href,{credentials:'same-origin'});if(!r.ok)return;
 const fresh=new DOMParser().parseFromString(await r.text(),'text/html').getElementById('journal');
 if(fresh)t.replaceWith(fresh)}catch(e){}}
document.addEventListener('DOMContentLoaded',()=>{if(document.getElementById('live'))setInterval(mfLive,LIVE_MS)});
""".replace("LIVE_MS", "2000")


def esc(value: Any) -> str:
    """Text for HTML: escaped, and never invalid Unicode (a lone surrogate shows as its escape)."""
    text = value if isinstance(value, str) else str(value)
    return html.escape(text.encode("utf-8", "backslashreplace").decode("utf-8"), quote=True)


def shown(value: Any) -> str:
    """A body, answer or header set as readable, escaped text, cut at BODY_SHOWN characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    if len(text) > BODY_SHOWN:
        text = f"{text[:BODY_SHOWN]}\n...[truncated: {len(text)} characters in all]"
    return f"<pre>{esc(text)}</pre>"


def link(page: str, text: str, /, **query: Any) -> str:
    given = {k: v for k, v in query.items() if v not in (None, "")}
    href = f"{UI}{page}" + (f"?{urlencode(given)}" if given else "")
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def layout(title: str, clock: dict[str, Any], content: str) -> str:
    state = "frozen" if clock["frozen"] else ("running" if clock["runs_by_itself"] else "manual")
    nav = " ".join(
        link(where, t)
        for where, t in (
            ("/", "Overview"),
            ("/resources", "Resources"),
            ("/journal", "Journal"),
            ("/fixtures", "Fixtures and faults"),
            ("/drift", "Drift"),
        )
    )
    buttons = "".join(f'<button data-advance="{s}" onclick="mfClock({{advance:{s}}})">+{s} s</button>' for s in (1, 10, 60))
    toggle = "mfClock({frozen:false})" if clock["frozen"] else "mfClock({frozen:true})"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)} · mockfabric</title>"
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body><header><b>mockfabric</b>{nav}"
        f"<span class=clock id=clock>{esc(clock['now'])} ({state})</span>{buttons}"
        f'<button id=freeze onclick="{toggle}">{"unfreeze" if clock["frozen"] else "freeze"}</button>'
        f"<span id=clock-error class=bad></span></header><main><h1>{esc(title)}</h1>{content}</main></body></html>"
    )


def table(headings: Iterable[str], rows: Iterable[Iterable[str]], **attributes: str) -> str:
    """Cells are HTML already (escape what goes in)."""
    extra = "".join(f' {name}="{esc(value)}"' for name, value in attributes.items())
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table{extra}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def status(text: str) -> str:
    return f'<span class="s-{esc(text)}">{esc(text)}</span>'


def overview(tenants: Paged, journal_total: int, fixtures: int, faults: int) -> str:
    """The counts, and a page of the tenants (PAGE_SIZE a page) with their workspaces."""
    rows = [
        (link("/resources", name or "(none)", tenant=name), esc(count), link("/journal", "journal", tenant=name))
        for name, count in tenants.items
    ]
    counts = f"<p>{tenants.total} tenant(s), {journal_total} journaled request(s), {fixtures} fixture(s), {faults} fault rule(s).</p>"
    return counts + table(("tenant", "workspaces", ""), rows, id="tenants") + pager("/", tenants, "page")


def pager(where: str, listed: Paged, name: str, /, **query: Any) -> str:
    """Links to the pages before and after `listed`'s (query parameter `name` holds the page number)."""
    links = []
    if listed.page > 0:
        links.append(link(where, "previous page", **query, **{name: listed.page - 1 or None}))
    if listed.more:
        links.append(link(where, "next page", **query, **{name: listed.page + 1}))
    shown = f"page {listed.page + 1} of {max(1, -(-listed.total // PAGE_SIZE))}" if listed.total > PAGE_SIZE else ""
    return f'<p class=pager data-list="{esc(name)}">{shown} {" · ".join(links)}</p>' if shown or links else ""


def resources(page: ResourcesPage) -> str:
    """One tenant's workspaces, a page of them, each with its first resources; or one workspace's resources, a
    page of them (`page.workspace`)."""
    search = (
        f'<form method=get action="{UI}/resources">tenant <input name=tenant value="{esc(page.tenant or "")}"> '
        f'id or name <input name=q value="{esc(page.query)}"> <button type=submit>show</button> '
        f"{link('/', 'all tenants')}</form>"
    )
    if page.workspace is not None:
        what = f"{page.total} resource(s){' matching' if page.query else ''} in workspace {esc(page.workspace)}"
    else:
        what = f"{page.total} workspace(s){' matching' if page.query else ''}"
    parts = [search, f"<p>{what}</p>"]
    for workspace in page.workspaces:
        rows = [
            (
                esc(r.kind),
                link("/journal", r.id, tenant=page.tenant, path=r.id),
                esc(r.name),
                status(r.status),
                esc(r.pending or ""),
                esc(", ".join(r.versions)),
            )
            for r in workspace.resources
        ]
        parts.append(
            f"<h2 class=workspace>{esc(workspace.name)} <span class=muted>{esc(workspace.id)} · created {esc(workspace.created)}</span> "
            f"{link('/journal', 'its requests', tenant=page.tenant, path=workspace.id)}</h2>"
            + (
                table(("kind", "id", "name", "status", "pending", "versions"), rows, **{"data-workspace": workspace.id})
                if rows
                else "<p class=muted>empty</p>"
            )
        )
        if page.workspace is None and workspace.held > RESOURCES_SHOWN:
            more = link("/resources", f"all {workspace.held}", tenant=page.tenant, workspace=workspace.id, q=page.query)
            parts.append(f"<p class=more>{RESOURCES_SHOWN} of {workspace.held} resource(s) shown: {more}</p>")
    listed = Paged([], page.page, page.total)
    parts.append(pager("/resources", listed, "page", tenant=page.tenant, q=page.query, workspace=page.workspace))
    return "".join(parts)


def journal(entries: list[dict[str, Any]], tenant: str | None, older: int | None, path: str | None, before: int | None = None) -> str:
    """The journal's page; the newest page (no `before`) refreshes its table live while its box is ticked."""
    rows = [
        (
            link(f"/journal/{e['seq']}", str(e["seq"])),
            esc(e["time"]),
            esc(e.get("tenant") or ""),
            esc(e.get("operation") or ""),
            esc(e["method"]),
            esc(e["path"]),
            f'<span class="{"ok" if e["status"] < 400 else "bad"}">{esc(e["status"])}</span>',
            esc(e.get("fault") or ""),
            esc(e.get("outcome") or ""),
        )
        for e in entries
    ]
    more = link("/journal", f"older than {older}", tenant=tenant, before=older, path=path) if older is not None else ""
    scope = (f" of tenant {esc(tenant)}" if tenant else "") + (f" whose path has {esc(path)}" if path else "")
    live = "" if before is not None else " · <label><input type=checkbox id=live checked> live (new requests every 2 s)</label>"
    return (
        f"<p>newest first, {JOURNAL_PAGE} a page{scope}{live}</p>"
        + table(("seq", "time", "tenant", "operation", "method", "path", "status", "fault", "outcome"), rows, id="journal")
        + more
    )


def journal_entry(entry: dict[str, Any]) -> str:
    facts = [
        (esc(name), esc(entry.get(name) if entry.get(name) is not None else ""))
        for name in (
            "seq",
            "time",
            "request_id",
            "tenant",
            "operation",
            "method",
            "path",
            "query",
            "status",
            "fault",
            "outcome",
            "queued_ms",
        )
    ]
    answered_by = entry.get("answer", {}).get("answered_by")
    if answered_by:
        facts.append(("answered by", esc(answered_by)))
    parts = [table(("", ""), facts, id="entry")]
    if entry.get("pace_ms"):
        parts.append("<h2>Stream timeline</h2>" + timeline(entry.get("queued_ms") or 0.0, entry["pace_ms"]))
    if "answer" in entry:
        parts.append("<h2>Answer</h2>" + shown(entry["answer"]))
    if "error" in entry:
        parts.append("<h2>Error answered</h2>" + shown(entry["error"]))
    parts.append("<h2>Request headers</h2>" + shown(entry.get("headers", {})))
    parts.append("<h2>Request body</h2>" + shown(entry.get("body")))
    return "".join(parts)


def _closest(error: Any) -> str:
    """The closest fixtures a strict miss's 501 named (its error_msg says them after 'closest fixtures: ')."""
    message = error.get("error_msg", "") if isinstance(error, dict) else ""
    return message.rpartition("closest fixtures: ")[2] if "closest fixtures: " in message else ""


def timeline(queued_ms: float, pace: dict[str, Any]) -> str:
    """When each chunk of a stream was due on the emulator's clock (ms since the request): the queue, the wait for the
    first token, then one tick per chunk; the chunks' dues are the journal's (`pace_ms.chunks`), when it has them."""
    stream_ms = float(pace.get("stream") or 0.0)
    total = max(stream_ms, 1e-9)  # the scale's width: never zero
    dues = [float(d) for d in pace.get("chunks") or []]
    width, left = 720.0, 10.0

    def x(ms: float) -> float:
        return left + width * min(ms, total) / total

    first = float(pace.get("first_token") or 0.0)
    ticks = "".join(f'<line class=chunk x1="{x(d):.1f}" y1="34" x2="{x(d):.1f}" y2="58" stroke="#1f6feb"/>' for d in dues)
    return (
        f'<svg id=timeline xmlns="http://www.w3.org/2000/svg" width="{width + 2 * left:.0f}" height="90" role="img">'
        f'<rect class=queue x="{left}" y="10" width="{x(queued_ms) - left:.1f}" height="18" fill="#f5b041"/>'
        f'<rect class=ttft x="{x(queued_ms):.1f}" y="10" width="{max(0.0, x(first) - x(queued_ms)):.1f}" height="18" fill="#d68910"/>'
        f'<rect class=itl x="{x(first):.1f}" y="10" width="{max(0.0, x(total) - x(first)):.1f}" height="18" fill="#5dade2"/>'
        f"{ticks}"
        f'<text x="{left}" y="80" font-size="12">queue {queued_ms:g} ms · first token at {first:g} ms · stream {stream_ms:g} ms · '
        f"{len(dues)} chunk(s) shown</text></svg>"
    )


def fixtures(view: dict[str, Any]) -> str:
    """A page of the fixtures, a page of the fault rules, the newest strict-mode misses."""
    listed: Paged = view["fixtures"]
    faults: Paged = view["faults"]
    fixture_rows = [
        (
            esc(f.get("source", "")),
            shown(f.get("match")),
            shown(f.get("answer")),
            esc(_or_blank(f.get("times_left"))),
            esc(f.get("used", 0)),
        )
        for f in listed.items
    ]
    fault_rows = [(esc(rule.get("id")), shown({k: v for k, v in rule.items() if k != "id"})) for rule in faults.items]
    miss_rows = [
        (
            link(f"/journal/{e['seq']}", str(e["seq"])),
            esc(e.get("tenant") or ""),
            shown(_last_user(e.get("body"))),
            esc(_closest(e.get("error"))),
        )
        for e in view["misses"]
    ]
    return (
        f"<p>strict mode is {'on' if view['strict'] else 'off'}</p><h2>Fixtures ({listed.total})</h2>"
        + table(("from", "match", "answer", "times left", "answered"), fixture_rows, id="fixtures")
        + pager("/fixtures", listed, "page", faults_page=faults.page or None)
        + f"<h2>Fault rules ({faults.total})</h2>"
        + table(("id", "rule"), fault_rows, id="faults")
        + pager("/fixtures", faults, "faults_page", page=listed.page or None)
        + "<h2>Strict-mode misses (501)</h2>"
        + table(("seq", "tenant", "last user message", "closest fixtures"), miss_rows, id="misses")
    )


def _or_blank(value: Any) -> str:
    return "" if value is None else str(value)


def _last_user(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    users = [m.get("content") for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1]) if users else ""


def token_form(reason: str) -> str:
    return (
        f"<p class=bad>{esc(reason)}</p><p>This emulator has a control token: give it once, it is kept in a cookie for "
        "this emulator's control pages only.</p><input id=token type=password size=40> <button onclick=mfSaveToken()>use</button>"
    )


DRIFT_SCRIPT = """
async function mfDrift(){const f=document.getElementById('report-file').files[0];const out=document.getElementById('drift-error');
 out.textContent='';if(!f)return;const h={'Content-Type':'application/json'};const t=mfToken();if(t)h['X-Mockfabric-Control-Token']=t;
 const r=await fetch('/_mockfabric/ui/drift',{method:'POST',headers:h,body:await f.text()});const text=await r.text();
 if(!r.ok){let m=text;try{m=JSON.parse(text).error_msg}catch(e){}out.textContent=String(m).slice(0,300);return}
 const frame=document.getElementById('drift-report');frame.srcdoc=text;frame.hidden=false}
"""


def drift() -> str:
    """The drift page: a report file chosen here is sent to the emulator, which renders it as verify's HTML report;
    it is shown in a sandboxed frame (no script runs in it, nothing it holds reaches this page)."""
    return (
        "<p>A drift report as <code>mockfabric verify --report FILE.json</code>, "
        "<code>mockfabric proxy --report FILE.json</code> "
        "or <code>GET /_mockfabric/proxy/report</code> write it: choose the file and it is shown here, "
        "as <code>--html</code> would write it. It is rendered, not kept.</p>"
        '<input id=report-file type=file accept=".json,application/json"> <button id=show-report onclick=mfDrift()>show</button>'
        f"<span id=drift-error class=bad></span><script>{DRIFT_SCRIPT}</script>"
        '<iframe id=drift-report sandbox title="drift report" hidden '
        'style="width:100%;height:80vh;border:1px solid #d9dde3;background:#fff"></iframe>'
    )
