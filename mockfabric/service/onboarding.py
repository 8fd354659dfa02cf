"""Onboarding a tenant: signing the service agreement and creating the agencies Fabric acts through.

Documented: the codes dataartsfabric.00010005 (agreement version does not exist) and 00010006 (agreement version is
empty). Inferred: the agreement's name, version and URL, the agency's name and the policies' actions, and that
signing or creating again simply replaces what was there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import AgreementVersionEmpty, AgreementVersionUnknown, NotOnboarded, RuleViolated
from .core import Actor, Service
from .store import Record

AGREEMENT_RULES: list[Record] = [
    {
        "agreement_name": "fabric_service_agreement",
        "agreement_display_name": "DataArts Fabric Service Agreement",
        "agreement_version": "20250101",
        "agreement_url": "https://www.huaweicloud.com/declaration/sa_fabric.html",
    }
]
AGENCY_NAME = "dataarts_fabric_trust"
POLICIES: dict[str, tuple[bool, list[str], str]] = {  # policy type -> (required, actions, description)
    "FABRIC_COMMON_POLICY": (True, ["obs:object:GetObject", "obs:bucket:ListBucket", "vpc:*:get*"], "what every Fabric resource needs"),
    "FABRIC_SMN_POLICY": (False, ["smn:topic:publish"], "job notifications through SMN topics"),
    "FABRIC_LAKEFORMATION_POLICY": (False, ["lakeformation:*:get*"], "metadata from LakeFormation"),
    "FABRIC_AOM_POLICY": (False, ["aom:metric:get", "aom:metric:list"], "endpoint metrics in AOM"),
}


def show_agreement_rule() -> Record:
    """The agreement versions a tenant may sign now."""
    return {"agreement_rules": [dict(rule) for rule in AGREEMENT_RULES]}


def create_agreement(service: Service, actor: Actor, *, agreements: list[dict[str, Any]] | None = None) -> str:
    """Sign each agreement at a version the rules offer; nothing is signed when one of them cannot be."""
    offered = {(rule["agreement_name"], rule["agreement_version"]) for rule in AGREEMENT_RULES}
    given = agreements or []
    if not given:
        raise AgreementVersionEmpty(
            "agreement version is empty: give agreements with agreement_name and agreement_version", field="agreements"
        )
    for index, agreement in enumerate(given):
        version = agreement.get("agreement_version")
        if not version:
            raise AgreementVersionEmpty("agreement version is empty", field=f"agreements.{index}.agreement_version")
        if (agreement.get("agreement_name"), version) not in offered:
            raise AgreementVersionUnknown(
                f"agreement version does not exist: {agreement.get('agreement_name')!r} {version!r} (see ShowAgreementRule)",
                field=f"agreements.{index}",
            )
    signed = service.store.tenant(actor.tenant).onboarding.setdefault("agreements", {})
    signed.update((agreement["agreement_name"], agreement["agreement_version"]) for agreement in given)
    return "OK"


def show_agreement(service: Service, actor: Actor) -> Record:
    signed = service.store.existing(actor.tenant).onboarding.get("agreements", {})
    return {"agreements": [{"agreement_name": name, "agreement_version": version} for name, version in signed.items()]}


def delete_agreement(service: Service, actor: Actor) -> str:
    service.store.tenant(actor.tenant).onboarding.pop("agreements", None)
    return "OK"


def create_agency(service: Service, actor: Actor, *, policy_types: list[str] | None = None) -> str:
    """Create the agency with the given policies (the common one at least, as it is required)."""
    wanted = list(policy_types or ["FABRIC_COMMON_POLICY"])
    unknown = [policy for policy in wanted if policy not in POLICIES]
    if unknown:
        raise RuleViolated(f"unknown policy type(s) {', '.join(map(repr, unknown))}; known: {', '.join(POLICIES)}", field="policy_types")
    created = service.store.tenant(actor.tenant).onboarding.setdefault("agencies", [])
    created.extend(policy for policy in wanted if policy not in created)
    return "OK"


def list_agency(service: Service, actor: Actor, *, policy_type: str | None = None) -> Record:
    """The agency and, per policy type (or the one asked for), whether it is required and enabled."""
    created = service.store.existing(actor.tenant).onboarding.get("agencies", [])
    policies = [
        {"policy_type": name, "is_required": required, "is_enable": name in created, "actions": list(actions), "description": text}
        for name, (required, actions, text) in POLICIES.items()
        if policy_type is None or name == policy_type
    ]
    return {"agency_name": AGENCY_NAME, "authorized": "FABRIC_COMMON_POLICY" in created, "agency_policies": policies}


def delete_agency(service: Service, actor: Actor, *, policy_type: str | None = None) -> str:
    """Remove one policy of the agency, or the agency altogether."""
    onboarding = service.store.tenant(actor.tenant).onboarding
    if policy_type is None:
        onboarding.pop("agencies", None)
    else:
        onboarding["agencies"] = [policy for policy in onboarding.get("agencies", []) if policy != policy_type]
    return "OK"


Creation = TypeVar("Creation", bound=Callable[..., Any])


def after_onboarding(create: Creation) -> Creation:
    """A resource creation that, under --require-agreement, waits for the tenant's onboarding (the gating is inferred:
    the service expects it, the documentation names no error)."""

    @functools.wraps(create)
    def gated(*args: Any, **kwargs: Any) -> Any:
        service, actor = kwargs["service"], kwargs["actor"]
        if service.require_agreement and not onboarded(service, actor):
            raise NotOnboarded(
                "sign the current agreement (ShowAgreementRule, CreateAgreement) and create the agency with "
                "FABRIC_COMMON_POLICY (CreateAgency) before creating resources"
            )
        return create(*args, **kwargs)

    return gated  # type: ignore[return-value]


def onboarded(service: Service, actor: Actor) -> bool:
    """Whether the tenant signed every current agreement and created the common agency (--require-agreement)."""
    onboarding = service.store.existing(actor.tenant).onboarding
    signed = onboarding.get("agreements", {})
    current = all(signed.get(rule["agreement_name"]) == rule["agreement_version"] for rule in AGREEMENT_RULES)
    return current and "FABRIC_COMMON_POLICY" in onboarding.get("agencies", [])


OPERATIONS: dict[str, Callable[..., Any]] = {
    "ShowAgreementRule": show_agreement_rule,
    "CreateAgreement": create_agreement,
    "ShowAgreement": show_agreement,
    "DeleteAgreement": delete_agreement,
    "CreateAgency": create_agency,
    "ListAgency": list_agency,
    "DeleteAgency": delete_agency,
}
