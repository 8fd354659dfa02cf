"""Recordings (`--record DIR`): each exchange as one JSON file, named so that the files sort in the order the
exchanges began (`000001-InvokeModelService.json`).

What must hold: credentials are redacted (every header whose name says it carries one, in the request and the
answer); a stream is kept as its events with the milliseconds since the request started; a file is written whole
or not at all (a temporary name, then a rename), so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..clock import iso_millis
from ..redaction import redact_headers, redact_query
from ..text import readable_json
from .exchange import Exchange

FORMAT = "mockfabric-recording/1"


def recording_of(exchange: Exchange) -> dict[str, Any]:
    response: dict[str, Any] = {"status": exchange.status, "headers": redact_headers(exchange.response_headers)}
    if exchange.is_stream:
        response["events"] = [{"at_ms": event.at_ms, "data": event.data} for event in exchange.events]
    else:
        response["body"] = readable_json(bytes(exchange.body))
    if exchange.cut_short or exchange.client_cut:
        response["cut_short"] = exchange.cut_short or exchange.client_cut
    return {
        "format": FORMAT,
        "seq": exchange.seq,
        "operation": exchange.operation.operation_id if exchange.operation is not None else None,
        "started": iso_millis(exchange.wall),
        "duration_ms": exchange.elapsed_ms(),
        "request": {
            "method": exchange.method,
            "path": exchange.path,
            "query": redact_query(exchange.query),
            "headers": redact_headers(exchange.request_headers),
            "body": readable_json(exchange.request_body),
        },
        "response": response,
    }


class Recorder:
    def __init__(self, folder: Path) -> None:
        """OSError when the folder cannot be made: better no start than a proxy that records nothing."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    def name_of(self, exchange: Exchange) -> str:
        operation = exchange.operation.operation_id if exchange.operation is not None else "undeclared"
        return f"{exchange.seq:06d}-{operation}.json"

    def write(self, exchange: Exchange) -> None:
        """Write the exchange's file (run off the event loop: a 12 MiB body takes a while)."""
        target = self.folder / self.name_of(exchange)
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(recording_of(exchange), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, target)
