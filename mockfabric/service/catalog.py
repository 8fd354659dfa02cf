"""The built-in catalog (specs, base models and their limits, features, the platform's public models), read from a
data file and checked against the contract."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CATALOG = "catalog.yaml"


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """What a base model allows one answer: at most `max_output` tokens, and prompt plus answer within
    `context_length` (None: no bound known); a reasoning model streams reasoning_content before content."""

    max_output: int
    context_length: int | None = None
    reasoning: bool = False


@dataclass(frozen=True, slots=True)
class PublicModel:
    """A platform public model and its preset public inference service."""

    id: str
    name: str
    base_model_type: str
    service_id: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Catalog:
    specs: list[dict[str, Any]]
    spec_scenarios: Mapping[str, str]  # spec_code -> COMPUTE | ENDPOINT (not a field of Spec on the wire)
    base_models: list[dict[str, Any]]
    features: list[dict[str, str]]
    limits: Mapping[str, ModelLimits] = field(default_factory=dict)  # by base_model_type
    public_models: list[PublicModel] = field(default_factory=list)

    def spec(self, spec_code: str) -> dict[str, Any] | None:
        return next((spec for spec in self.specs if spec["spec_code"] == spec_code), None)

    def base_model(self, base_model_type: str) -> dict[str, Any] | None:
        return next((m for m in self.base_models if m["base_model_type"] == base_model_type), None)


CATALOG_KEYS = ("specs", "base_models", "features", "public_models")
LIMIT_KEYS = ("context_length", "reasoning")  # of a base model, read by the emulator, not on the wire
PUBLIC_MODEL_KEYS = frozenset(PublicModel.__dataclass_fields__)
RESOURCE_ID = re.compile(r"^[A-Za-z0-9-]{32,36}$")  # the contract's pattern for model and instance ids


class CatalogError(ValueError):
    """The catalog file cannot be used; the message names the file (or item) and the problem, in one line."""


def read_catalog(path: str | None = None) -> dict[str, Any]:
    """The raw catalog document: the packaged default, or a user's file (`--catalog`); CatalogError when unusable."""
    name = path or DEFAULT_CATALOG
    try:
        if path is None:
            text = (resources.files("mockfabric") / "data" / DEFAULT_CATALOG).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"catalog {name}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CatalogError(f"catalog {name}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"catalog {name}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(data, dict):
        raise CatalogError(f"catalog {name}: expected a mapping with {', '.join(CATALOG_KEYS)}")
    unknown = sorted(str(key) for key in data if key not in CATALOG_KEYS)
    if unknown:
        raise CatalogError(f"catalog {name}: unknown key(s) {', '.join(unknown)}; expected {', '.join(CATALOG_KEYS)}")
    for key in CATALOG_KEYS:
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise CatalogError(f"catalog {name}: {key} must be a list of mappings")
    return data


def build_catalog(data: Mapping[str, Any], check: Callable[[str, Any], str | None]) -> Catalog:
    """Validate each item with `check(schema_name, item)` (returns a problem or None) and build the catalog."""
    specs, scenarios = [], {}
    for raw in data.get("specs", []):
        spec = {k: v for k, v in raw.items() if k != "scenario"}
        _require(check("Spec", spec), f"spec {spec.get('spec_code')}")
        specs.append(spec)
        scenarios[spec["spec_code"]] = raw.get("scenario", "ENDPOINT")
    base_models, limits = [], {}
    for raw in data.get("base_models", []):
        model = {k: v for k, v in raw.items() if k not in LIMIT_KEYS}
        what = f"base model {model.get('base_model_type')}"
        _require(check("BaseModel", model), what)
        limits[model["base_model_type"]] = _limits(raw, what)
        base_models.append(model)
    features = list(data.get("features", []))
    for feature in features:
        _require(check("Feature", feature), f"feature {feature.get('key')}")
    public = [_public_model(raw, limits) for raw in data.get("public_models", [])]
    return Catalog(specs, scenarios, base_models, features, limits, public)


def _limits(raw: Mapping[str, Any], what: str) -> ModelLimits:
    context, reasoning = raw.get("context_length"), raw.get("reasoning", False)
    if context is not None and (type(context) is not int or context < 1):
        raise CatalogError(f"catalog {what}: context_length must be a positive integer, not {context!r}")
    if type(reasoning) is not bool:
        raise CatalogError(f"catalog {what}: reasoning must be true or false, not {reasoning!r}")
    return ModelLimits(raw["max_tokens"], context, reasoning)


def _public_model(raw: Mapping[str, Any], limits: Mapping[str, ModelLimits]) -> PublicModel:
    what = f"public model {raw.get('name', raw.get('id'))!r}"
    unknown = sorted(set(map(str, raw)) - PUBLIC_MODEL_KEYS)
    missing = sorted(PUBLIC_MODEL_KEYS - {"description"} - set(raw))
    if unknown or missing:
        raise CatalogError(f"catalog {what}: unknown key(s) {unknown}, missing {missing}")
    for key in ("id", "service_id"):
        if not isinstance(raw[key], str) or not RESOURCE_ID.match(raw[key]):
            raise CatalogError(f"catalog {what}: {key} must be 32-36 letters, digits or '-'")
    if not isinstance(raw["name"], str) or not raw["name"] or not isinstance(raw.get("description", ""), str):
        raise CatalogError(f"catalog {what}: name must be a non-empty string and description a string")
    if raw["base_model_type"] not in limits:
        raise CatalogError(f"catalog {what}: base_model_type {raw['base_model_type']!r} is not among base_models")
    return PublicModel(raw["id"], raw["name"], raw["base_model_type"], raw["service_id"], raw.get("description", ""))


def _require(problem: str | None, what: str) -> None:
    if problem:
        raise CatalogError(f"catalog {what}: {problem}")
