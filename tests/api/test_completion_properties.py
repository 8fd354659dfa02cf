"""Property: for any valid request, the streamed deltas concatenate to the unstreamed content, with equal usage,
and the stream keeps every chunk rule."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings
from mockfabric.testing.streams import chunk_rule_problems, parse_sse

from ..helpers import Api

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": text}), min_size=1, max_size=4
)
requests_ = st.fixed_dictionaries(
    {"messages": messages},
    optional={
        "max_tokens": st.integers(0, 40),
        "n": st.integers(1, 3),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
    },
)


def deployed_api() -> tuple[Api, str]:
    clock = ManualClock()
    instant = Progression("instant")
    app = create_app(Settings(seed=5, validate_responses=True, lifecycle={"endpoint": instant, "service_instance": instant}), clock=clock)
    api = Api(app.test_client(), {"X-Auth-Token": "prop"}, clock)
    ws = api.workspace()
    endpoint = api.endpoint(ws)
    instance = api.instance(ws, api.model(ws)["id"], endpoint)
    return api, f"/v1/workspaces/{ws}/services/instances/{instance}/invocations"


API, URL = deployed_api()


@given(body=requests_)
def test_stream_and_plain_answers_agree(body: dict[str, Any]) -> None:
    plain = API.ok("POST", URL, {**body, "stream": False})
    streamed = API.client.post(URL, json={**body, "stream": True}, headers=API.headers)
    assert streamed.status_code == 200
    stream = parse_sse(streamed.data.splitlines(keepends=True))
    include_usage = body.get("stream_options", {}).get("include_usage", False)
    assert chunk_rule_problems(stream, include_usage=include_usage) == []
    for choice in plain["choices"]:
        assert stream.content(choice["index"]) == choice["message"]["content"]
    finishes = {
        c["choices"][0]["index"]: c["choices"][0]["finish_reason"]
        for c in stream.chunks
        if c["choices"] and c["choices"][0]["finish_reason"]
    }
    assert finishes == {c["index"]: c["finish_reason"] for c in plain["choices"]}
    if include_usage:
        assert stream.usage() == plain["usage"]
    limit = body.get("max_tokens") or 4096
    assert plain["usage"]["completion_tokens"] <= limit * len(plain["choices"])
    assert len(plain["choices"]) == body.get("n", 1)
