"""Answers in JSON, for `response_format` (inferred: the service documents no such field; its backend is an
OpenAI-compatible server, which answers `json_object` with a JSON object and `json_schema` with an instance of the
schema). What must hold: the same seed gives the same instance; the instance is valid against the schema (checked
with jsonschema), or the request is refused naming the schema's place; nothing recurses without bound, and no schema
costs more than a bounded amount of work, however small its text: the schema is walked (without recursion) to at
most MAX_SCHEMA_DEPTH levels before jsonschema sees it, an instance holds at most MAX_VALUES values and MAX_TEXT
characters of strings (`minItems: 1e9`, `minLength: 1e9` or ten required properties per level are refused, not
built), checking it takes at most MAX_STEPS keyword evaluations (`$ref` chains that fan out, like an `allOf` of two
refs per level, would otherwise take exponential time), and no regular expression is run (`pattern`,
`patternProperties`: Python's backtracking `re` spends seconds on `(a+)+$`, and the emulator makes no instance of a
pattern anyway). Each is a 400 naming the schema, as any other schema it cannot fill.

Supported: type (one, or a list: the first that is not null), const, enum, properties with required (optional ones
drawn from the seed), items with minItems/maxItems, minimum/maximum, minLength/maxLength, anyOf/oneOf (the first
branch), allOf of one, and $ref into the schema's own $defs or definitions.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from referencing.exceptions import Unresolvable

MAX_DEPTH = 16
MAX_SCHEMA_DEPTH = 64  # JSON levels of a schema (a schema level is up to two: `properties`, then the name)
MAX_VALUES = 500  # values an instance holds
MAX_TEXT = 16_384  # characters its strings hold together
MAX_STEPS = 2_000  # steps checking an instance may take (~1.5 µs each; a tool's schema takes ~20, a $ref 20)
REGEX_KEYWORDS = ("pattern", "patternProperties")
DATA_KEYWORDS = ("const", "enum", "default", "examples")  # their values are instances, not schemas
NAME_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


class UnsupportedSchema(ValueError):
    """The schema asks for something the emulator cannot make an instance of; the message says what and where."""


def json_object(rng: random.Random, text: str) -> dict[str, Any]:
    """`json_object`: a small object drawn from the seed, the generated text in it."""
    return {"answer": text, "confidence": round(rng.random(), 3), "tags": [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]}


def instance_of(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """An instance of `schema`, drawn from `rng`, checked valid; UnsupportedSchema otherwise."""
    _check_shape(schema)
    try:  # in Rust: jsonschema's own check took 30 ms of the event loop for a schema of 2 kB
        jsonschema_rs.meta.validate(dict(schema))
    except jsonschema_rs.ValidationError as exc:
        raise UnsupportedSchema(f"not a JSON Schema: {exc.message}") from None
    made = _make(schema, _Drawing(schema), rng, 0, "schema")
    _STEPS.left = MAX_STEPS
    try:
        problem = next(iter(_counted_validator()(schema).iter_errors(made)), None)
    except _TooCostly:
        raise UnsupportedSchema(f"checking an instance of it takes more than {MAX_STEPS} steps ($ref chains that fan out?)") from None
    except RecursionError:
        raise UnsupportedSchema("a $ref that refers to itself without end") from None
    except Unresolvable as exc:
        raise UnsupportedSchema(f"$ref {str(exc)[:100]!r} (only the schema's own $defs or definitions)") from None
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "the whole"
        raise UnsupportedSchema(f"the emulator cannot make an instance of this schema ({where}: {problem.message})")
    return made


def _check_shape(schema: Any) -> None:
    """UnsupportedSchema for a schema deeper than MAX_SCHEMA_DEPTH JSON levels or with a regular expression keyword,
    found without recursion (jsonschema's own walk recurses, and a RecursionError is no answer)."""
    pending: list[tuple[int, Any, bool]] = [(1, schema, True)]  # (level, value, whether it is a schema)
    while pending:
        level, value, is_schema = pending.pop()
        if not isinstance(value, dict | list):
            continue
        if level > MAX_SCHEMA_DEPTH:
            raise UnsupportedSchema(f"nested deeper than {MAX_SCHEMA_DEPTH} levels")
        if isinstance(value, list):
            pending.extend((level + 1, item, is_schema) for item in value)
            continue
        if not is_schema:  # a map of names to schemas
            pending.extend((level + 1, item, True) for item in value.values())
            continue
        found = [keyword for keyword in REGEX_KEYWORDS if keyword in value]
        if found:
            raise UnsupportedSchema(f"`{found[0]}`: the emulator makes no instance of a pattern")
        if "$dynamicRef" in value:
            raise UnsupportedSchema("`$dynamicRef` (only $ref into the schema's own $defs or definitions)")
        if isinstance(value.get("$ref"), str):  # every one, not only those an instance is drawn through: none is fetched
            _resolve(value["$ref"], schema, "schema")
        for keyword, item in value.items():
            if keyword not in DATA_KEYWORDS:
                pending.append((level + 1, item, keyword not in NAME_KEYWORDS))


@dataclass(slots=True)
class _Drawing:
    """The schema an instance is drawn for (what `$ref` resolves against) and what the instance holds so far."""

    root: Mapping[str, Any]
    values: int = 0
    text: int = 0

    def take(self, values: int, text: int, where: str) -> None:
        self.values += values
        self.text += text
        if self.values > MAX_VALUES:
            raise UnsupportedSchema(f"{where}: an instance of more than {MAX_VALUES} values")
        if self.text > MAX_TEXT:
            raise UnsupportedSchema(f"{where}: an instance of more than {MAX_TEXT} characters of text")


class _TooCostly(Exception):
    """Checking an instance took more than MAX_STEPS keyword evaluations."""


_STEPS = threading.local()  # keyword evaluations left to the check under way on this thread


def _counted(check: Callable[..., Any], cost: int = 1) -> Callable[..., Any]:
    """`check`, charged `cost` steps, or one and one more per entry of a list or map it holds (the subschemas `allOf`
    or `properties` apply, the values `enum` compares)."""

    def counted(validator: Any, value: Any, instance: Any, schema: Any) -> Iterable[Any] | None:
        _STEPS.left -= 1 + len(value) if isinstance(value, list | dict) else cost
        if _STEPS.left < 0:
            raise _TooCostly
        return check(validator, value, instance, schema)  # type: ignore[no-any-return]

    return counted


_COUNTED: list[Any] = []


def _counted_validator() -> Any:
    """Draft 2020-12's validator with every keyword counted against MAX_STEPS."""
    if not _COUNTED:
        costs = {"$ref": 20}  # resolving a reference costs ~15 times a plain keyword, and 100 stop a loop of them
        keywords = {name: _counted(check, costs.get(name, 1)) for name, check in Draft202012Validator.VALIDATORS.items()}
        _COUNTED.append(validators.extend(Draft202012Validator, keywords))  # type: ignore[no-untyped-call]
    return _COUNTED[0]


def _make(schema: Any, root: _Drawing, rng: random.Random, depth: int, where: str) -> Any:
    if depth > MAX_DEPTH:
        raise UnsupportedSchema(f"{where}: nested deeper than {MAX_DEPTH} levels")
    root.take(1, 0, where)
    if schema is True or schema == {}:
        return rng.choice(WORDS)
    if not isinstance(schema, Mapping):
        raise UnsupportedSchema(f"{where}: a schema that accepts nothing")
    if "$ref" in schema:
        return _make(_resolve(schema["$ref"], root.root, where), root, rng, depth + 1, where)
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return _make(schema[combined][0], root, rng, depth + 1, f"{where}.{combined}[0]")
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _make(schema["allOf"][0], root, rng, depth + 1, f"{where}.allOf[0]")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        if not schema["enum"]:
            raise UnsupportedSchema(f"{where}: an empty enum, which no value is one of")
        return rng.choice(schema["enum"])
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


def _object(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> dict[str, Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    made = {}
    for name, sub in properties.items():
        if name in required or rng.random() < 0.5:
            made[name] = _make(sub, root, rng, depth + 1, f"{where}.{name}")
    for name in required - set(made):
        root.take(1, 0, f"{where}.{name}")
        made[name] = rng.choice(WORDS)  # required but not described: any value
    return made


def _array(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> list[Any]:
    low = int(schema.get("minItems", 1))
    if low > MAX_VALUES:
        raise UnsupportedSchema(f"{where}: minItems {low}, past the {MAX_VALUES} values an instance may hold")
    high = max(low, min(int(schema.get("maxItems", low + 2)), low + 3))
    return [_make(schema.get("items", {}), root, rng, depth + 1, f"{where}[]") for _ in range(rng.randint(low, high))]


def _string(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> str:
    if "pattern" in schema or "format" in schema:
        raise UnsupportedSchema(f"{where}: a string with a pattern or format")
    low = int(schema.get("minLength", 1))
    high = int(schema.get("maxLength", max(low, 24)))  # a minLength past 24 is met, not cut to 24
    if low > MAX_TEXT:
        raise UnsupportedSchema(f"{where}: minLength {low}, past the {MAX_TEXT} characters an instance may hold")
    text = rng.choice(WORDS)
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    text = text[: max(high, 0)] if len(text) > high else text
    root.take(0, len(text), where)
    return text


def _number(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> float:
    low, high = float(schema.get("minimum", 0)), float(schema.get("maximum", 100))
    return round(rng.uniform(low, max(low, high)), 3)


def _integer(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> int:
    low, high = int(schema.get("minimum", 0)), int(schema.get("maximum", 100))
    return rng.randint(low, max(low, high))


def _boolean(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> bool:
    return rng.random() < 0.5


def _null(schema: Mapping[str, Any], root: _Drawing, rng: random.Random, depth: int, where: str) -> None:
    return None


Maker = Callable[[Mapping[str, Any], _Drawing, random.Random, int, str], Any]
_MAKERS: dict[str, Maker] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": _boolean,
    "null": _null,
}
