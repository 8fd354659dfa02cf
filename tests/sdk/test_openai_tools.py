"""Tool calls (issue 30, item 2; x-inferred in the contract, listed in contracts/README.md): a forced `tool_choice`
makes a generated answer call the function with schema-valid arguments drawn from the seed; fixtures and scripted
answers carry `tool_calls`, streamed as `delta.tool_calls` (index, arguments in fragments, finish_reason tool_calls);
assistant-with-calls and tool messages are taken, so an agent loop runs several turns against fixtures matched on the
tool results. Through the openai client (sync and async) and langchain, against a live emulator; the stream's
framing over a raw socket."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import openai
import pytest

from mockfabric import MockFabric
from mockfabric.clients import async_openai_client, http_client, instance_url, openai_client
from mockfabric.fixture.recorded import from_journal
from mockfabric.service.completions import count_tokens

from ..serving.flow import Deployed, deploy

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "unit": {"enum": ["c", "f"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "the weather", "parameters": WEATHER_PARAMETERS}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
FORCED = {"type": "function", "function": {"name": "get_weather"}}
LOOP_FIXTURES = [  # the turn after the tool answered first: both turns carry the same user message
    {"match": {"user": {"contains": "weather"}, "tool": {"contains": "18"}}, "answer": {"content": "It is 18 °C in Paris."}},
    {
        "match": {"user": {"contains": "weather"}},
        "answer": {"content": "Let me look.", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]},
    },
]


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with MockFabric() as fabric:
        built = deploy(fabric)
        yield built
        built.session.close()


@pytest.fixture
def client(deployed: Deployed) -> Iterator[openai.OpenAI]:
    deployed.fabric.clear_fixtures()
    with openai_client(*where(deployed), token="t", project_id=deployed.fabric.tenant, max_retries=0) as made:
        yield made


def where(deployed: Deployed) -> tuple[str, str, str]:
    return deployed.fabric.base_url, deployed.workspace, deployed.instance


def joined_calls(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """A stream's tool call pieces joined per index, as client code accumulates them."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for piece in choice.delta.tool_calls or ():
                call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += piece.id or ""
                call["name"] += (piece.function.name or "") if piece.function else ""
                call["arguments"] += (piece.function.arguments or "") if piece.function else ""
    return calls


def test_a_forced_tool_choice_calls_the_function_with_arguments_valid_for_its_schema(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="m", messages=ASK, tools=[CLOCK, WEATHER], tool_choice=FORCED, stream=False)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_PARAMETERS)
    assert answer.usage is not None
    assert answer.usage.completion_tokens == count_tokens(f"get_weather {call.function.arguments}")
    again = client.chat.completions.create(model="m", messages=ASK, tools=[CLOCK, WEATHER], tool_choice=FORCED, stream=False)
    assert (again.choices[0].message.tool_calls or [])[0].function.arguments == call.function.arguments  # the seed's
    assert (again.choices[0].message.tool_calls or [])[0].id != call.id  # one id per answer


def test_a_streamed_forced_call_comes_in_pieces_that_join_to_the_unstreamed_one(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], tool_choice=FORCED, stream=False)
    chunks = list(client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], tool_choice=FORCED, stream=True))
    calls = joined_calls(chunks)
    expected = (whole.choices[0].message.tool_calls or [])[0]
    assert list(calls) == [0] and calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert calls[0]["arguments"] == expected.function.arguments
    pieces = [p for c in chunks for ch in c.choices for p in ch.delta.tool_calls or () if p.function and p.function.arguments]
    assert len(pieces) > 1, "the arguments came in one piece"
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]


def test_required_calls_one_of_the_tools(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="m", messages=ASK, tools=[CLOCK, WEATHER], tool_choice="required", stream=False)
    (call,) = answer.choices[0].message.tool_calls or []
    assert call.function.name in ("get_time", "get_weather")


def test_auto_and_none_answer_text(client: openai.OpenAI) -> None:
    for choice in ("auto", "none"):
        answer = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], tool_choice=choice, stream=False)  # type: ignore[arg-type]
        assert answer.choices[0].message.tool_calls is None and answer.choices[0].message.content
        assert answer.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        ({"tool_choice": "required"}, "body.tools: is required"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
    ],
)
def test_a_tool_choice_the_tools_cannot_meet_is_a_400_naming_the_field(client: openai.OpenAI, settings: dict[str, Any], field: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="m", messages=ASK, stream=False, **settings)
    assert field in str(refused.value.body), refused.value.body


