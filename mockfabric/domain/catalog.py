"""The built-in catalog (specs, base models, features), read from a data file and checked against the contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CATALOG = "catalog.yaml"


@dataclass(frozen=True, slots=True)
class Catalog:
    specs: list[dict[str, Any]]
    spec_scenarios: Mapping[str, str]  # spec_code -> COMPUTE | ENDPOINT (not a field of Spec on the wire)
    base_models: list[dict[str, Any]]
    features: list[dict[str, str]]

    def spec(self, spec_code: str) -> dict[str, Any] | None:
        return next((spec for spec in self.specs if spec["spec_code"] == spec_code), None)

    def base_model(self, base_model_type: str) -> dict[str, Any] | None:
        return next((m for m in self.base_models if m["base_model_type"] == base_model_type), None)


CATALOG_KEYS = ("specs", "base_models", "features")


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
    base_models = list(data.get("base_models", []))
    for model in base_models:
        _require(check("BaseModel", model), f"base model {model.get('base_model_type')}")
    features = list(data.get("features", []))
    for feature in features:
        _require(check("Feature", feature), f"feature {feature.get('key')}")
    return Catalog(specs, scenarios, base_models, features)


def _require(problem: str | None, what: str) -> None:
    if problem:
        raise CatalogError(f"catalog {what}: {problem}")


def list_specs(catalog: Catalog, query: Mapping[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    chosen = [
        s
        for s in catalog.specs
        if (not query.get("spec_code") or s["spec_code"] == query["spec_code"])
        and (not query.get("spec_types") or s.get("spec_type") in query["spec_types"])
        and (not query.get("scenario") or catalog.spec_scenarios.get(s["spec_code"]) == query["scenario"])
    ]
    return _cut(chosen, query)


def _cut(items: list[Any], query: Mapping[str, Any]) -> tuple[int, list[Any]]:
    offset, limit = query.get("offset", 0), query.get("limit", 10)
    return len(items), items[offset : offset + limit]


def list_plain(items: list[Any], query: Mapping[str, Any]) -> tuple[int, list[Any]]:
    return _cut(items, query)


def _catalog_of(fabric: Any) -> Catalog:
    catalog: Catalog = fabric.catalog
    return catalog


def list_specs_operation(fabric: Any, call: Any) -> dict[str, Any]:
    total, specs = list_specs(_catalog_of(fabric), call.query)
    return {"total": total, "spec_codes": specs}


def list_base_models_operation(fabric: Any, call: Any) -> dict[str, Any]:
    total, models = list_plain(_catalog_of(fabric).base_models, call.query)
    return {"total": total, "models": models}


def list_features_operation(fabric: Any, call: Any) -> dict[str, Any]:
    total, configs = list_plain(_catalog_of(fabric).features, call.query)
    return {"total": total, "configs": configs}


OPERATIONS = {
    "ListSpecs": list_specs_operation,
    "ListBaseModels": list_base_models_operation,
    "ListFeatures": list_features_operation,
}
