"""Tool calls (inferred: the service documents no `tools`; its backend is an OpenAI-compatible server).

What must hold:
- A request's `tool_choice` must name a function its `tools` declare, and asks for a tool call only when tools are
  declared ("none" and "auto" excepted); otherwise a 400 naming the field.
- A forced choice (`{"type": "function", "function": {"name": N}}`) or "required" makes a generated answer call a
  function (N, or one of the tools drawn from the request's seed) with arguments drawn from the seed as an instance
  of the function's `parameters` schema (service/json_answers.py): valid against it, the same request alike; a
  schema the emulator cannot make an instance of is a 400 naming `tools[i].function.parameters`. "auto", "none" or
  no choice answer text: the emulator does not decide to call a tool on its own.
- A call decided beforehand (fixture, scripted answer) is answered as given; a call without an id is given one drawn
  from the completion id, so ids differ between answers and repeat with the emulator's seed.
- A call's tokens are its name's and its arguments' (counted as completion tokens); `max_tokens` does not cut calls.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import RuleViolated
from .json_answers import UnsupportedSchema, instance_of

ANY_OBJECT: Mapping[str, Any] = {"type": "object"}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call of an answer: its id (None: given one when the answer is built), name and arguments as the
    JSON text the client receives."""

    name: str
    arguments: str
    id: str | None = None


def calls_of(specs: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
    """Calls as fixtures and scripts write them: `{name, arguments?, id?}`, arguments an object (sent as compact JSON)
    or the exact text to send."""
    calls = []
    for spec in specs:
        arguments = spec.get("arguments", {})
        text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        calls.append(ToolCall(str(spec["name"]), text, spec.get("id")))
    return tuple(calls)


def with_ids(calls: tuple[ToolCall, ...], completion_id: str, choice: int) -> tuple[ToolCall, ...]:
    """The calls, each with an id: its own, or one drawn from the completion id, the choice and its place."""
    return tuple(
        call if call.id is not None else ToolCall(call.name, call.arguments, _call_id(completion_id, choice, place))
        for place, call in enumerate(calls)
    )


def _call_id(completion_id: str, choice: int, place: int) -> str:
    return "call_" + hashlib.sha256(f"{completion_id}:{choice}:{place}".encode()).hexdigest()[:24]


def forced_call(body: Mapping[str, Any], rng: random.Random) -> ToolCall | None:
    """The call a generated answer makes when `tool_choice` forces one (None when it does not); RuleViolated for a
    choice the tools cannot meet."""
    functions = declared_functions(body)
    choice = body.get("tool_choice")
    if choice is None or choice in ("none", "auto"):
        return None
    if not functions:
        raise RuleViolated(f"tool_choice {_shown(choice)} needs `tools` to choose from", field="tool_choice")
    if choice == "required":
        place = rng.randrange(len(functions))
    else:
        name = choice["function"]["name"]
        places = [place for place, function in enumerate(functions) if function["name"] == name]
        if not places:
            raise RuleViolated(f"tool_choice names function {name!r}, which `tools` does not declare", field="tool_choice.function.name")
        place = places[0]
    function = functions[place]
    try:
        arguments = instance_of(function.get("parameters") or ANY_OBJECT, rng)
    except UnsupportedSchema as exc:
        raise RuleViolated(str(exc), field=f"tools[{place}].function.parameters") from None
    return ToolCall(function["name"], json.dumps(arguments, ensure_ascii=False, separators=(",", ":")))


def declared_functions(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [tool["function"] for tool in body.get("tools") or ()]


def _shown(choice: Any) -> str:
    return json.dumps(choice, ensure_ascii=False)[:200]


def call_text(call: ToolCall) -> str:
    """What a call's tokens are counted from: its name and its arguments."""
    return f"{call.name} {call.arguments}"


def message_calls_text(message: Mapping[str, Any]) -> str:
    """The text of the calls an assistant message of a request made (counted as prompt tokens)."""
    parts = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            parts.append(f"{function.get('name', '')} {function.get('arguments', '')}")
    return " ".join(parts)


def as_message_calls(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    """The calls as an unstreamed message carries them."""
    return [{"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}} for call in calls]


def call_deltas(calls: tuple[ToolCall, ...], pieces: Any, size: int) -> Iterator[dict[str, Any]]:
    """The calls as a stream carries them (OpenAI's form): per call a delta with its index, id, type, name and empty
    arguments, then its arguments in pieces of `size` tokens (`pieces(text, size)` cuts them), each with its index.
    Joining a call's argument pieces gives its arguments exactly."""
    for index, call in enumerate(calls):
        head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield {"tool_calls": [head]}
        for piece in pieces(call.arguments, size):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def delta_count(calls: tuple[ToolCall, ...], count_pieces: Any, size: int) -> int:
    """How many deltas `call_deltas` makes of the calls."""
    return sum(1 + -(-count_pieces(call.arguments) // size) for call in calls)
