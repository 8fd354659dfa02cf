"""The built-in catalog (specs, base models, features), read from a data file and checked against the contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .listing import Listing, Page, cut

if TYPE_CHECKING:
    from .core import Service

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


def list_specs(
    service: Service, listing: Listing, *, spec_code: str | None = None, spec_types: list[str] | None = None, scenario: str | None = None
) -> Page[dict[str, Any]]:
    catalog = service.catalog
    chosen = [
        s
        for s in catalog.specs
        if (not spec_code or s["spec_code"] == spec_code)
        and (not spec_types or s.get("spec_type") in spec_types)
        and (not scenario or catalog.spec_scenarios.get(s["spec_code"]) == scenario)
    ]
    return cut(chosen, listing)


def list_base_models(service: Service, listing: Listing) -> Page[dict[str, Any]]:
    return cut(service.catalog.base_models, listing)


def list_features(service: Service, listing: Listing) -> Page[dict[str, str]]:
    return cut(service.catalog.features, listing)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "ListSpecs": list_specs,
    "ListBaseModels": list_base_models,
    "ListFeatures": list_features,
}
