"""Reading a streamed chat completion and checking the rules that hold *across* its events.

Schema validation sees one event at a time; these rules need the whole stream: same id/created/model on every
chunk, a role delta first for each choice, exactly one finish_reason per choice and nothing after it, usage null on
content chunks and (only with include_usage) one usage chunk with `choices: []` right before `[DONE]`, which comes
last and once. Used by the tests and by the contract harness, against the emulator or the real service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"


@dataclass(slots=True)
class Stream:
    events: list[Any] = field(default_factory=list)  # decoded JSON objects, or the literal "[DONE]"
    problems: list[str] = field(default_factory=list)  # framing problems met while parsing

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [e for e in self.events if isinstance(e, dict)]

    def content(self, index: int = 0) -> str:
        return "".join(
            c["choices"][0]["delta"].get("content", "") for c in self.chunks if c.get("choices") and c["choices"][0]["index"] == index
        )

    def usage(self) -> dict[str, int] | None:
        found = [c["usage"] for c in self.chunks if c.get("usage")]
        return found[-1] if found else None


def parse_sse(lines: Iterable[bytes | str]) -> Stream:
    """Parse `data:` lines (as read from the socket) into events; other SSE fields are ignored, comments too."""
    stream = Stream()
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if line == "":
            if data:
                _emit(stream, "\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif not line.startswith(":") and ":" not in line:
            stream.problems.append(f"not an SSE line: {line[:80]!r}")
    if data:
        stream.problems.append("the last event was not terminated by a blank line")
        _emit(stream, "\n".join(data))
    return stream


def _emit(stream: Stream, payload: str) -> None:
    if payload == DONE:
        stream.events.append(DONE)
        return
    try:
        stream.events.append(json.loads(payload))
    except ValueError:
        stream.problems.append(f"event is not JSON: {payload[:80]!r}")


def chunk_rule_problems(stream: Stream, *, include_usage: bool = False) -> list[str]:
    """Every cross-event rule the stream breaks (empty when it conforms)."""
    problems = list(stream.problems)
    events = stream.events
    if not events or events[-1] != DONE:
        problems.append("the stream does not end with data: [DONE]")
    if events.count(DONE) > 1:
        problems.append("data: [DONE] appears more than once")
    chunks = stream.chunks
    if not chunks:
        return [*problems, "the stream has no chunks"]
    first = chunks[0]
    for name in ("id", "created", "model"):
        values = {_comparable(c.get(name)) for c in chunks}
        if len(values) > 1:
            shown = sorted(value if kind == "json" else json.dumps(value) for kind, value in values)[:3]
            problems.append(f"{name} differs between chunks: {shown}")
    problems += _choice_problems([c for c in chunks if c.get("choices")])
    usage_chunks = [c for c in chunks if not c.get("choices")]
    if include_usage:
        if len(usage_chunks) != 1:
            problems.append(f"include_usage asks for one usage chunk with choices: [], found {len(usage_chunks)}")
        elif chunks[-1] is not usage_chunks[0]:
            problems.append("the usage chunk is not the last chunk before [DONE]")
        elif not usage_chunks[0].get("usage"):
            problems.append("the usage chunk carries no usage")
    elif usage_chunks:
        problems.append("a chunk with choices: [] was sent without stream_options.include_usage")
    for chunk in chunks:
        if chunk.get("choices") and chunk.get("usage") is not None:
            problems.append("a content chunk carries usage (must be null)")
            break
    if first.get("object") != "chat.completion.chunk":
        problems.append(f"object is {first.get('object')!r}, not chat.completion.chunk")
    return problems


def _comparable(value: Any) -> tuple[str, Any]:
    """A hashable stand-in for a JSON value that tells 1, 1.0 and true apart (json.dumps only for lists and objects)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return type(value).__name__, value
    return "json", json.dumps(value, sort_keys=True)


def _choice_problems(chunks: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen: dict[int, int] = {}
    finished: dict[int, int] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            index = choice.get("index")
            if not isinstance(index, int):
                problems.append("a choice has no integer index")
                continue
            delta = choice.get("delta") or {}
            if index not in seen and delta.get("role") != "assistant":
                problems.append(f"choice {index}: the first delta does not carry role=assistant")
            seen[index] = seen.get(index, 0) + 1
            if index in finished and (delta.get("content") or choice.get("finish_reason")):
                problems.append(f"choice {index}: content or a second finish_reason after finish_reason")
            if choice.get("finish_reason") is not None:
                finished[index] = finished.get(index, 0) + 1
    for index in seen:
        if finished.get(index, 0) != 1:
            problems.append(f"choice {index}: {finished.get(index, 0)} finish_reason values (exactly one expected)")
    return problems
