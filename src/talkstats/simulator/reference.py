"""The reference data a scenario's events name: agents, groups and phone numbers.

The caller creates these (admin API or store) before it sends the simulator's events;
the core rejects events that name an unknown agent, group or phone number.
"""

from __future__ import annotations

from dataclasses import dataclass

from talkstats.simulator.scenario import Scenario

__all__ = ["AgentRef", "GroupRef", "PhoneNumberRef", "ReferenceData", "reference_data"]

_FIRST = (
    "Ana", "Ben", "Chloe", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kemi", "Liam", "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Carla", "Dmitri",
)  # fmt: skip
_LAST = (
    "Lima", "Novak", "Okafor", "Berg", "Costa", "Haddad", "Kim", "Larsen", "Moreau",
    "Nakamura", "Owens", "Petrov", "Quiroga", "Rossi", "Schmidt", "Tanaka", "Usman",
    "Varga", "Weber", "Yilmaz",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AgentRef:
    id: int
    name: str
    email: str
    role: str = "agent"


@dataclass(frozen=True, slots=True)
class GroupRef:
    id: int
    name: str
    members: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PhoneNumberRef:
    id: int
    number: str
    name: str


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """Everything to create in an account before replaying a scenario's events."""

    timezone: str
    agents: tuple[AgentRef, ...]
    groups: tuple[GroupRef, ...]
    phone_numbers: tuple[PhoneNumberRef, ...]


def _generated_name(index: int) -> str:
    first = _FIRST[index % len(_FIRST)]
    last = _LAST[(index // len(_FIRST) + index) % len(_LAST)]
    return f"{first} {last}"


def reference_data(scenario: Scenario) -> ReferenceData:
    """Agents (with deterministic names and emails), groups and phone numbers."""
    pool = scenario.agents
    agents = []
    for i, aid in enumerate(pool.ids):
        name = pool.names[i] if i < len(pool.names) else _generated_name(i)
        local = name.lower().replace(" ", ".")
        agents.append(AgentRef(id=aid, name=name, email=f"{local}.{aid}@{pool.email_domain}"))
    return ReferenceData(
        timezone=scenario.timezone,
        agents=tuple(agents),
        groups=tuple(GroupRef(g.id, g.name, g.members) for g in scenario.groups),
        phone_numbers=tuple(PhoneNumberRef(p.id, p.number, p.name) for p in scenario.phone_numbers),
    )
