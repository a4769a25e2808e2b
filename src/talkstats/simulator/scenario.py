"""Scenario: every parameter of the traffic model, loaded from TOML or a dict.

A scenario is plain data (frozen dataclasses). Unknown keys and bad values raise
`ScenarioError` naming the offending key, so a typo in a scenario file never passes
silently. Every key has a default; docs/simulator.md lists them all.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "PROFILES",
    "SCENARIOS_DIR",
    "AgentPool",
    "Break",
    "CallModel",
    "Group",
    "PhoneNumber",
    "Scenario",
    "ScenarioError",
    "Shift",
    "apply_overrides",
    "load_scenario",
    "scenario_from_dict",
    "scenario_path",
]

#: The ready scenario files (help-desk, center-200, bad-day, erlang-c, erlang-a) live in
#: the ready scenarios shipped inside the package
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"

#: Named time-of-day profiles: 24 multipliers of `calls_per_hour`, by local hour.
PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # a business help desk: closed at night, morning peak, lunch dip, afternoon peak
    "office": (
        0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.25,
        0.75, 1.00, 1.00, 0.95, 0.70, 0.85, 0.95, 0.90,
        0.75, 0.45, 0.15, 0.06, 0.04, 0.03, 0.03, 0.02,
    ),
    # a consumer line open long hours: late-morning and early-evening peaks
    "extended": (
        0.05, 0.03, 0.02, 0.02, 0.02, 0.04, 0.15, 0.45,
        0.75, 0.95, 1.00, 1.00, 0.90, 0.90, 0.95, 0.90,
        0.85, 0.85, 0.90, 0.80, 0.60, 0.40, 0.20, 0.10,
    ),
}  # fmt: skip


class ScenarioError(ValueError):
    """A scenario file or dict is malformed; the message names the key."""


@dataclass(frozen=True, slots=True)
class Break:
    """An agent break: goes `away` at local hour `at` for `minutes` (later if busy)."""

    at: float
    minutes: float


@dataclass(frozen=True, slots=True)
class Shift:
    """`agents` agents online from local hour `start` to `end` (end < start: overnight).

    A shift from 0 to 24 never logs off. Break times are staggered over the shift's
    agents across `break_spread_minutes` (centred on the break's `at`), so that a team
    does not leave the queue all at once. `transfers_only_probability` is the chance that
    an agent spends one block of `transfers_only_minutes` in `transfers_only` per shift.
    """

    agents: int
    start: float
    end: float
    breaks: tuple[Break, ...] = ()
    transfers_only_probability: float = 0.0
    transfers_only_minutes: float = 30.0
    jitter_minutes: float = 3.0
    break_spread_minutes: float = 90.0

    @property
    def always_on(self) -> bool:
        return self.end - self.start >= 24.0


@dataclass(frozen=True, slots=True)
class AgentPool:
    """Agents get consecutive ids from `first_id`; `names` name the first ones."""

    count: int = 10
    first_id: int = 1001
    names: tuple[str, ...] = ()
    email_domain: str = "example.com"
    via_phone_share: float = 0.0

    @property
    def ids(self) -> range:
        return range(self.first_id, self.first_id + self.count)


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    members: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A phone number with its own Poisson arrival process.

    The arrival rate at local hour h is `calls_per_hour * profile[h]` (after the
    outside-hours rescaling, see `hourly_multipliers`). Each arrival is an outbound call
    (share `outbound_share`), a Web Widget callback request (`web_widget_share`, only in
    business hours) or an inbound phone call.
    """

    id: int
    number: str
    name: str
    calls_per_hour: float
    profile: tuple[float, ...] = PROFILES["flat"]
    group_id: int | None = None
    business_hours: tuple[float, float] = (0.0, 24.0)
    outside_hours_share: float | None = None
    outbound_share: float = 0.0
    web_widget_share: float = 0.0

    def is_open(self, local_hour: float) -> bool:
        start, end = self.business_hours
        if start <= end:
            return start <= local_hour < end
        return local_hour >= start or local_hour < end

    def hourly_multipliers(self) -> tuple[float, ...]:
        """The profile, with hours outside business hours rescaled so that they carry
        `outside_hours_share` of the day's expected arrivals (when that is set)."""
        share = self.outside_hours_share
        if share is None:
            return self.profile
        # an hour counts as "outside" when its midpoint is outside business hours
        outside = [not self.is_open(h + 0.5) for h in range(24)]
        s_in = sum(m for m, o in zip(self.profile, outside, strict=True) if not o)
        s_out = sum(m for m, o in zip(self.profile, outside, strict=True) if o)
        n_out = sum(outside)
        if share == 0.0 or n_out == 0:
            return tuple(0.0 if o else m for m, o in zip(self.profile, outside, strict=True))
        target_out = share * s_in / (1.0 - share)
        if s_out > 0:
            k = target_out / s_out
            return tuple(m * k if o else m for m, o in zip(self.profile, outside, strict=True))
        each = target_out / n_out
        return tuple(each if o else m for m, o in zip(self.profile, outside, strict=True))


@dataclass(frozen=True, slots=True)
class CallModel:
    """How callers and agents behave. Durations are seconds; None means "never"."""

    ivr_seconds: float = 8.0
    handle_time_mean: float = 240.0
    handle_time_distribution: str = "lognormal"
    handle_time_sigma: float = 0.7
    ring_seconds: float = 6.0
    ring_timeout: float = 20.0
    miss_probability: float = 0.03
    decline_probability: float = 0.02
    hold_probability: float = 0.15
    hold_mean: float = 40.0
    transfer_probability: float = 0.04
    transfer_seconds: float = 12.0
    conference_probability: float = 0.02
    textback_probability: float = 0.02
    textback_deflection: float = 0.5
    patience_mean: float | None = 180.0
    max_queue_wait: float | None = 900.0
    voicemail_request_probability: float = 0.03
    voicemail_request_after: float = 40.0
    callback_request_probability: float = 0.08
    callback_request_after: float = 60.0
    callback_max_wait: float | None = 7200.0
    wrap_up_mean: float = 30.0
    voicemail_seconds: float = 35.0
    outside_hours_voicemail_probability: float = 0.6
    outbound_answer_probability: float = 0.7
    outbound_ring_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str = "scenario"
    description: str = ""
    timezone: str = "UTC"
    agents: AgentPool = field(default_factory=AgentPool)
    shifts: tuple[Shift, ...] = (Shift(agents=10, start=0.0, end=24.0),)
    groups: tuple[Group, ...] = ()
    phone_numbers: tuple[PhoneNumber, ...] = (
        PhoneNumber(id=1, number="+15550100001", name="Main line", calls_per_hour=30.0),
    )
    calls: CallModel = field(default_factory=CallModel)


# --------------------------------------------------------------------------- parsing


class _Section:
    """Reads one TOML table, checking types, and complains about what is left over."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(f"{path or 'scenario'}: must be a table")
        self.data: dict[str, Any] = dict(data)
        self.path = path

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self._key(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        return self.data.pop(key)

    def number(
        self,
        key: str,
        default: float,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
    ) -> float:
        if key not in self.data:
            return default
        return self._check_number(key, self.data.pop(key), lo, hi, lo_open)

    def _check_number(
        self, key: str, v: object, lo: float | None, hi: float | None, lo_open: bool
    ) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(key, f"must be a number (got {v!r})")
        x = float(v)
        if not math.isfinite(x):
            raise self.error(key, f"must be finite (got {v!r})")
        if lo is not None and (x < lo or (lo_open and x == lo)):
            op = ">" if lo_open else ">="
            raise self.error(key, f"must be {op} {lo:g} (got {v!r})")
        if hi is not None and x > hi:
            raise self.error(key, f"must be <= {hi:g} (got {v!r})")
        return x

    def optional_number(self, key: str, default: float | None, *, lo_open: float) -> float | None:
        """A positive number, or "none" (TOML has no null) for 'never'."""
        if key not in self.data:
            return default
        v = self.data.pop(key)
        if isinstance(v, str) and v.lower() == "none":
            return None
        return self._check_number(key, v, lo_open, None, True)

    def probability(self, key: str, default: float) -> float:
        return self.number(key, default, lo=0.0, hi=1.0)

    def integer(self, key: str, default: int | None, *, lo: int = 1) -> int:
        if key not in self.data:
            if default is None:
                raise self.error(key, "is required")
            return default
        v = self.data.pop(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, f"must be an integer (got {v!r})")
        if v < lo:
            raise self.error(key, f"must be >= {lo} (got {v!r})")
        return v

    def string(self, key: str, default: str | None, *, choices: Iterable[str] = ()) -> str:
        if key not in self.data:
            if default is None:
                raise self.error(key, "is required")
            return default
        v = self.data.pop(key)
        if not isinstance(v, str):
            raise self.error(key, f"must be a string (got {v!r})")
        allowed = tuple(choices)
        if allowed and v not in allowed:
            raise self.error(key, f"must be one of {', '.join(allowed)} (got {v!r})")
        return v

    def tables(self, key: str) -> list[_Section] | None:
        if key not in self.data:
            return None
        v = self.data.pop(key)
        if not isinstance(v, list):
            raise self.error(key, "must be an array of tables")
        return [_Section(item, f"{self._key(key)}[{i}]") for i, item in enumerate(v)]

    def table(self, key: str) -> _Section:
        return _Section(self.data.pop(key, {}), self._key(key))

    def done(self) -> None:
        if self.data:
            names = ", ".join(repr(self._key(k)) for k in sorted(self.data))
            raise ScenarioError(f"unknown key{'s' if len(self.data) > 1 else ''}: {names}")


def _hour(s: _Section, key: str, default: float | None, hi: float = 24.0) -> float:
    if default is None and not s.has(key):
        raise s.error(key, "is required")
    return s.number(key, default if default is not None else 0.0, lo=0.0, hi=hi)


def _parse_shift(s: _Section) -> Shift:
    agents = s.integer("agents", None, lo=0)
    start = _hour(s, "start", None)
    end = _hour(s, "end", None, hi=48.0)
    if end == start:
        raise s.error("end", "must differ from start")
    breaks: list[Break] = []
    for b in s.tables("breaks") or []:
        breaks.append(
            Break(at=_hour(b, "at", None, hi=48.0), minutes=b.number("minutes", 15.0, lo=0.0))
        )
        b.done()
    shift = Shift(
        agents=agents,
        start=start,
        end=end,
        breaks=tuple(breaks),
        transfers_only_probability=s.probability("transfers_only_probability", 0.0),
        transfers_only_minutes=s.number("transfers_only_minutes", 30.0, lo=0.0),
        jitter_minutes=s.number("jitter_minutes", 3.0, lo=0.0, hi=120.0),
        break_spread_minutes=s.number("break_spread_minutes", 90.0, lo=0.0, hi=480.0),
    )
    s.done()
    return shift


def _parse_agents(s: _Section) -> AgentPool:
    names_raw = s.raw("names") if s.has("names") else []
    if not isinstance(names_raw, list) or not all(isinstance(n, str) and n for n in names_raw):
        raise s.error("names", "must be an array of non-empty strings")
    pool = AgentPool(
        count=s.integer("count", 10, lo=0),
        first_id=s.integer("first_id", 1001),
        names=tuple(names_raw),
        email_domain=s.string("email_domain", "example.com"),
        via_phone_share=s.probability("via_phone_share", 0.0),
    )
    if len(pool.names) > pool.count:
        raise s.error("names", f"has {len(pool.names)} names for {pool.count} agents")
    s.done()
    return pool


def _parse_group(s: _Section, agent_ids: range) -> Group:
    gid = s.integer("id", None)
    name = s.string("name", f"Group {gid}")
    members: list[int]
    if s.has("members") and s.has("member_range"):
        raise s.error("members", "give members or member_range, not both")
    if s.has("member_range"):
        r = s.raw("member_range")
        if (
            not isinstance(r, list)
            or len(r) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in r)
            or r[0] > r[1]
        ):
            raise s.error("member_range", "must be [first_agent_id, last_agent_id]")
        members = list(range(r[0], r[1] + 1))
    elif s.has("members"):
        m = s.raw("members")
        if m == "all":
            members = list(agent_ids)
        elif isinstance(m, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in m):
            members = list(m)
        else:
            raise s.error("members", 'must be an array of agent ids or "all"')
    else:
        members = list(agent_ids)
    unknown = [x for x in members if x not in agent_ids]
    if unknown:
        raise s.error("members", f"unknown agent id {unknown[0]}")
    if len(set(members)) != len(members):
        raise s.error("members", "lists an agent twice")
    s.done()
    return Group(id=gid, name=name, members=tuple(members))


def _parse_profile(s: _Section) -> tuple[float, ...]:
    if not s.has("profile"):
        return PROFILES["flat"]
    p = s.raw("profile")
    if isinstance(p, str):
        if p not in PROFILES:
            raise s.error("profile", f"unknown profile {p!r} (known: {', '.join(PROFILES)})")
        return PROFILES[p]
    if (
        isinstance(p, list)
        and len(p) == 24
        and all(isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 for x in p)
    ):
        return tuple(float(x) for x in p)
    raise s.error("profile", "must be a profile name or 24 non-negative hourly multipliers")


def _parse_phone_number(s: _Section, group_ids: set[int]) -> PhoneNumber:
    pid = s.integer("id", None)
    number = s.string("number", f"+1555010{pid:04d}")
    name = s.string("name", f"Line {pid}")
    rate = s.number("calls_per_hour", 30.0, lo=0.0)
    profile = _parse_profile(s)
    group_id: int | None = None
    if s.has("group_id"):
        group_id = s.integer("group_id", None)
        if group_id not in group_ids:
            raise s.error("group_id", f"unknown group {group_id}")
    bh: tuple[float, float] = (0.0, 24.0)
    if s.has("business_hours"):
        v = s.raw("business_hours")
        if not (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
            and all(0 <= x <= 24 for x in v)
        ):
            raise s.error("business_hours", "must be [open_hour, close_hour], hours 0..24")
        bh = (float(v[0]), float(v[1]))
    share: float | None = None
    if s.has("outside_hours_share"):
        share = s.number("outside_hours_share", 0.0, lo=0.0, hi=0.99)
    outbound = s.probability("outbound_share", 0.0)
    widget = s.probability("web_widget_share", 0.0)
    if outbound + widget > 1.0:
        raise s.error("web_widget_share", "outbound_share + web_widget_share must be <= 1")
    s.done()
    pn = PhoneNumber(
        id=pid,
        number=number,
        name=name,
        calls_per_hour=rate,
        profile=profile,
        group_id=group_id,
        business_hours=bh,
        outside_hours_share=share,
        outbound_share=outbound,
        web_widget_share=widget,
    )
    if share is not None and share > 0 and all(pn.is_open(h + 0.5) for h in range(24)):
        raise s.error("outside_hours_share", "needs business_hours that close at some time")
    return pn


def _parse_calls(s: _Section) -> CallModel:
    d = CallModel()

    def pos(key: str, default: float) -> float:
        return s.number(key, default, lo=0.0, lo_open=True)

    def nonneg(key: str, default: float) -> float:
        return s.number(key, default, lo=0.0)

    m = CallModel(
        ivr_seconds=nonneg("ivr_seconds", d.ivr_seconds),
        handle_time_mean=pos("handle_time_mean", d.handle_time_mean),
        handle_time_distribution=s.string(
            "handle_time_distribution", d.handle_time_distribution,
            choices=("lognormal", "exponential"),
        ),
        handle_time_sigma=s.number("handle_time_sigma", d.handle_time_sigma, lo=0.0, hi=3.0),
        ring_seconds=nonneg("ring_seconds", d.ring_seconds),
        ring_timeout=pos("ring_timeout", d.ring_timeout),
        miss_probability=s.probability("miss_probability", d.miss_probability),
        decline_probability=s.probability("decline_probability", d.decline_probability),
        hold_probability=s.probability("hold_probability", d.hold_probability),
        hold_mean=pos("hold_mean", d.hold_mean),
        transfer_probability=s.probability("transfer_probability", d.transfer_probability),
        transfer_seconds=nonneg("transfer_seconds", d.transfer_seconds),
        conference_probability=s.probability(
            "conference_probability", d.conference_probability
        ),
        textback_probability=s.probability("textback_probability", d.textback_probability),
        textback_deflection=s.probability("textback_deflection", d.textback_deflection),
        patience_mean=s.optional_number("patience_mean", d.patience_mean, lo_open=0.0),
        max_queue_wait=s.optional_number("max_queue_wait", d.max_queue_wait, lo_open=0.0),
        voicemail_request_probability=s.probability(
            "voicemail_request_probability", d.voicemail_request_probability
        ),
        voicemail_request_after=pos("voicemail_request_after", d.voicemail_request_after),
        callback_request_probability=s.probability(
            "callback_request_probability", d.callback_request_probability
        ),
        callback_request_after=pos("callback_request_after", d.callback_request_after),
        callback_max_wait=s.optional_number(
            "callback_max_wait", d.callback_max_wait, lo_open=0.0
        ),
        wrap_up_mean=nonneg("wrap_up_mean", d.wrap_up_mean),
        voicemail_seconds=nonneg("voicemail_seconds", d.voicemail_seconds),
        outside_hours_voicemail_probability=s.probability(
            "outside_hours_voicemail_probability", d.outside_hours_voicemail_probability
        ),
        outbound_answer_probability=s.probability(
            "outbound_answer_probability", d.outbound_answer_probability
        ),
        outbound_ring_seconds=nonneg("outbound_ring_seconds", d.outbound_ring_seconds),
    )  # fmt: skip
    if m.miss_probability + m.decline_probability > 1.0:
        raise s.error("decline_probability", "miss_probability + decline_probability > 1")
    s.done()
    return m


def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Build a Scenario from a TOML-shaped dict; missing keys take their defaults."""
    root = _Section(data, "")
    name = root.string("name", "scenario")
    description = root.string("description", "")
    account = root.table("account")
    tz = account.string("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise account.error("timezone", f"unknown IANA timezone {tz!r}") from exc
    account.done()

    agents = _parse_agents(root.table("agents"))
    shift_tables = root.tables("shifts")
    if shift_tables is None:
        shifts: tuple[Shift, ...] = (Shift(agents=agents.count, start=0.0, end=24.0),)
    else:
        shifts = tuple(_parse_shift(t) for t in shift_tables)
        total = sum(sh.agents for sh in shifts)
        if total != agents.count:
            raise ScenarioError(
                f"shifts: the shifts have {total} agents in all, agents.count is {agents.count}"
            )

    groups = tuple(_parse_group(t, agents.ids) for t in root.tables("groups") or [])
    group_ids = [g.id for g in groups]
    if len(set(group_ids)) != len(group_ids):
        raise ScenarioError("groups: duplicate group id")

    pn_tables = root.tables("phone_numbers")
    if pn_tables is None:
        numbers = Scenario().phone_numbers
    else:
        numbers = tuple(_parse_phone_number(t, set(group_ids)) for t in pn_tables)
        if not numbers:
            raise ScenarioError("phone_numbers: at least one phone number is needed")
    pids = [p.id for p in numbers]
    if len(set(pids)) != len(pids):
        raise ScenarioError("phone_numbers: duplicate phone number id")

    calls = _parse_calls(root.table("calls"))
    root.done()
    return Scenario(
        name=name,
        description=description,
        timezone=tz,
        agents=agents,
        shifts=shifts,
        groups=groups,
        phone_numbers=numbers,
        calls=calls,
    )


def _parse_value(text: str) -> Any:
    """A flag value in TOML syntax (`60`, `0.5`, `"none"`, `[8, 18]`), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of a scenario dict with `dotted.key=value` overrides applied.

    This is how command-line flags reach the model: `calls.wrap_up_mean=0`,
    `agents.count=20`, `phone_numbers.0.calls_per_hour=120` (arrays are indexed).
    """
    import copy

    out: dict[str, Any] = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"override {item!r}: expected key=value")
        parts = key.strip().split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(f"override {item!r}: no element {where}")
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                raise ScenarioError(f"override {item!r}: {where} is not a table")
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ScenarioError(f"override {item!r}: no element {key}")
            node[int(last)] = _parse_value(text.strip())
        elif isinstance(node, dict):
            node[last] = _parse_value(text.strip())
        else:
            raise ScenarioError(f"override {item!r}: cannot set {key}")
    return out


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read a TOML scenario file (and optional `key=value` overrides)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML: {exc}") from exc
    try:
        return scenario_from_dict(apply_overrides(data, overrides))
    except ScenarioError as exc:
        raise ScenarioError(f"{p}: {exc}") from None


def scenario_path(name: str) -> Path:
    """The path of a ready scenario by name: 'help-desk', 'center-200', 'bad-day'..."""
    return SCENARIOS_DIR / f"{name}.toml"
