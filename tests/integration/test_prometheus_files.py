"""The shipped Prometheus configuration and alert rules, through Prometheus's own checker and rule-test runner."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from genrm_wire import DEFAULT_ACTED_FLAGS
from tests.conftest import ROOT
from tests.tools import require_tool

pytestmark = pytest.mark.usefixtures("trainer_key_hash")  # the deploy configs read it

PROMETHEUS = ROOT / "deploy" / "prometheus"
RUNBOOK = ROOT / "docs" / "operations.md"


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *arguments], capture_output=True, text=True, cwd=PROMETHEUS,
                          timeout=120)


def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load((PROMETHEUS / "rules" / "genrm-alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_config_is_valid_and_loads_the_rules() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout


def test_the_rules_are_valid() -> None:
    checked = promtool("check", "rules", "rules/genrm-alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_passes_its_unit_tests() -> None:
    tested = promtool("test", "rules", "tests/genrm-alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test_and_a_runbook() -> None:
    tests = yaml.safe_load((PROMETHEUS / "tests" / "genrm-alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case["exp_alerts"]}
    runbook = RUNBOOK.read_text().lower()
    for rule in alert_rules():
        name = str(rule["alert"])
        assert name in tested, f"{name} has no promtool test that makes it fire"
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        anchor = annotations["runbook"].split("#")[1]
        assert f"### {name.lower()}" in runbook and anchor == name.lower(), f"docs/operations.md lacks ### {name}"


def test_the_issue_s_alerts_all_exist() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {"GenrmGatewayDown", "GenrmModelWithoutEngine", "GenrmHigh5xxRatio", "GenrmLatencyP95OverSLO",
            "GenrmParseFailureRatio", "GenrmSustainedOverload", "GenrmSwapConsistencyCollapse",
            "GenrmPositionBiasDrift"} <= names


def test_the_reward_hacking_alert_counts_the_kinds_the_default_policy_acts_on() -> None:
    rule = next(rule for rule in alert_rules() if rule["alert"] == "GenrmRewardHackingFlags")
    kinds = re.search(r'kind=~"([a-z_|]+)"', str(rule["expr"]))
    assert kinds and set(kinds.group(1).split("|")) == set(DEFAULT_ACTED_FLAGS)
