"""Reference data of one account that events are validated against."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent as the statistics show it (users with role agent or admin)."""

    id: int
    name: str
    avatar_url: str | None = None


@dataclass
class Directory:
    """Agents, groups (with members) and phone numbers of one account."""

    agents: dict[int, AgentInfo] = field(default_factory=dict)
    phone_numbers: set[int] = field(default_factory=set)
    groups: dict[int, set[int]] = field(default_factory=dict)
    _sorted_agents: list[int] = field(default_factory=list)

    def add_agent(self, agent: AgentInfo) -> None:
        if agent.id not in self.agents:
            insort(self._sorted_agents, agent.id)
        self.agents[agent.id] = agent

    def add_phone_number(self, phone_number_id: int) -> None:
        self.phone_numbers.add(phone_number_id)

    def add_group(self, group_id: int) -> None:
        self.groups.setdefault(group_id, set())

    def add_member(self, group_id: int, agent_id: int) -> None:
        self.groups.setdefault(group_id, set()).add(agent_id)

    def agent_ids(self) -> list[int]:
        """All agent ids, ascending."""
        return list(self._sorted_agents)

    def agent_ids_in_groups(self, group_ids: Iterable[int]) -> list[int]:
        """Agents that are members of any of the groups, ascending."""
        members: set[int] = set()
        for group_id in group_ids:
            members |= self.groups.get(group_id, set())
        return [a for a in self._sorted_agents if a in members]
