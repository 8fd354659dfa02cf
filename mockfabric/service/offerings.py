"""The catalog's read operations (ListSpecs, ListBaseModels, ListFeatures): the service's Catalog, filtered and paged.

Apart from catalog.py, which the Service is built with (the Catalog and reading it), so that the catalog does not
depend on the Service it is part of."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import Service
from .listing import Listing, Page, cut


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
