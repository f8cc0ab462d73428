"""The alerting rules shipped in deploy/prometheus: valid, their unit tests pass under
`promtool test rules`, every alert has its runbook entry in docs/operations.md, the
compose stack's Prometheus loads them, and the Grafana dashboard plots their series.

promtool comes with Debian's prometheus package (`make zookeeper` installs it): a missing
promtool is a loud failure, never a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
DOCKER = ROOT / "docker"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is not installed: run `make zookeeper` (Debian's prometheus package)",
            pytrace=False,
        )
    return found


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_rules_are_valid() -> None:
    done = run("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_pass_their_unit_tests() -> None:
    done = run("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_six_alerts_of_day_one_are_there_each_tested() -> None:
    names = [str(rule["alert"]) for rule in alerts()]
    assert names == [
        "ElectionNoLeader",
        "ElectionSeveralLeaders",
        "ElectionLeadershipFlapping",
        "ElectionJobCrashLooping",
        "ElectionJobLeaseExpired",
        "ElectionStuckInFailover",
    ]
    tested = {
        str(case["alertname"])
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert tested == set(names), "each alert is tested firing"


def test_every_alert_has_a_runbook_entry_its_annotation_points_to() -> None:
    text = OPERATIONS.read_text()
    headings = {line[4:].strip() for line in text.splitlines() if line.startswith("### ")}
    for rule in alerts():
        name = str(rule["alert"])
        assert name in headings, f"docs/operations.md has no '### {name}'"
        entry = text.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        for part in ("**Means**", "**Look at**", "**Do**"):
            assert part in entry, (name, part)
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert f"docs/operations.md#{name.lower()}" in annotations["description"]
        labels = rule["labels"]
        assert isinstance(labels, dict) and labels["severity"] in ("critical", "warning")
        assert annotations["summary"]


def test_the_compose_stack_s_prometheus_loads_the_rules(tmp_path: Path) -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    (prometheus,) = [
        s for s in compose["services"].values() if "prom/prometheus" in s.get("image", "")
    ]
    mounts = [volume.split(":") for volume in prometheus["volumes"]]
    rules_at = next(
        inside for outside, inside, *_ in mounts if outside == "../deploy/prometheus/alerts.yml"
    )
    assert (DOCKER / "../deploy/prometheus/alerts.yml").resolve() == RULES
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    assert config["rule_files"] == [rules_at]
    # promtool checks the configuration with the rules where the container sees them.
    config["rule_files"] = [str(RULES)]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    done = run("check", "config", str(local))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_plots_every_alert_s_series() -> None:
    dashboard = json.loads((DOCKER / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert any(expr.startswith("ALERTS{") and "Election" in expr for expr in exprs)
    plotted = set(re.findall(r"\belection_[a-z_]+", " ".join(exprs)))
    for rule in alerts():
        used = set(re.findall(r"\belection_[a-z_]+", str(rule["expr"])))
        assert used <= plotted, (rule["alert"], used - plotted)
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    for rule in alerts():
        assert str(rule["alert"]) in titles, f"no panel names {rule['alert']}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
