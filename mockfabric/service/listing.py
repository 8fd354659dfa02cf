"""What every List* operation shares: the filters all lists have, the order, one page, the total before paging.

What must hold: the total counts every match before the page is cut; ties in a sort keep creation order; without
filters or a sort a page costs O(offset + limit), whatever the collection's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from .store import Entry

Predicate = Callable[[Entry], bool]
T = TypeVar("T")
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Listing:
    """What one List* request asks for: the common filters, the order and the page. `visibility` None or ALL
    filters nothing; `name` matches fuzzily; `sort_by` None means creation order."""

    offset: int = 0
    limit: int = 10
    id: str | None = None
    name: str | None = None
    type: str | None = None
    visibility: str | None = None
    sort_by: str | None = None
    descending: bool = True

    def filters(self) -> list[Predicate]:
        """The filters every resource list shares: exact id, fuzzy name, type, visibility."""
        tests: list[Predicate] = []
        if self.id is not None:
            tests.append(field_equals("id", self.id))
        if self.name is not None:
            tests.append(name_contains(self.name))
        if self.type is not None:
            tests.append(field_equals("type", self.type))
        if self.visibility in ("PRIVATE", "PUBLIC"):
            tests.append(field_equals("visibility", self.visibility))
        return tests


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    """One page of a list and how many items matched in all."""

    total: int
    items: list[Item]


def fuzzy(value: str | None, needle: str) -> bool:
    """Fuzzy name filter: case-insensitive substring (the docs say "fuzzy" without more)."""
    return needle.lower() in (value or "").lower()


def _itself(entry: Any) -> Entry:
    found: Entry = entry
    return found


def page(
    entries: dict[str, T],
    listing: Listing,
    predicates: Iterable[Predicate] = (),
    sort_key: Callable[[Entry], Any] | None = None,
    entry_of: Callable[[T], Entry] = _itself,
) -> Page[Entry]:
    """Filter (the listing's own filters and `predicates`), order (newest first unless a sort key is given), then
    cut one page. `entry_of` reads the Entry out of a container value (a workspace holds its Entry beside its
    resources)."""
    offset, limit, descending = listing.offset, listing.limit, listing.descending
    tests = listing.filters() + list(predicates)
    if not tests and sort_key is None:
        keys: Iterable[str] = reversed(entries) if descending else entries
        return Page(len(entries), [entry_of(entries[key]) for key in islice(keys, offset, offset + limit)])
    matches = [entry for entry in map(entry_of, entries.values()) if all(test(entry) for test in tests)]
    if sort_key is not None:
        matches.sort(key=lambda e: (sort_key(e), e.created_seq), reverse=descending)
    elif descending:
        matches.reverse()
    return Page(len(matches), matches[offset : offset + limit])


def cut(items: list[Item], listing: Listing) -> Page[Item]:
    """One page of a plain list, in the order given."""
    return Page(len(items), items[listing.offset : listing.offset + listing.limit])


def field_equals(name: str, value: Any) -> Predicate:
    return lambda entry: entry.record.get(name) == value


def name_contains(needle: str) -> Predicate:
    return lambda entry: fuzzy(entry.record.get("name"), needle)
