"""Who is who: Asterisk members, queues and DIDs as talkstats agents, groups, numbers.

`Mapping` is the operator's mapping file (TOML, ``--map``), every part optional::

    [members]                 # member (interface or member name) -> agent id
    "PJSIP/400" = 17
    "Ann Lee" = 17            # the same agent under its member name
    "SIP/1001" = { agent_id = 21, name = "Bob Stone" }

    [queues.support]          # queue -> group and phone number
    group_id = 5
    phone_number_id = 3

    [dids]                    # DID -> phone number id
    "+4930123456" = 3

    [pause_reasons]           # pause reason -> status (default away)
    "Transfers only" = "transfers_only"

`Resolver` gives every member, queue and DID its id, in this order: the mapping file;
a record of the account that already matches (an agent with the member's number as
id, or with the member's name; a group named like the queue; a phone number whose
number is the DID or the queue); the number in the name (``PJSIP/400`` -> 400,
``Local/2004@from-internal/n`` -> 2004, ``Agent/1001`` -> 1001) when that id is free;
else the next free id. What it had to invent is collected for the caller to create
(`take_new`) before the events that name it are sent.

Pure: no I/O. The account's existing records come in as `KnownReference`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any

from talkstats.domain.eventschema import MAX_ID

__all__ = [
    "KnownReference",
    "Mapping",
    "MappingError",
    "NewReference",
    "Resolver",
    "member_number",
]

PAUSE_STATES = ("away", "transfers_only", "offline", "online")
_RESOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/([^@/\-]+)")


class MappingError(ValueError):
    """The mapping file is malformed; the message names the key."""


def member_number(member: str) -> int | None:
    """The number an interface or member name carries, if any.

    ``PJSIP/400`` -> 400, ``SIP/1001`` -> 1001, ``Local/2004@from-internal/n`` -> 2004,
    ``Agent/1001`` -> 1001, ``1001`` -> 1001; ``PJSIP/ann`` and ``Ann Lee`` -> None.
    """
    text = member.strip()
    match = None if _is_id(text) else _RESOURCE.match(text)
    digits = text if match is None else match.group(1)
    if not _is_id(digits):
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ID else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(name: str) -> str:
    """A name for a record: control characters (U+0000 above all) are no part of one."""
    return _CONTROL.sub("", name).strip() or "?"


def _is_id(text: str) -> bool:
    """ASCII digits short enough to be a record id ("²".isdigit() is true, int() refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 19


@dataclass(frozen=True, slots=True)
class QueueMap:
    group_id: int | None = None
    phone_number_id: int | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    """The parsed mapping file (all optional)."""

    members: dict[str, int] = field(default_factory=dict)
    member_names: dict[str, str] = field(default_factory=dict)
    queues: dict[str, QueueMap] = field(default_factory=dict)
    dids: dict[str, int] = field(default_factory=dict)
    pause_reasons: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, text: str) -> Mapping:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: MappingType[str, Any]) -> Mapping:
        unknown = set(data) - {"members", "queues", "dids", "pause_reasons"}
        if unknown:
            raise MappingError(
                f"unknown section(s) {', '.join(sorted(unknown))}: "
                "use members, queues, dids, pause_reasons"
            )
        members: dict[str, int] = {}
        names: dict[str, str] = {}
        for key, value in _table(data, "members").items():
            where = f"members.{key!r}"
            if isinstance(value, dict):
                extra = set(value) - {"agent_id", "name"}
                if extra:
                    raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
                if "agent_id" in value:
                    members[key] = _positive(value["agent_id"], f"{where}.agent_id")
                if "name" in value:
                    if not isinstance(value["name"], str) or not value["name"].strip():
                        raise MappingError(f"{where}.name must be a non-empty string")
                    names[key] = value["name"].strip()
            else:
                members[key] = _positive(value, where)
        queues: dict[str, QueueMap] = {}
        for key, value in _table(data, "queues").items():
            where = f"queues.{key!r}"
            if not isinstance(value, dict):
                raise MappingError(f"{where} must be a table with group_id / phone_number_id")
            extra = set(value) - {"group_id", "phone_number_id"}
            if extra:
                raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
            queues[key] = QueueMap(
                _positive(value["group_id"], f"{where}.group_id") if "group_id" in value else None,
                _positive(value["phone_number_id"], f"{where}.phone_number_id")
                if "phone_number_id" in value
                else None,
            )
        dids = {k: _positive(v, f"dids.{k!r}") for k, v in _table(data, "dids").items()}
        reasons: dict[str, str] = {}
        for key, value in _table(data, "pause_reasons").items():
            if value not in PAUSE_STATES:
                raise MappingError(
                    f"pause_reasons.{key!r} must be one of {', '.join(PAUSE_STATES)}"
                )
            reasons[key] = value
        return cls(members, names, queues, dids, reasons)

    def pause_state(self, reason: str) -> str:
        """The status a pause with this reason means (away unless mapped)."""
        return self.pause_reasons.get(reason, self.pause_reasons.get(reason.strip(), "away"))


