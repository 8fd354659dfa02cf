"""The jsonschema-rs fast path of request validation never accepts what the reference validator (jsonschema) rejects.

Bodies start from the contract's examples (or `{}`) and are mutated where the schemas have edges: a field replaced
by any JSON value (strings near the patterns, numbers near the bounds, wrong types), a field removed, a field added
with a name the contract uses somewhere. Seeded through the hypothesis profile, so a failure reproduces.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockfabric.contracts import Operation, SchemaCheck, public_contract

CONTRACT = public_contract()
BODY_OPERATIONS = [op for op in CONTRACT.operations.values() if op.body_check is not None]


def _property_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        names = set(node.get("properties", {})) if isinstance(node.get("properties"), dict) else set()
        return names.union(*(_property_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_property_names(v) for v in node))
    return set()


NAMES = sorted(_property_names(CONTRACT.document["components"]) | _property_names(CONTRACT.document["paths"]))
EDGY_TEXT = st.one_of(
    st.text(max_size=8),
    st.text(alphabet="abcXYZ019-_. 中文!<>\n\\", min_size=0, max_size=70),
    st.sampled_from(["", "a", "ab", "x" * 64, "x" * 65, "x" * 129, "abc\n", "LLM_MODEL", "inference", "user", "true"]),
)
EDGY_NUMBERS = st.one_of(st.integers(min_value=-(2**65), max_value=2**65), st.floats(allow_nan=False, allow_infinity=False))
JSON = st.recursive(
    st.none() | st.booleans() | EDGY_NUMBERS | EDGY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


def _examples(operation: Operation) -> list[Any]:
    content = operation.spec["requestBody"]["content"]["application/json"]
    if "example" in content:
        return [content["example"]]
    return [example["value"] for example in content.get("examples", {}).values()] or [{}]


@st.composite
def mutated(draw: st.DrawFn, start: Any) -> Any:
    """`start` with a few edits at random depths."""
    body = start
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        body = draw(_edit(body))
    return body


def _edit(node: Any) -> st.SearchStrategy[Any]:
    if isinstance(node, dict) and node:
        key = st.sampled_from(sorted(node))
        return st.one_of(
            key.flatmap(lambda k: st.deferred(lambda: _edit(node[k])).map(lambda v: {**node, k: v})),
            key.map(lambda k: {n: v for n, v in node.items() if n != k}),
            st.tuples(st.sampled_from(NAMES), JSON).map(lambda kv: {**node, kv[0]: kv[1]}),
            JSON,
        )
    if isinstance(node, list) and node:
        index = st.integers(min_value=0, max_value=len(node) - 1)
        return index.flatmap(lambda i: st.deferred(lambda: _edit(node[i])).map(lambda v: [*node[:i], v, *node[i + 1 :]]))
    if isinstance(node, dict):
        return st.tuples(st.sampled_from(NAMES), JSON).map(lambda kv: {kv[0]: kv[1]}) | JSON
    return JSON


def _assert_fast_never_more_lenient(check: SchemaCheck, body: Any) -> None:
    fast, reference = check.verdicts(body)
    assert reference or not fast, f"jsonschema-rs accepts what jsonschema rejects: {body!r}"


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=lambda op: op.operation_id)
def test_the_examples_are_valid_for_both(operation: Operation) -> None:
    assert operation.body_check is not None
    for example in _examples(operation):
        if example != {}:
            assert operation.body_check.verdicts(example) == (True, True)


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=lambda op: op.operation_id)
@given(data=st.data())
def test_fast_path_never_accepts_what_the_reference_rejects(operation: Operation, data: st.DataObject) -> None:
    assert operation.body_check is not None
    start = data.draw(st.sampled_from(_examples(operation)))
    _assert_fast_never_more_lenient(operation.body_check, data.draw(mutated(start)))


def test_the_differential_check_can_fail() -> None:
    """A fast path that accepts everything is caught: the guard above is not vacuous."""

    class Lenient:
        def is_valid(self, _: Any) -> bool:
            return True

    check = CONTRACT.schema_check("/components/schemas/ChatCompletionChunk")
    check.verdicts({})  # compiled on first use
    assert check._compiled is not None
    check._compiled = (Lenient(), check._compiled[1])
    with pytest.raises(AssertionError, match="accepts what jsonschema rejects"):
        _assert_fast_never_more_lenient(check, {"object": 1})


PARAMETER_CHECKS = [
    (op, location, check)
    for op in CONTRACT.operations.values()
    for location, check in (("path", op.path_check), ("query", op.query_check), ("header", op.header_check))
    if check is not None
]
PARAMETER_VALUES = EDGY_TEXT | st.sampled_from(["0b5633ba2b904511ad514346f4d23d4b", "e935d0ef-f4eb-4b95-aff1-9d33ae9f57a6"]) | EDGY_NUMBERS
PARAMETER_VALUES = PARAMETER_VALUES | st.booleans() | st.lists(PARAMETER_VALUES, max_size=3)


@pytest.mark.parametrize(
    ("operation", "location", "check"), PARAMETER_CHECKS, ids=[f"{op.operation_id}-{where}" for op, where, _ in PARAMETER_CHECKS]
)
@given(data=st.data())
def test_fast_path_never_accepts_parameters_the_reference_rejects(
    operation: Operation, location: str, check: SchemaCheck, data: st.DataObject
) -> None:
    names = [p.name for p in operation.parameters if p.location == location]
    values = data.draw(st.dictionaries(st.sampled_from(names), PARAMETER_VALUES, max_size=len(names)))
    _assert_fast_never_more_lenient(check, values)
