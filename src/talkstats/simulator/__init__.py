"""The traffic model: scenarios, the resumable simulator and its reference data."""

from talkstats.simulator.engine import Simulator, generate
from talkstats.simulator.reference import (
    AgentRef,
    GroupRef,
    PhoneNumberRef,
    ReferenceData,
    reference_data,
)
from talkstats.simulator.scenario import (
    SCENARIOS_DIR,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    scenario_from_dict,
    scenario_path,
)

__all__ = [
    "SCENARIOS_DIR",
    "AgentRef",
    "GroupRef",
    "PhoneNumberRef",
    "ReferenceData",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "apply_overrides",
    "generate",
    "load_scenario",
    "reference_data",
    "scenario_from_dict",
    "scenario_path",
]