def _table(data: MappingType[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise MappingError(f"{name} must be a table")
    return value


def _positive(value: object, where: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise MappingError(f"{where} must be a positive integer up to {MAX_ID}")
    return value


@dataclass(frozen=True, slots=True)
class KnownReference:
    """The account's records before the import: (id, name[, ...]) as the store has them."""

    users: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (name, role)
    groups: dict[int, str] = field(default_factory=dict)  # id -> name
    phone_numbers: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (number, name)
    memberships: frozenset[tuple[int, int]] = frozenset()  # (group id, user id)


@dataclass(slots=True)
class NewReference:
    """Records to create before sending the events that name them."""

    agents: list[tuple[int, str]] = field(default_factory=list)
    groups: list[tuple[int, str]] = field(default_factory=list)
    phone_numbers: list[tuple[int, str, str]] = field(default_factory=list)
    memberships: list[tuple[int, int]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.agents or self.groups or self.phone_numbers or self.memberships)

    def counts(self) -> dict[str, int]:
        return {
            "agents": len(self.agents),
            "groups": len(self.groups),
            "phone_numbers": len(self.phone_numbers),
            "memberships": len(self.memberships),
        }


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


class Resolver:
    """Assigns ids to members, queues and DIDs (see the module docstring)."""

    def __init__(self, mapping: Mapping | None = None, known: KnownReference | None = None) -> None:
        self.mapping = mapping or Mapping()
        known = known or KnownReference()
        self._users = dict(known.users)
        self._agents_by_name: dict[str, int] = {}
        for uid, (name, role) in sorted(known.users.items()):
            if role in ("agent", "admin"):
                self._agents_by_name.setdefault(_norm(name), uid)
        self._groups = dict(known.groups)
        self._groups_by_name: dict[str, int] = {}
        for gid, name in sorted(known.groups.items()):
            self._groups_by_name.setdefault(_norm(name), gid)
        self._numbers = dict(known.phone_numbers)
        self._numbers_by_number: dict[str, int] = {}
        self._numbers_by_name: dict[str, int] = {}
        for pid, (number, name) in sorted(known.phone_numbers.items()):
            self._numbers_by_number.setdefault(number.strip(), pid)
            self._numbers_by_name.setdefault(_norm(name), pid)
        self._memberships = set(known.memberships)
        self._member_ids: dict[str, int] = {}
        self._invented: set[int] = set()
        self._group_ids: dict[str, int] = {}
        self._queue_numbers: dict[str, int] = {}
        self._did_ids: dict[str, int] = {}
        self._new = NewReference()
        # the mapping's member names, keyed by agent id: a mapped name names the agent
        self._mapped_names: dict[int, str] = {}
        for key, name in self.mapping.member_names.items():
            agent_id = self.mapping.members.get(key) or member_number(key)
            if agent_id is not None:
                self._mapped_names.setdefault(agent_id, name)

    # --- agents -------------------------------------------------------------------

    def is_agent(self, agent_id: int) -> bool:
        user = self._users.get(agent_id)
        return user is not None and user[1] in ("agent", "admin")

    def agent(self, member: str) -> int:
        """The agent id of a member (interface or member name), creating one if needed."""
        found = self._member_ids.get(member)
        if found is not None:
            return found
        agent_id = self._find_agent(member)
        self._member_ids[member] = agent_id
        return agent_id

    def _find_agent(self, member: str) -> int:
        mapped = self.mapping.members.get(member)
        if mapped is None:
            mapped_name = self.mapping.member_names.get(member)
            by_name = self._agents_by_name.get(_norm(mapped_name)) if mapped_name else None
            mapped = by_name
        if mapped is not None:
            if mapped not in self._users:
                self._add_agent(mapped, self._name_for(mapped, member))
            return mapped
        number = member_number(member)
        free = number is not None and number not in self._invented
        if number is not None and free and (number not in self._users or self.is_agent(number)):
            if number not in self._users:
                self._add_agent(number, self._name_for(number, member))
            return number
        by_name = self._agents_by_name.get(_norm(member))
        if by_name is not None:
            return by_name
        agent_id = self._next_free(self._users)
        self._invented.add(agent_id)  # not the number of another member later
        self._add_agent(agent_id, self._name_for(agent_id, member))
        return agent_id

    def _name_for(self, agent_id: int, member: str) -> str:
        return self._mapped_names.get(agent_id) or self.mapping.member_names.get(member) or member

    def _add_agent(self, agent_id: int, name: str) -> None:
        self._users[agent_id] = (name, "agent")
        self._agents_by_name.setdefault(_norm(name), agent_id)
        self._new.agents.append((agent_id, _clean(name)))

    @staticmethod
    def _next_free(taken: MappingType[int, object]) -> int:
        return max(taken, default=0) + 1

    # --- queues and numbers -----------------------------------------------------------

    def group(self, queue: str) -> int:
        """The group id of a queue."""
        found = self._group_ids.get(queue)
        if found is None:
            found = self._group_ids[queue] = self._group(queue)
        return found

    def queue_number(self, queue: str) -> int:
        """The phone number id of a queue (for calls without a DID)."""
        found = self._queue_numbers.get(queue)
        if found is None:
            found = self._queue_numbers[queue] = self._queue_number(queue)
        return found

    def _group(self, queue: str) -> int:
        mapped = self.mapping.queues.get(queue, QueueMap()).group_id
        if mapped is None:
            mapped = self._groups_by_name.get(_norm(queue))
        if mapped is None:
            number = member_number(queue)
            mapped = number if number is not None and number not in self._groups else None
        if mapped is None:
            mapped = self._next_free(self._groups)
        if mapped not in self._groups:
            self._groups[mapped] = queue
            self._groups_by_name.setdefault(_norm(queue), mapped)
            self._new.groups.append((mapped, _clean(queue)))
        return mapped

    def _queue_number(self, queue: str) -> int:
        mapped = self.mapping.queues.get(queue, QueueMap()).phone_number_id
        if mapped is None:
            mapped = self._numbers_by_number.get(queue.strip()) or self._numbers_by_name.get(
                _norm(queue)
            )
        return self._number(mapped, queue, queue)

    def did(self, did: str) -> int:
        """The phone number id of a DID (FreePBX's ``DID`` line)."""
        found = self._did_ids.get(did)
        if found is None:
            mapped = self.mapping.dids.get(did)
            if mapped is None:
                mapped = self._numbers_by_number.get(did.strip())
            found = self._did_ids[did] = self._number(mapped, did, f"DID {did}")
        return found

    def _number(self, mapped: int | None, number: str, name: str) -> int:
        if mapped is None:
            digits = member_number(number) if number.strip().isdigit() else None
            mapped = digits if digits is not None and digits not in self._numbers else None
        if mapped is None:
            mapped = self._next_free(self._numbers)
        if mapped not in self._numbers:
            self._numbers[mapped] = (number, name)
            self._numbers_by_number.setdefault(number.strip(), mapped)
            self._new.phone_numbers.append((mapped, _clean(number), _clean(name)))
        return mapped

    def join(self, agent_id: int, queue: str) -> None:
        """The agent is a member of the queue's group."""
        group_id = self.group(queue)
        if (group_id, agent_id) not in self._memberships:
            self._memberships.add((group_id, agent_id))
            self._new.memberships.append((group_id, agent_id))

    def has_new(self) -> bool:
        return bool(self._new)

    def take_new(self) -> NewReference:
        """What was invented since the last call (to create before sending events)."""
        new, self._new = self._new, NewReference()
        return new

    # --- persistence (follow's state file) ----------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "members": self._member_ids,
            "invented": sorted(self._invented),
            "groups": self._group_ids,
            "queue_numbers": self._queue_numbers,
            "dids": self._did_ids,
        }

    def restore(self, data: MappingType[str, Any]) -> None:
        """Ids given in an earlier run keep their meaning (the account has those records)."""
        self._member_ids.update({str(k): int(v) for k, v in data.get("members", {}).items()})
        self._invented.update(int(i) for i in data.get("invented", ()))
        self._group_ids.update({str(k): int(v) for k, v in data.get("groups", {}).items()})
        self._queue_numbers.update(
            {str(k): int(v) for k, v in data.get("queue_numbers", {}).items()}
        )
        self._did_ids.update({str(k): int(v) for k, v in data.get("dids", {}).items()})


def known_from_records(
    users: Iterable[tuple[int, str, str]],
    groups: Iterable[tuple[int, str]],
    phone_numbers: Iterable[tuple[int, str, str]],
    memberships: Iterable[tuple[int, int]] = (),
) -> KnownReference:
    """`KnownReference` from plain tuples: (id, name, role), (id, name), (id, number, name)."""
    return KnownReference(
        {uid: (name, role) for uid, name, role in users},
        {gid: name for gid, name in groups},
        {pid: (number, name) for pid, number, name in phone_numbers},
        frozenset(memberships),
    )
