"""`mockfabric proxy`: the proxy app on uvicorn, until SIGINT/SIGTERM; then the report is written.

What must hold: the first line printed starts `mockfabric proxy on <base URL>`; the proxy listens on loopback only
(it signs requests with your credentials); a report asked for with `--report` is written at exit however the proxy
stopped, and the exit status is 1 with `--fail-on-drift` when it has findings.
"""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import uvicorn

from ..contracts import public_contract
from ..sdk_signer import SdkSigner
from ..serving import BoundServer, ReadDeadlines, ServeError, with_read_deadlines
from ..testing.reports import is_html_path, write_html, write_json
from .app import REPORT_PATH, ProxyApp
from .credentials import UpstreamCredentials
from .inspection import Inspector
from .recording import Recorder


@dataclass(frozen=True)
class ProxySettings:
    upstream: str
    ep_upstream: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    ak: str | None = None
    sk: str | None = None
    project_id: str | None = None
    security_token: str | None = None
    record: str | None = None
    report: str | None = None
    fail_on_drift: bool = False
    read_timeout: float = 10.0


class ProxyServer(BoundServer):
    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        signer = (
            SdkSigner(settings.ak, settings.sk, settings.project_id or "", settings.security_token) if settings.ak and settings.sk else None
        )
        super().__init__(settings.host, settings.port)  # the address first: a proxy that cannot listen makes nothing
        try:
            recorder = Recorder(Path(settings.record)) if settings.record else None
        except OSError:
            self.release()
            raise
        target = f"proxy of {settings.upstream}" + (f" + ep {settings.ep_upstream}" if settings.ep_upstream else "")
        self.inspector = Inspector(public_contract(), target)
        self.app = ProxyApp(
            contract=public_contract(),
            upstream=settings.upstream,
            ep_upstream=settings.ep_upstream,
            credentials=UpstreamCredentials(settings.token, signer),
            inspector=self.inspector,
            recorder=recorder,
            read_timeout=settings.read_timeout,
        )
        deadlines = ReadDeadlines(settings.read_timeout)  # the emulator's protocol: head deadline and bound, 400s in format
        config = uvicorn.Config(
            with_read_deadlines(self.app, deadlines),
            http=deadlines.protocol_class(),
            lifespan="on",
            ws="none",
            interface="asgi3",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=5,
        )
        self.serve_with(config)

    def write_report(self) -> None:
        """--report: an HTML page when the name ends in .html (or .htm), else the JSON drift report."""
        if self.settings.report:
            write = write_html if is_html_path(self.settings.report) else write_json
            write(self.inspector.report_dict(), self.settings.report)

    @property
    def findings(self) -> int:
        return len(self.inspector.report.findings)


def run_proxy(settings: ProxySettings, out: TextIO = sys.stdout) -> int:
    """Proxy until SIGINT/SIGTERM; 1 with --fail-on-drift when there are findings, else 0."""
    logging.basicConfig(level=logging.INFO, format="mockfabric: %(message)s", stream=sys.stderr)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start and stop notes: the line below says it
    for chatty in ("httpx2", "httpcore2"):  # a line per upstream request at INFO: the findings are what matters here
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        server = ProxyServer(settings)
    except ServeError as exc:
        print(f"mockfabric: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mockfabric: cannot make the recording folder {settings.record}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, lambda *_: server.stop())
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    upstreams = settings.upstream + (f" (ep: {settings.ep_upstream})" if settings.ep_upstream else "")
    print(f"mockfabric proxy on {server.base_url} -> {upstreams}; report at {server.base_url}{REPORT_PATH}", file=out, flush=True)
    try:
        server.run()
    finally:
        server.write_report()
    findings = server.findings
    print(
        f"mockfabric: proxy stopped; {findings} distinct finding(s)" + (f", report in {settings.report}" if settings.report else ""),
        file=out,
        flush=True,
    )
    return 1 if settings.fail_on_drift and findings else 0
