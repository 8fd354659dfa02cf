"""to_json: whatever a record holds renders as JSON that reads back the same, fast path or fallback."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mockfabric.web.encoding import to_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_round_trips_through_the_standard_parser(value: Any) -> None:
    assert json.loads(to_json(value)) == value


def test_what_orjson_refuses_falls_back_to_json() -> None:
    assert json.loads(to_json({"big": 2**70})) == {"big": 2**70}  # beyond 64 bits
    assert to_json({1: "a"}) == b'{"1":"a"}'  # a key that is not a string, as json renders it


def test_compact_and_utf8() -> None:
    assert to_json({"name": "模型", "n": [1, None]}) == '{"name":"模型","n":[1,null]}'.encode()
