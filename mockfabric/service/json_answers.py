"""Answers in JSON, for `response_format` (inferred: the service documents no such field; its backend is an
OpenAI-compatible server, which answers `json_object` with a JSON object and `json_schema` with an instance of the
schema). What must hold: the same seed gives the same instance; the instance is valid against the schema (checked
with jsonschema), or the request is refused naming the schema's place; nothing recurses without bound.

Supported: type (one, or a list: the first that is not null), const, enum, properties with required (optional ones
drawn from the seed), items with minItems/maxItems, minimum/maximum, minLength/maxLength, anyOf/oneOf (the first
branch), allOf of one, and $ref into the schema's own $defs or definitions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

MAX_DEPTH = 16
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


class UnsupportedSchema(ValueError):
    """The schema asks for something the emulator cannot make an instance of; the message says what and where."""


def json_object(rng: random.Random, text: str) -> dict[str, Any]:
    """`json_object`: a small object drawn from the seed, the generated text in it."""
    return {"answer": text, "confidence": round(rng.random(), 3), "tags": [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]}


def instance_of(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """An instance of `schema`, drawn from `rng`, checked valid; UnsupportedSchema otherwise."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise UnsupportedSchema(f"not a JSON Schema: {exc.message}") from None
    made = _make(schema, schema, rng, 0, "schema")
    problem = next(iter(Draft202012Validator(schema).iter_errors(made)), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "the whole"
        raise UnsupportedSchema(f"the emulator cannot make an instance of this schema ({where}: {problem.message})")
    return made


def _make(schema: Any, root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> Any:
    if depth > MAX_DEPTH:
        raise UnsupportedSchema(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if schema is True or schema == {}:
        return rng.choice(WORDS)
    if not isinstance(schema, Mapping):
        raise UnsupportedSchema(f"{where}: a schema that accepts nothing")
    if "$ref" in schema:
        return _make(_resolve(schema["$ref"], root, where), root, rng, depth + 1, where)
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return _make(schema[combined][0], root, rng, depth + 1, f"{where}.{combined}[0]")
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _make(schema["allOf"][0], root, rng, depth + 1, f"{where}.allOf[0]")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    maker = _MAKERS.get(kind)
    if maker is None:
        raise UnsupportedSchema(f"{where}: type {kind!r}")
    return maker(schema, root, rng, depth, where)


def _resolve(reference: str, root: Mapping[str, Any], where: str) -> Any:
    for prefix in ("#/$defs/", "#/definitions/"):
        if reference.startswith(prefix):
            found = root.get(prefix[2:-1], {}).get(reference.removeprefix(prefix))
            if found is not None:
                return found
    raise UnsupportedSchema(f"{where}: $ref {reference[:100]!r} (only the schema's own $defs or definitions)")


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> dict[str, Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    made = {}
    for name, sub in properties.items():
        if name in required or rng.random() < 0.5:
            made[name] = _make(sub, root, rng, depth + 1, f"{where}.{name}")
    for name in required - set(made):
        made[name] = rng.choice(WORDS)  # required but not described: any value
    return made


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> list[Any]:
    low = int(schema.get("minItems", 1))
    high = max(low, min(int(schema.get("maxItems", low + 2)), low + 3))
    return [_make(schema.get("items", {}), root, rng, depth + 1, f"{where}[]") for _ in range(rng.randint(low, high))]


def _string(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> str:
    if "pattern" in schema or "format" in schema:
        raise UnsupportedSchema(f"{where}: a string with a pattern or format")
    low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 24))
    text = rng.choice(WORDS)
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    return text[: max(high, 0)] if len(text) > high else text


def _number(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> float:
    low, high = float(schema.get("minimum", 0)), float(schema.get("maximum", 100))
    return round(rng.uniform(low, max(low, high)), 3)


def _integer(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> int:
    low, high = int(schema.get("minimum", 0)), int(schema.get("maximum", 100))
    return rng.randint(low, max(low, high))


def _boolean(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> bool:
    return rng.random() < 0.5


def _null(schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int, where: str) -> None:
    return None


Maker = Callable[[Mapping[str, Any], Mapping[str, Any], random.Random, int, str], Any]
_MAKERS: dict[str, Maker] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": _boolean,
    "null": _null,
}
