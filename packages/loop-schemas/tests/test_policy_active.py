"""HarnessPolicy.active: True when any key differs from the all-default policy (the engine then makes its
roster call); answered from the fields, without building the model's own validator or serializer."""

from __future__ import annotations

import subprocess
import sys

import pytest
from loop_schemas import HarnessPolicy


@pytest.mark.parametrize(
    "doc",
    [
        {"allow": ["claude"]},
        {"deny": ["x"]},
        {"cost_ceiling": "low"},
        {"autonomy_cap": "attended"},
        {"role_tag_map": {"web": ["code"]}},
        {"role_defaults": {"web": "claude"}},
        {"high_risk_roles": []},
        {"high_risk_roles": ["infra", "ops"]},
        {"brain_allow": ["claude"]},
        {"role_rules": {"web": {}}},
        {"a_key_of_its_own": 1},
    ],
)
def test_any_key_that_is_not_the_default_activates(doc: dict[str, object]) -> None:
    assert HarnessPolicy.model_validate(doc).active


@pytest.mark.parametrize("doc", [{}, {"high_risk_roles": ["infra"]}, {"allow": [], "cost_ceiling": ""}])
def test_the_default_policy_is_inactive(doc: dict[str, object]) -> None:
    assert not HarnessPolicy.model_validate(doc).active


def test_the_engine_configs_policy_answers_without_building_the_policy_model() -> None:
    """A cycle validates the engine config (the policy inline) and asks `active`: the policy model's own
    validator and serializer are never needed, so never built."""
    code = (
        "from loop_schemas import EngineConfig, HarnessPolicy\n"
        "config = EngineConfig.model_validate({'harness_policy': {'deny': ['x']}})\n"
        "other = EngineConfig.model_validate({'harness_policy': {}})\n"
        "print(config.harness_policy.active, other.harness_policy.active)\n"
        "print(HarnessPolicy.__pydantic_complete__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "False"]