def test_an_agent_loop_runs_two_turns_against_fixtures_matched_on_the_tool_result(deployed: Deployed, client: openai.OpenAI) -> None:
    deployed.fabric.add_fixture(LOOP_FIXTURES[0]["match"], LOOP_FIXTURES[0]["answer"])
    deployed.fabric.add_fixture(LOOP_FIXTURES[1]["match"], LOOP_FIXTURES[1]["answer"])
    for stream in (False, True):
        messages: list[Any] = list(ASK)
        first = call_once(client, messages, stream)
        assert first["content"] == "Let me look." and first["finish_reason"] == "tool_calls"
        (call,) = first["tool_calls"]
        assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris","unit":"c"}'}
        messages += [{"role": "assistant", "content": None, "tool_calls": first["tool_calls"]}]
        messages += [{"role": "tool", "tool_call_id": call["id"], "content": '{"temperature": 18}'}]
        second = call_once(client, messages, stream)
        assert second == {"content": "It is 18 °C in Paris.", "tool_calls": [], "finish_reason": "stop"}


def call_once(client: openai.OpenAI, messages: list[Any], stream: bool) -> dict[str, Any]:
    """One turn: the answer's content, calls (as the next request sends them back) and finish reason."""
    if not stream:
        choice = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER], stream=False).choices[0]
        calls = [c.model_dump(include={"id", "type", "function"}) for c in choice.message.tool_calls or ()]
        return {"content": choice.message.content, "tool_calls": calls, "finish_reason": choice.finish_reason}
    chunks = list(client.chat.completions.create(model="m", messages=messages, tools=[WEATHER], stream=True))
    content = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    joined = joined_calls(chunks).values()
    calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in joined]
    finish = next(ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason)
    return {"content": content, "tool_calls": calls, "finish_reason": finish}


def test_a_journal_of_an_agent_loop_replays_as_fixtures_in_strict_mode(deployed: Deployed, client: openai.OpenAI) -> None:
    deployed.fabric.clear_requests()
    for fixture in LOOP_FIXTURES:
        deployed.fabric.add_fixture(fixture["match"], fixture["answer"])
    messages: list[Any] = list(ASK)
    first = call_once(client, messages, stream=True)
    messages += [{"role": "assistant", "content": None, "tool_calls": first["tool_calls"]}]
    messages += [{"role": "tool", "tool_call_id": first["tool_calls"][0]["id"], "content": "18 degrees"}]
    second = call_once(client, messages, stream=False)
    converted = from_journal(deployed.fabric.requests(operation="InvokeModelService"), any_instance=True)
    assert not converted.skipped and len(converted.fixtures) == 2
    with MockFabric(strict_fixtures=True) as replaying:
        replayed = deploy(replaying)
        for fixture in converted.fixtures:
            replaying.add_fixture(fixture["match"], fixture["answer"], times=fixture.get("times"))
        with openai_client(*where(replayed), token="t", project_id=replaying.tenant, max_retries=0) as again:
            assert call_once(again, list(ASK), stream=False) == {**first, "content": "Let me look."}
            assert call_once(again, messages, stream=True) == second
        replayed.session.close()


