"""The account's agents, groups and phone numbers: read before parsing, created as met.

Two faces, like the simulator's sinks: `StoreReference` works on a `Talkstats` service
in this process (the embedded store), `HttpReference` on a running server's admin API.
Both load what the account has (`KnownReference`, for the `Resolver`) and create what
the resolver invented (`NewReference`) before the events that name it are sent.

Agents created here get the email ``agent<ID>@asterisk.invalid`` (the ``.invalid``
top-level domain never resolves): talkstats needs an email, Asterisk has none.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Protocol

from talkstats.connectors.asterisk.mapping import KnownReference, NewReference
from talkstats.simulator.driver import DriverError, HttpAdmin

__all__ = ["HttpReference", "ReferenceWriter", "StoreReference", "agent_email"]


def agent_email(agent_id: int) -> str:
    return f"agent{agent_id}@asterisk.invalid"


class ReferenceWriter(Protocol):
    def load(self) -> KnownReference: ...

    def create(self, new: NewReference) -> None: ...


class StoreReference:
    """Reference data of an account in an in-process `Talkstats` service."""

    def __init__(self, service: Any, account: Any) -> None:
        self.service = service
        self.account = account

    def load(self) -> KnownReference:
        store, account_id = self.service.store, self.account.id
        return KnownReference(
            {u.id: (u.name, u.role) for u in store.list_users(account_id)},
            {g.id: g.name for g in store.list_groups(account_id)},
            {p.id: (p.number, p.name) for p in store.list_phone_numbers(account_id)},
            frozenset((m.group_id, m.user_id) for m in store.list_memberships(account_id)),
        )

    def create(self, new: NewReference) -> None:
        service, account = self.service, self.account
        for agent_id, name in new.agents:
            service.create_user(
                account, id=agent_id, name=name, email=agent_email(agent_id), role="agent"
            )
        for group_id, name in new.groups:
            service.create_group(account, id=group_id, name=name)
        for number_id, number, name in new.phone_numbers:
            service.create_phone_number(account, id=number_id, number=number, name=name)
        for group_id, agent_id in new.memberships:
            service.add_membership(account, group_id=group_id, user_id=agent_id)


class HttpReference:
    """Reference data through a running server's admin API."""

    def __init__(self, admin: HttpAdmin) -> None:
        self.http = admin.http

    def _list(self, path: str, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = f"{path}?per_page=100"
        while url:
            status, body = self.http.request("GET", url)
            if status != 200 or not isinstance(body, dict):
                raise DriverError(f"GET {url}: HTTP {status}: {body}")
            out.extend(body.get(key) or [])
            following = body.get("next_page")
            url = None
            if following:
                parts = urllib.parse.urlsplit(following)
                url = parts.path + ("?" + parts.query if parts.query else "")
        return out

    def load(self) -> KnownReference:
        users = self._list("/api/v2/users", "users")
        groups = self._list("/api/v2/groups", "groups")
        numbers = self._list("/api/v2/channels/voice/phone_numbers", "phone_numbers")
        return KnownReference(
            {int(u["id"]): (str(u.get("name", "")), str(u.get("role", ""))) for u in users},
            {int(g["id"]): str(g.get("name", "")) for g in groups},
            {
                int(p["id"]): (str(p.get("number", "")), str(p.get("nickname") or ""))
                for p in numbers
            },
            # the API lists no memberships: creating one that exists is answered 422
        )

    def _post(self, path: str, key: str, record: dict[str, Any], *, exists_ok: bool) -> None:
        status, body = self.http.request("POST", path, {key: record})
        if status in (200, 201) or (exists_ok and status == 422):
            return
        raise DriverError(f"POST {path} {record}: HTTP {status}: {body}")

    def create(self, new: NewReference) -> None:
        for agent_id, name in new.agents:
            record = {"id": agent_id, "name": name, "email": agent_email(agent_id), "role": "agent"}
            self._post("/api/v2/users", "user", record, exists_ok=False)
        for group_id, name in new.groups:
            self._post("/api/v2/groups", "group", {"id": group_id, "name": name}, exists_ok=False)
        for number_id, number, name in new.phone_numbers:
            self._post(
                "/api/v2/channels/voice/phone_numbers",
                "phone_number",
                {"id": number_id, "number": number, "name": name},
                exists_ok=False,
            )
        for group_id, agent_id in new.memberships:
            self._post(
                "/api/v2/group_memberships",
                "group_membership",
                {"group_id": group_id, "user_id": agent_id},
                exists_ok=True,
            )
