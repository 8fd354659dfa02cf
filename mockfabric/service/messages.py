"""Message notification policies of a workspace: which job messages (SUCCESS, FAILED) go to which SMN topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import RuleViolated
from .core import Service
from .listing import Listing, Page, fuzzy, page
from .store import Entry, Record, WorkspaceState

NOTIFY_TYPES = ("SUCCESS", "FAILED")


def create_policies(service: Service, workspace: WorkspaceState, *, message_notification_policy_list: list[dict[str, Any]]) -> Record:
    """One policy per item, all or none; the answer is the first (the response holds one policy: inferred)."""
    if not message_notification_policy_list:
        raise RuleViolated("give at least one policy", field="message_notification_policy_list")
    for index, item in enumerate(message_notification_policy_list):
        unknown = [kind for kind in item["notification_types"] if kind not in NOTIFY_TYPES]
        if unknown:
            field = f"message_notification_policy_list.{index}.notification_types"
            raise RuleViolated(f"{', '.join(map(repr, unknown))}: notification types are {', '.join(NOTIFY_TYPES)}", field=field)
    created = []
    for item in message_notification_policy_list:
        record: Record = {
            "id": service.ids.uuid(),
            **{key: item[key] for key in ("message_type", "name_pattern", "notification_types", "topic_urn")},
        }
        workspace.policies[record["id"]] = Entry(record, created_seq=service.store.next_seq())
        created.append(record)
    return created[0]


def list_policies(
    workspace: WorkspaceState,
    listing: Listing,
    *,
    message_type: str | None = None,
    name_pattern: str | None = None,
    notify_type: str | None = None,
) -> Page[Entry]:
    tests: list[Callable[[Entry], bool]] = []
    if message_type is not None:
        tests.append(lambda e: e.record["message_type"] == message_type)
    if name_pattern is not None:
        tests.append(lambda e: fuzzy(e.record["name_pattern"], name_pattern))
    if notify_type is not None:
        tests.append(lambda e: notify_type in e.record["notification_types"])
    return page(workspace.policies, listing, tests)


def delete_policy(workspace: WorkspaceState, policy: Entry) -> str:
    del workspace.policies[policy.record["id"]]
    return "OK"


OPERATIONS: dict[str, Callable[..., Any]] = {
    "CreateMessageNotificationPolicy": create_policies,
    "ListMessageNotificationPolicy": list_policies,
    "DeleteMessageNotificationPolicy": delete_policy,
}
