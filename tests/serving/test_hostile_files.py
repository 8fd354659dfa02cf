"""Bad input files end in one line and exit 2, never a traceback or a hang: deeply nested fixture files, huge integers,
YAML alias bombs, /dev/zero, FIFOs, directories, files past the size cap, recordings with fields of the wrong type
(`fixtures check`, `serve --fixtures`, `fixtures from-journal --file`, `fixtures from-recording`), and journal URLs
whose pages never end, go backwards, never finish or are too large (`fixtures from-journal --url` against a hostile
server on 127.0.0.1 started and stopped here). Every run has a subprocess timeout, so a hang fails the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mockfabric.text import MAX_DEPTH, MAX_FILE_BYTES

RUN_SECONDS = 30  # far more than any refusal takes; a hang past it fails the test


def mockfabric(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockfabric", *args], capture_output=True, text=True, timeout=RUN_SECONDS)


def refused(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one line on stderr of a run that ended in exit 2 and names every needle."""
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert all(needle in lines[0] for needle in needles), (needles, lines[0])
    return lines[0]


def deep_yaml(tmp: Path) -> Path:
    path = tmp / "deep.yaml"
    path.write_text("fixtures: " + "[" * 100_000 + "]" * 100_000)
    return path


def deep_json(tmp: Path) -> Path:
    path = tmp / "deep.json"
    path.write_text('{"fixtures": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return path


def huge_integer_yaml(tmp: Path) -> Path:
    path = tmp / "integer.yaml"
    path.write_text("fixtures:\n- match: {turn: " + "9" * 5000 + "}\n  answer: {content: x}\n")
    return path


def huge_integer_json(tmp: Path) -> Path:
    path = tmp / "integer.json"
    path.write_text('{"fixtures": [{"match": {"turn": ' + "9" * 5000 + '}, "answer": {"content": "x"}}]}')
    return path


def alias_bomb(tmp: Path) -> Path:
    """A billion laughs: ten levels of aliases, each repeating the one before ten times (10^10 strings expanded)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 10)]
    path = tmp / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nfixtures: [{match: {any: true}, answer: {content: x}, times: *a9}]\n")
    return path


def fifo(tmp: Path) -> Path:
    path = tmp / "fifo.yaml"
    os.mkfifo(path)  # nobody ever writes: opening it for reading the usual way waits forever
    return path


def too_large(tmp: Path) -> Path:
    path = tmp / "large.json"
    with path.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    return path


def dev_zero(tmp: Path) -> Path:
    return Path("/dev/zero")  # endless: read whole, it fills memory


def directory(tmp: Path) -> Path:
    path = tmp / "journal.json"
    path.mkdir()
    return path


def tool_call_arguments(value: str) -> Callable[[Path], Path]:
    """A fixture whose tool call's arguments (any object, as far as the schema goes) hold `value`, written in YAML."""

    def make(tmp: Path) -> Path:
        path = tmp / "arguments.yaml"
        path.write_text(f"fixtures:\n- match: {{any: true}}\n  answer: {{tool_calls: [{{name: f, arguments: {value}}}]}}\n")
        return path

    return make


FIXTURE_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "deep YAML": (deep_yaml, f"nested deeper than {MAX_DEPTH} levels"),
    "deep JSON": (deep_json, f"nested deeper than {MAX_DEPTH} levels"),
    "5000-digit integer in YAML": (huge_integer_yaml, "a number of 5000 digits"),
    "5000-digit integer in JSON": (huge_integer_json, "a number of 5000 digits"),
    "alias bomb": (alias_bomb, "expands to more than"),
    "FIFO": (fifo, "not a regular file (a FIFO)"),
    "/dev/zero": (dev_zero, "not a regular file (a character device)"),
    "past the size cap": (too_large, "larger than 64 MiB"),
    "a date in a tool call": (tool_call_arguments("{when: 2024-01-01}"), "fixtures.0.answer.tool_calls.0.arguments.when: a date"),
    "binary in a tool call": (tool_call_arguments("{b: !!binary aGVsbG8=}"), "arguments.b: binary data, which JSON cannot hold"),
    "a set as a tool call's arguments": (tool_call_arguments("!!set {a, b}"), "tool_calls.0.arguments: a set"),
    "NaN in a tool call": (tool_call_arguments("{x: .nan}"), "arguments.x: nan, which JSON cannot hold"),
    "a boolean key in a tool call": (tool_call_arguments("{on: 1}"), "arguments: a key 'True' that is not a string"),
}


