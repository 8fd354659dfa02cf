"""The OpenAI fields the service does not document, decided (issue 30, item 2; each x-inferred in the contract and
listed in contracts/README.md): `stop` cuts the answer, `response_format` makes generated answers JSON (an instance
of the schema for json_schema, so the openai client's `parse` works), `logprobs` is refused with a 400 naming the
field. Through the openai client itself, against a live emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from pydantic import BaseModel

from mockfabric import MockFabric
from mockfabric.clients import openai_client
from mockfabric.service.completions import count_tokens

from ..serving.flow import Deployed, deploy

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def client() -> Iterator[tuple[openai.OpenAI, Deployed]]:
    with MockFabric() as fabric:
        deployed = deploy(fabric)
        with openai_client(
            fabric.base_url, deployed.workspace, deployed.instance, token="t", project_id=fabric.tenant, max_retries=0
        ) as made:
            yield made, deployed
        deployed.session.close()


def test_stop_cuts_a_scripted_answer_whole_or_streamed(client: tuple[openai.OpenAI, Deployed]) -> None:
    openai_, deployed = client
    deployed.fabric.script_completion(deployed.instance, "first part. END second part")
    whole = openai_.chat.completions.create(model="m", messages=HI, stop=["END", "never"])
    assert whole.choices[0].message.content == "first part. " and whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None and whole.usage.completion_tokens == count_tokens("first part. ")  # what was answered
    deployed.fabric.script_completion(deployed.instance, "first part. END second part")
    chunks = list(openai_.chat.completions.create(model="m", messages=HI, stop="END", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "first part. "


def test_stop_cuts_a_generated_answer(client: tuple[openai.OpenAI, Deployed]) -> None:
    openai_, _ = client
    full = openai_.chat.completions.create(model="m", messages=HI, seed=5).choices[0].message.content or ""
    word = full.split()[3]
    cut = openai_.chat.completions.create(model="m", messages=HI, seed=5, stop=[f" {word}"]).choices[0].message.content
    assert cut == full[: full.index(f" {word}")]


def test_json_object_answers_a_json_object(client: tuple[openai.OpenAI, Deployed]) -> None:
    openai_, _ = client
    answer = openai_.chat.completions.create(model="m", messages=HI, response_format={"type": "json_object"}, max_tokens=500)
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


class Weather(BaseModel):
    city: str
    degrees: int
    windy: bool
    tags: list[str]


def test_json_schema_answers_an_instance_the_openai_client_parses(client: tuple[openai.OpenAI, Deployed]) -> None:
    openai_, _ = client
    parsed = openai_.chat.completions.parse(model="m", messages=HI, response_format=Weather, max_tokens=500)
    weather = parsed.choices[0].message.parsed
    assert isinstance(weather, Weather) and weather.tags
    again = openai_.chat.completions.parse(model="m", messages=HI, response_format=Weather, max_tokens=500).choices[0].message.parsed
    assert again == weather  # drawn from the seed: the same request, the same instance


def test_a_schema_the_emulator_cannot_fill_is_a_400_naming_it(client: tuple[openai.OpenAI, Deployed]) -> None:
    openai_, _ = client
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}, "required": ["code"]}
    with pytest.raises(openai.BadRequestError) as caught:
        openai_.chat.completions.create(
            model="m", messages=HI, response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["error_code"] == "dataartsfabric.00010010"
    assert body["error_msg"].startswith("body.response_format.json_schema.schema: ")


def test_logprobs_are_refused_not_dropped(client: tuple[openai.OpenAI, Deployed]) -> None:
    openai_, _ = client
    with pytest.raises(openai.BadRequestError) as caught:
        openai_.chat.completions.create(model="m", messages=HI, logprobs=True)
    body = caught.value.body
    assert isinstance(body, dict) and "logprobs" in body["error_msg"]
    assert openai_.chat.completions.create(model="m", messages=HI, logprobs=False).choices[0].message.content