def test_a_scripted_call_streams_over_the_wire_in_openai_form(deployed: Deployed) -> None:
    fabric = deployed.fabric
    fabric.script_completion(
        deployed.instance, tool_calls=[{"name": "get_time", "arguments": '{"zone": "Europe/Paris"}', "id": "call_mine"}]
    )
    url = f"{fabric.base_url}/v1/workspaces/{deployed.workspace}/services/instances/{deployed.instance}/invocations"
    headers = {"X-Auth-Token": "t", "X-Project-Id": fabric.tenant}
    with httpx2.Client(timeout=10) as raw, raw.stream("POST", url, json={"messages": ASK}, headers=headers) as answer:
        events = [line[len("data: ") :] for line in answer.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    deltas = [json.loads(event)["choices"][0] for event in events[:-1]]
    pieces = [d["delta"]["tool_calls"][0] for d in deltas if "tool_calls" in d["delta"]]
    assert pieces[0] == {"index": 0, "id": "call_mine", "type": "function", "function": {"name": "get_time", "arguments": ""}}
    assert all(set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in pieces[1:])
    assert "".join(p["function"]["arguments"] for p in pieces) == '{"zone": "Europe/Paris"}'
    assert deltas[0]["delta"]["role"] == "assistant" and deltas[-1]["finish_reason"] == "tool_calls"


def test_the_async_client_and_langchain_get_tool_calls(deployed: Deployed) -> None:
    from langchain_openai import ChatOpenAI

    credentials = {"token": "t", "project_id": deployed.fabric.tenant}

    async def forced() -> Any:
        async with async_openai_client(*where(deployed), **credentials) as client:
            return await client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], tool_choice=FORCED, stream=False)

    answer = asyncio.run(forced())
    jsonschema.validate(json.loads((answer.choices[0].message.tool_calls or [])[0].function.arguments), WEATHER_PARAMETERS)
    with http_client(**credentials) as http:
        model = ChatOpenAI(model="default", base_url=instance_url(*where(deployed)), api_key="unused", http_client=http)  # type: ignore[arg-type]
        message = model.bind_tools([WEATHER], tool_choice="get_weather").invoke("What is the weather in Paris?")
    (call,) = message.tool_calls  # type: ignore[attr-defined]
    assert call["name"] == "get_weather"
    jsonschema.validate(call["args"], WEATHER_PARAMETERS)


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": None},
        {"role": "tool", "content": "18"},  # no tool_call_id
        {"role": "user", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    ],
)
def test_messages_that_are_neither_text_nor_calls_are_refused(client: openai.OpenAI, message: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="m", messages=[message], stream=False)  # type: ignore[list-item]
    assert "messages" in str(refused.value.body)


def readme_block(name: str, language: str) -> str:
    found = re.search(rf"<!-- {name}:.*?```{language}\n(.*?)```", README, re.S)
    assert found, f"the README's {name} block"
    return found.group(1)


def test_the_readme_agent_loop_runs_against_its_fixtures(deployed: Deployed, client: openai.OpenAI, tmp_path: Path) -> None:
    answers = tmp_path / "tools.yaml"
    answers.write_text(readme_block("tools-fixtures", "yaml"), encoding="utf-8")
    deployed.fabric.load_fixtures(str(answers))
    namespace: dict[str, Any] = {}
    exec(compile(readme_block("tools-loop", "python"), "README.md", "exec"), namespace)
    assert namespace["agent_loop"](client, "What is the weather in Paris?") == "It is 18 °C in Paris."
    bodies = [entry["body"] for entry in deployed.fabric.requests(operation="InvokeModelService")[-2:]]
    assert [message["role"] for message in bodies[1]["messages"]] == ["user", "assistant", "tool"]


def _fan_out(levels: int) -> dict[str, Any]:
    """An `allOf` of two refs to the level below, `levels` deep: a few hundred bytes that jsonschema checks in 2^levels
    steps."""
    defs: dict[str, Any] = {"l0": {"type": "string"}}
    for level in range(1, levels + 1):
        defs[f"l{level}"] = {"allOf": [{"$ref": f"#/$defs/l{level - 1}"}] * 2}
    return {"$defs": defs, **_required({"type": "string", "not": {"$ref": f"#/$defs/l{levels}"}})}


def _required_per_level(width: int, levels: int) -> dict[str, Any]:
    """`width` required properties per level, `levels` deep, each level written once in $defs: width^levels values."""
    defs: dict[str, Any] = {}
    for level in range(levels):
        below = {"$ref": f"#/$defs/l{level + 1}"} if level + 1 < levels else {"type": "integer"}
        names = [f"p{i}" for i in range(width)]
        defs[f"l{level}"] = {"type": "object", "properties": dict.fromkeys(names, below), "required": names}
    return {"$defs": defs, "$ref": "#/$defs/l0"}


def _nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(levels):
        schema = {"type": "array", "items": schema}
    return {"type": "object", "properties": {"a": schema}, "required": ["a"]}


def _required(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"a": schema}, "required": ["a"]}


