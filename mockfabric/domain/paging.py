"""List mechanics shared by every List* operation: filters, ordering, offset/limit, total counted before paging."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any, TypeVar

from .store import Entry

Predicate = Callable[[Entry], bool]
T = TypeVar("T")


def fuzzy(value: str | None, needle: str) -> bool:
    """Fuzzy name filter: case-insensitive substring (the docs say "fuzzy" without more)."""
    return needle.lower() in (value or "").lower()


def _itself(entry: Any) -> Entry:
    found: Entry = entry
    return found


def page(
    entries: dict[str, T],
    query: Mapping[str, Any],
    predicates: Iterable[Predicate] = (),
    sort_key: Callable[[Entry], Any] | None = None,
    descending: bool = True,
    entry_of: Callable[[T], Entry] = _itself,
) -> tuple[int, list[Entry]]:
    """Filter, order (newest first unless a sort key is given), then cut one page. `entry_of` reads the Entry
    out of a container value (a workspace holds its Entry beside its resources).

    Without filters or sorting this costs O(offset + limit): the total is the dict's size and the page is read
    from the end of the insertion-ordered dict.
    """
    offset, limit = query.get("offset", 0), query.get("limit", 10)
    tests = list(predicates)
    if not tests and sort_key is None:
        keys: Iterable[str] = reversed(entries) if descending else entries
        return len(entries), [entry_of(entries[key]) for key in islice(keys, offset, offset + limit)]
    matches = [entry for entry in map(entry_of, entries.values()) if all(test(entry) for test in tests)]
    if sort_key is not None:
        matches.sort(key=lambda e: (sort_key(e), e.created_seq), reverse=descending)
    elif descending:
        matches.reverse()
    return len(matches), matches[offset : offset + limit]


def field_equals(name: str, value: Any) -> Predicate:
    return lambda entry: entry.record.get(name) == value


def name_contains(needle: str) -> Predicate:
    return lambda entry: fuzzy(entry.record.get("name"), needle)


def common_filters(query: Mapping[str, Any], id_param: str) -> list[Predicate]:
    """The filters every resource list shares: exact id (under its query name), fuzzy name, type, visibility
    (ALL or absent = no visibility filter)."""
    tests: list[Predicate] = []
    if id_param in query:
        tests.append(field_equals("id", query[id_param]))
    if "name" in query:
        tests.append(name_contains(query["name"]))
    if "type" in query:
        tests.append(field_equals("type", query["type"]))
    if query.get("visibility") in ("PRIVATE", "PUBLIC"):
        tests.append(field_equals("visibility", query["visibility"]))
    return tests