@pytest.mark.parametrize("case", FIXTURE_FILES)
def test_fixtures_check_refuses_a_hostile_file_in_one_line(tmp_path: Path, case: str) -> None:
    make, why = FIXTURE_FILES[case]
    path = make(tmp_path)
    line = refused(mockfabric("fixtures", "check", str(path)), str(path), why)
    assert len(line) < 600


@pytest.mark.parametrize("case", ["deep YAML", "5000-digit integer in JSON", "alias bomb", "FIFO", "/dev/zero", "a date in a tool call"])
def test_serve_refuses_a_hostile_fixture_file_before_it_listens(tmp_path: Path, case: str) -> None:
    make, why = FIXTURE_FILES[case]
    path = make(tmp_path)
    refused(mockfabric("serve", "--port", "0", "--fixtures", str(path)), str(path), why)


def test_a_fifo_in_a_fixture_directory_is_refused_not_waited_for(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("fixtures: [{match: {any: true}, answer: {content: x}}]\n")
    fifo(tmp_path)
    result = mockfabric("fixtures", "check", str(tmp_path))
    assert result.returncode == 2 and "fifo.yaml: not a regular file (a FIFO)" in result.stderr
    assert "1 fixture(s) fine, 1 problem(s)" in result.stdout


def journal_with(text: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "journal.json"
        path.write_text(text)
        return path

    return make


JOURNAL_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "deep": (journal_with('{"requests": ' + "[" * 100_000 + "]" * 100_000 + "}"), "nested too deeply"),
    "deep within the interpreter's reach": (journal_with('{"requests": [' + "[" * 500 + "]" * 500 + "]}"), "nested deeper than"),
    "5000-digit integer": (journal_with('{"requests": [{"seq": ' + "9" * 5000 + "}]}"), "a number of 5000 digits"),
    "FIFO": (fifo, "not a regular file (a FIFO)"),
    "/dev/zero": (dev_zero, "not a regular file (a character device)"),
    "directory": (directory, "not a regular file (a directory)"),
    "past the size cap": (too_large, "larger than 64 MiB"),
}


@pytest.mark.parametrize("case", JOURNAL_FILES)
def test_from_journal_refuses_a_hostile_file_in_one_line(tmp_path: Path, case: str) -> None:
    make, why = JOURNAL_FILES[case]
    path = make(tmp_path)
    refused(mockfabric("fixtures", "from-journal", "--file", str(path)), str(path), why)


def recording(**changes: object) -> dict[str, object]:
    """A proxy recording of a streamed invocation, with `changes` applied at the top or in `response`."""
    base: dict[str, object] = {
        "format": "mockfabric-recording/1",
        "operation": "InvokeModelService",
        "request": {"method": "POST", "path": "/v1/workspaces/w/services/instances/i/invocations", "body": {"messages": []}},
        "response": {"status": 200, "events": [{"at_ms": 1.0, "data": '{"choices": []}'}]},
    }
    for key, value in changes.items():
        if key in ("request", "operation"):
            base[key] = value
        else:
            base["response"] = {**base["response"], key: value}  # type: ignore[dict-item]
    return base


WRONG_TYPES: dict[str, tuple[dict[str, object], str]] = {
    "request is a string": (recording(request="POST /"), "request is str, not an object"),
    "response.status is a string": (recording(status="200"), "response.status is str"),
    "events is an object": (recording(events={"0": {}}), "response.events is dict, not a list"),
    "an event is a number": (recording(events=[3]), "response.events[0] is int, not an object"),
    "at_ms is an object": (recording(events=[{"at_ms": {"ms": 1}, "data": "{}"}]), "response.events[0].at_ms is dict, not a number"),
    "data is a list": (recording(events=[{"at_ms": 1, "data": ["x"]}]), "response.events[0].data is list, not a string"),
    "request.path is a number": (recording(request={"path": 7}), "request.path is int, not a string"),
}


@pytest.mark.parametrize("case", WRONG_TYPES)
def test_from_recording_names_the_file_and_the_field_of_the_wrong_type(tmp_path: Path, case: str) -> None:
    content, why = WRONG_TYPES[case]
    (tmp_path / "000001-InvokeModelService.json").write_text(json.dumps(content))
    refused(mockfabric("fixtures", "from-recording", str(tmp_path)), "000001-InvokeModelService.json", why)


def test_from_recording_survives_chunks_of_the_wrong_shape(tmp_path: Path) -> None:
    """Chunks are the upstream's text, not the recording's structure: odd ones are passed over, not a crash."""
    events = [
        {"at_ms": 1, "data": '{"choices": 5}'},
        {"at_ms": 2, "data": '{"choices": [{"index": 0, "delta": "text"}]}'},
        {"at_ms": 3, "data": '{"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}'},
    ]
    body = {"messages": [{"role": "user", "content": "hi"}]}
    content = recording(events=events, request={"path": "/v1/workspaces/w/services/instances/i/invocations", "body": body})
    (tmp_path / "000001-InvokeModelService.json").write_text(json.dumps(content))
    result = mockfabric("fixtures", "from-recording", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "text: ok" in result.stdout and "1 fixture(s) written" in result.stderr


class Hostile(BaseHTTPRequestHandler):
    """A journal server that misbehaves as the first path segment says."""

    stop: threading.Event
    served: list[int]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def page(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        mode = self.path.split("/")[1]
        since = int(self.path.partition("since_seq=")[2].partition("&")[0] or 0)
        self.served.append(since)
        entry = {"seq": since + 1, "operation": "InvokeModelService", "status": 200, "path": "/"}
        if mode == "same":
            self.page(json.dumps({"requests": [entry], "next_since_seq": 5}).encode())
        elif mode == "backwards":
            self.page(json.dumps({"requests": [entry], "next_since_seq": max(1, 10 - len(self.served))}).encode())
        elif mode == "endless":  # full pages, each further on, forever
            page = [{**entry, "seq": since + n} for n in range(1, 1001)]
            self.page(json.dumps({"requests": page, "next_since_seq": since + 1000}).encode())
        elif mode == "trickle":  # one entry a page, each further on, forever
            self.page(json.dumps({"requests": [entry], "next_since_seq": since + 1}).encode())
        elif mode == "integer":
            self.page(b'{"requests": [], "next_since_seq": ' + b"9" * 5000 + b"}")
        elif mode == "stall-body":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"requests": [')
            self.wfile.flush()
            self.stop.wait(RUN_SECONDS)
        elif mode == "drip-head":  # a header byte now and then: each read succeeds, the head never ends
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            while not self.stop.wait(0.2):
                self.wfile.write(b"X")
                self.wfile.flush()
        elif mode == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(MAX_FILE_BYTES * 2))
            self.end_headers()
            block = b" " * (1024 * 1024)
            for _ in range(MAX_FILE_BYTES // len(block) + 2):
                if self.stop.is_set():
                    return
                self.wfile.write(block)


@pytest.fixture
def hostile() -> Iterator[tuple[str, list[int]]]:
    """(base URL of the hostile journal server, the since_seq of each request it served)."""
    stop, served = threading.Event(), []
    handler = type("Handler", (Hostile,), {"stop": stop, "served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


URL_CASES: dict[str, str] = {
    "same": "the journal's pages do not move forward (next_since_seq 5 after 5)",
    "backwards": "the journal's pages do not move forward",
    "endless": "the journal did not end within 20000 entries",
    "trickle": "the journal did not end after 1000 pages",
    "integer": "a number of 5000 digits",
    "huge": "larger than 64 MiB",
}


@pytest.mark.parametrize("mode", URL_CASES)
def test_from_journal_refuses_a_journal_server_that_never_ends(hostile: tuple[str, list[int]], mode: str) -> None:
    base, served = hostile
    refused(mockfabric("fixtures", "from-journal", "--url", f"{base}/{mode}"), URL_CASES[mode])
    assert len(served) <= 1001


@pytest.mark.parametrize("mode", ["stall-body", "drip-head"])
def test_from_journal_gives_up_on_a_page_that_never_finishes(hostile: tuple[str, list[int]], mode: str) -> None:
    base, _ = hostile
    started = time.monotonic()
    refused(mockfabric("fixtures", "from-journal", "--url", f"{base}/{mode}", "--timeout", "1"), "no whole answer within 1 s")
    reference = time.monotonic()
    refused(mockfabric("fixtures", "from-journal", "--url", f"{base}/same"), "do not move forward")  # start-up cost alone
    alone = time.monotonic() - reference
    assert reference - started < alone + 1 + 5  # the timeout and a margin past the process's own start-up


def test_from_journal_refuses_a_timeout_out_of_range() -> None:
    refused(mockfabric("fixtures", "from-journal", "--url", "http://127.0.0.1:9", "--timeout", "0"), "--timeout must be more than 0")
