"""Enforcement levels: rule defaults, tightened per stack by the pack config files."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import EnforcementLevel

from policies.catalog import RULES, rule_named
from policies.rule import CONFIG_DIR, PolicyConfig, load_policy_config
from runtime.errors import SpecError


def test_levels_come_from_the_rule_then_all_then_the_rule_entry():
    rule = rule_named("canary-weight-max")
    assert PolicyConfig().level(rule) is rule.enforcement_level
    assert PolicyConfig({"all": "mandatory"}).level(rule) is EnforcementLevel.MANDATORY
    config = PolicyConfig({"all": "mandatory", "canary-weight-max": {"enforcementLevel": "disabled"}})
    assert config.level(rule) is EnforcementLevel.DISABLED


def test_properties_merge_over_the_rule_defaults():
    rule = rule_named("canary-weight-max")
    assert PolicyConfig().properties(rule)["maxCanaryWeight"] == 50
    config = PolicyConfig({"canary-weight-max": {"enforcementLevel": "mandatory", "maxCanaryWeight": 25}})
    assert config.properties(rule) == {"maxCanaryWeight": 25, "productionStacks": ["prod"]}


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.json")), ids=lambda p: p.name)
def test_shipped_pack_configs_name_known_rules(path):
    config = load_policy_config(path)
    known = {r.name for r in RULES} | {"all"}
    assert set(config.entries) <= known, set(config.entries) - known


def test_prod_makes_every_rule_mandatory():
    config = load_policy_config(CONFIG_DIR / "prod.json")
    assert {r.name: config.level(r) for r in RULES} == {r.name: EnforcementLevel.MANDATORY for r in RULES}


def test_bad_level_is_a_clear_error(tmp_path):
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({"gpu-batching": {"enforcementLevel": "strict"}}))
    with pytest.raises(SpecError, match="gpu-batching: expected one of advisory, disabled, mandatory, remediate"):
        load_policy_config(path)
    path.write_text("{nope")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_policy_config(path)
