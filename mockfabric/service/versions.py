"""What every versioned resource (a model, a job) shares: finding a version, making one current, refusing to remove
the current one, and a page of its versions.

What must hold: a resource's `versions` are kept oldest first by id and `record["current_version"]` is one of them."""

from __future__ import annotations

from typing import Any

from ..errors import ResourceNotFound, StateConflict
from .listing import Listing, Page, cut, fuzzy
from .store import Entry, Record


def version_of(entry: Entry, version_id: str, kind: str, *, field: str | None = None) -> Record:
    """The version of the `kind` (model, job) entry; ResourceNotFound (naming `field` when given) otherwise."""
    version = entry.versions.get(version_id)
    if version is None:
        raise ResourceNotFound(f"{kind} version {version_id} does not exist in {kind} {entry.record['id']}", field=field)
    return version


def make_current(entry: Entry, version: Record) -> None:
    """Keep `version` (new or already kept) and make it the current one."""
    entry.versions[version["id"]] = version
    entry.record["current_version"] = version


def refuse_current(entry: Entry, version_id: str, kind: str) -> None:
    """StateConflict when `version_id` is the entry's current version (it cannot be removed)."""
    if entry.record["current_version"]["id"] == version_id:
        raise StateConflict(f"{kind} version {version_id} is the {kind}'s current version; make another version current first")


def page_of(entry: Entry, listing: Listing, version_id: str | None = None) -> Page[dict[str, Any]]:
    """The entry's versions, newest first, filtered by exact id and fuzzy name."""
    chosen = [
        version
        for version in reversed(entry.versions.values())
        if (version_id is None or version["id"] == version_id) and (listing.name is None or fuzzy(version["name"], listing.name))
    ]
    return cut(chosen, listing)