HOSTILE_SCHEMAS = [  # each answered 200 after up to a second of the event loop, a 500, or the wrong reason, before
    pytest.param(_required({"type": "array", "minItems": 100_000}), "minItems 100000", id="minItems"),
    pytest.param(_required({"type": "string", "minLength": 100_000}), "minLength 100000", id="minLength"),
    pytest.param(_required_per_level(6, 6), "more than 500 values", id="six-required-per-level"),
    pytest.param(_fan_out(14), "more than 2000 steps", id="allOf-ref-fan-out"),
    pytest.param(_required({"enum": []}), "an empty enum", id="empty-enum"),
    pytest.param(_nested(200), "nested deeper than 64 levels", id="deep"),
    pytest.param(_required({"type": "string", "not": {"$ref": "http://127.0.0.1:9/x"}}), "$ref 'http://", id="remote-ref"),
    pytest.param(
        {"$defs": {"a": {"$ref": "#/$defs/a"}}, "type": "string", "not": {"$ref": "#/$defs/a"}}, "more than 2000 steps", id="ref-loop"
    ),
    pytest.param(
        {"type": "object", "properties": {"a" * 20 + "!": {}}, "required": ["a" * 20 + "!"], "propertyNames": {"pattern": "^(a+)+$"}},
        "`pattern`",
        id="backtracking-pattern",
    ),
    pytest.param(
        {"type": "object", "properties": {"a" * 20 + "!": {}}, "patternProperties": {"^(a+)+$": {}}, "additionalProperties": False},
        "`patternProperties`",
        id="backtracking-pattern-properties",
    ),
]


@pytest.mark.parametrize(("parameters", "reason"), HOSTILE_SCHEMAS)
def test_a_schema_whose_instance_would_be_huge_or_slow_to_check_is_a_400_at_once(
    client: openai.OpenAI, parameters: dict[str, Any], reason: str
) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": parameters}}
    forced = {"type": "function", "function": {"name": "f"}}
    started = time.perf_counter()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="m", messages=ASK, tools=[tool], tool_choice=forced, stream=False)  # type: ignore[list-item]
    assert time.perf_counter() - started < 0.5, "the refusal took the event loop for too long"
    body = refused.value.body
    assert isinstance(body, dict) and body["error_code"] == "dataartsfabric.00010010", body
    assert body["error_msg"].startswith("body.tools[0].function.parameters: ") and reason in body["error_msg"], body
    with pytest.raises(openai.BadRequestError) as again:  # the same schema as a response_format
        client.chat.completions.create(
            model="m",
            messages=ASK,
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": parameters}},
            stream=False,
        )
    assert isinstance(again.value.body, dict) and again.value.body["error_msg"].startswith("body.response_format.json_schema.schema: ")
    assert client.chat.completions.create(model="m", messages=ASK, stream=False).choices[0].message.content  # still serving


def test_a_property_named_pattern_and_a_long_minimum_length_are_filled(client: openai.OpenAI) -> None:
    parameters = {"type": "object", "properties": {"pattern": {"type": "string", "minLength": 40}}, "required": ["pattern"]}
    tool = {"type": "function", "function": {"name": "f", "parameters": parameters}}
    answer = client.chat.completions.create(model="m", messages=ASK, tools=[tool], tool_choice="required", stream=False)  # type: ignore[list-item]
    jsonschema.validate(json.loads((answer.choices[0].message.tool_calls or [])[0].function.arguments), parameters)


def test_a_message_sent_back_as_model_dump_with_null_tool_calls_is_taken(client: openai.OpenAI) -> None:
    """An agent loop that appends `message.model_dump()` sends `tool_calls: null` for a text answer (and null
    refusal, audio, function_call, annotations beside it), as OpenAI-compatible servers take it."""
    text = client.chat.completions.create(model="m", messages=ASK, stream=False).choices[0].message
    called = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], tool_choice=FORCED, stream=False).choices[0].message
    assert text.model_dump()["tool_calls"] is None
    call_id = (called.tool_calls or [])[0].id
    messages = [*ASK, text.model_dump(), *ASK, called.model_dump(), {"role": "tool", "tool_call_id": call_id, "content": "18"}]
    answer = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER], stream=False)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    for message in ({"role": "assistant", "content": None, "tool_calls": None}, {"role": "user", "tool_calls": None}):
        with pytest.raises(openai.BadRequestError) as refused:  # neither text nor calls, still
            client.chat.completions.create(model="m", messages=[*ASK, message], stream=False)  # type: ignore[list-item]
        assert "body.messages.1.content" in str(refused.value.body), refused.value.body
