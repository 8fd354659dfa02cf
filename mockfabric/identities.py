"""Who each configured credential is: a project (the tenant) and the names that fill owner/create_user fields."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .contracts import control_contract


class CredentialsError(ValueError):
    """The credentials file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Identity:
    project_id: str
    domain_name: str
    domain_id: str
    user_name: str
    user_id: str
    ak: str | None = None
    sk: str | None = None
    security_token: str | None = None
    token: str | None = None


class Identities:
    def __init__(self, identities: list[Identity]) -> None:
        self._by_ak = {i.ak: i for i in identities if i.ak}
        self._tokens = [i for i in identities if i.token]

    def by_ak(self, ak: str) -> Identity | None:
        return self._by_ak.get(ak)

    def by_token(self, token: str) -> Identity | None:
        """Compares against every configured token in constant time per comparison."""
        found = None
        for identity in self._tokens:
            if hmac.compare_digest(token.encode(), (identity.token or "").encode()):
                found = identity
        return found


def parse_identities(data: Any, origin: str) -> Identities:
    problem = control_contract().component_check("CredentialsFile").problem(data)
    if problem is not None:
        raise CredentialsError(f"credentials {origin}: {problem}")
    identities = []
    for entry in data["credentials"]:
        name = entry.get("ak") or "token-user"
        identities.append(
            Identity(
                project_id=entry["project_id"],
                domain_name=entry.get("domain_name", "mockfabric"),
                domain_id=entry.get("domain_id", f"domain-{entry['project_id']}"),
                user_name=entry.get("user_name", name),
                user_id=entry.get("user_id", f"user-{name}"),
                ak=entry.get("ak"),
                sk=entry.get("sk"),
                security_token=entry.get("security_token"),
                token=entry.get("token"),
            )
        )
    aks = [i.ak for i in identities if i.ak]
    if len(aks) != len(set(aks)):
        raise CredentialsError(f"credentials {origin}: an AK appears twice")
    return Identities(identities)


def load_identities(path: str) -> Identities:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CredentialsError(f"credentials file {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise CredentialsError(f"credentials file {path} is not YAML/JSON ({exc})") from None
    return parse_identities(data, f"file {path}")
