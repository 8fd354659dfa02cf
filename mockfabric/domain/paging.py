"""List mechanics shared by every List* operation: filters, ordering, offset/limit, total counted before paging."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from .store import Entry

Predicate = Callable[[Entry], bool]


def fuzzy(value: str | None, needle: str) -> bool:
    """Fuzzy name filter: case-insensitive substring (the docs say "fuzzy" without more)."""
    return needle.lower() in (value or "").lower()


def page(
    entries: dict[str, Entry],
    query: Mapping[str, Any],
    predicates: Iterable[Predicate] = (),
    sort_key: Callable[[Entry], Any] | None = None,
    descending: bool = True,
) -> tuple[int, list[Entry]]:
    """Filter, order (newest first unless a sort key is given), then cut one page.

    Without filters or sorting this costs O(offset + limit): the total is the dict's size and the page is read
    from the end of the insertion-ordered dict.
    """
    offset, limit = query.get("offset", 0), query.get("limit", 10)
    tests = list(predicates)
    if not tests and sort_key is None:
        ordered: Iterable[Entry] = (entries[key] for key in reversed(entries)) if descending else entries.values()
        return len(entries), list(islice(ordered, offset, offset + limit))
    matches = [entry for entry in entries.values() if all(test(entry) for test in tests)]
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
