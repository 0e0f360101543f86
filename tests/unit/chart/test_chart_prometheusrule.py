"""The PrometheusRule's alerts, checked and unit-tested by Prometheus' own promtool.

promtool comes with Debian's prometheus package (the local cluster installs it); its rule tests
feed recorded series to the real rule engine and compare the firing alerts, labels and
annotations included.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hack import cluster as local_cluster
from tests.unit.chart.chart_helpers import CHART, RELEASE_NAMESPACE, one, render

from modelscaler.api.conditions import DIAGNOSIS_CONDITION_TYPES


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool from Debian's prometheus package, installed the way the local cluster installs it."""
    found = shutil.which("promtool")
    if found is None:
        local_cluster.ensure_prometheus()
        found = shutil.which("promtool")
    assert found, "the prometheus package ships promtool"
    return found


@pytest.fixture(scope="module")
def rules(helm: str) -> dict[str, Any]:
    """The rendered rule groups, as a Prometheus rule file."""
    rule = one(render(helm, [CHART / "ci" / "monitoring-values.yaml"]), "PrometheusRule")
    return {"groups": rule["spec"]["groups"]}


def alerts(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rules["groups"] for r in group["rules"]}


def expand(text: str, labels: dict[str, str]) -> str:
    """The annotation as Prometheus renders it for a series with these labels."""
    for name, value in labels.items():
        text = text.replace(f"{{{{ $labels.{name} }}}}", value)
    return text


def run_promtool(promtool: str, *args: str, cwd: Path) -> str:
    result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_accepts_the_rules(promtool: str, rules: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))

    output = run_promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)

    assert f"SUCCESS: {len(alerts(rules))} rules found" in output


def test_one_alert_per_diagnosis_condition_and_for_the_operator(rules: dict[str, Any]) -> None:
    names = set(alerts(rules))

    assert names == {f"ModelDeployment{t}" for t in DIAGNOSIS_CONDITION_TYPES} | {
        "ModelDeploymentScalingInactive",
        "ModelscalerOperatorNoLeader",
        "ModelscalerControlLoopStalled",
    }


def expected_alert(rule: dict[str, Any], series_labels: dict[str, str]) -> dict[str, Any]:
    """The alert promtool should see: the rule's labels plus the series' grouping labels."""
    return {
        "exp_labels": {**series_labels, **rule["labels"]},
        "exp_annotations": {k: expand(v, series_labels) for k, v in rule["annotations"].items()},
    }


def condition_series(name: str, condition: str, status: str, values: str) -> dict[str, str]:
    """A promtool input series of modelscaler_condition for a deployment of namespace team-a."""
    labels = f'namespace="team-a", modeldeployment="{name}", type="{condition}", status="{status}"'
    return {"series": f"modelscaler_condition{{{labels}}}", "values": values}


def test_alerts_fire_after_their_for_duration_and_only_on_a_problem(
    promtool: str, rules: dict[str, Any], tmp_path: Path
) -> None:
    by_name = alerts(rules)
    model = {"namespace": "team-a", "modeldeployment": "llama"}
    series: list[dict[str, str]] = []
    checks: list[dict[str, Any]] = []
    for condition in DIAGNOSIS_CONDITION_TYPES:
        rule = by_name[f"ModelDeployment{condition}"]
        # llama: True from the start; quiet: the True series stays 0 (the condition is False).
        series.append(condition_series("llama", condition, "True", "1x20"))
        series.append(condition_series("quiet", condition, "True", "0x20"))
        checks.append({"eval_time": "9m", "alertname": rule["alert"], "exp_alerts": []})
        checks.append(
            {"eval_time": "11m", "alertname": rule["alert"], "exp_alerts": [expected_alert(rule, model)]}
        )
    inactive = by_name["ModelDeploymentScalingInactive"]
    series.append(condition_series("llama", "ScalingActive", "False", "0x3 1x16"))
    checks.append({"eval_time": "8m", "alertname": inactive["alert"], "exp_alerts": []})
    checks.append(
        {"eval_time": "10m", "alertname": inactive["alert"], "exp_alerts": [expected_alert(inactive, model)]}
    )
    operator = {"job": "ms-modelscaler-metrics", "namespace": RELEASE_NAMESPACE}
    labels = ", ".join(f'{k}="{v}"' for k, v in operator.items())
    series += [
        # The leader stops after 5 minutes and nobody takes over; its last tick is at t=300 s.
        {"series": f'modelscaler_operator_leader{{{labels}, pod="a"}}', "values": "1x5 0x15"},
        {"series": f'modelscaler_operator_leader{{{labels}, pod="b"}}', "values": "0x20"},
        {
            "series": f'modelscaler_operator_last_successful_tick_timestamp_seconds{{{labels}, pod="a"}}',
            "values": "0+60x5 300x15",
        },
    ]
    no_leader = by_name["ModelscalerOperatorNoLeader"]
    stalled = by_name["ModelscalerControlLoopStalled"]
    checks += [
        {"eval_time": "9m", "alertname": no_leader["alert"], "exp_alerts": []},
        {"eval_time": "12m", "alertname": no_leader["alert"], "exp_alerts": [expected_alert(no_leader, {})]},
        {"eval_time": "9m", "alertname": stalled["alert"], "exp_alerts": []},
        {"eval_time": "13m", "alertname": stalled["alert"], "exp_alerts": [expected_alert(stalled, {})]},
    ]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yaml"],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
            }
        )
    )

    output = run_promtool(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)

    assert "SUCCESS" in output
    assert by_name["ModelDeploymentOverprovisioned"]["labels"]["severity"] == "info"
    assert by_name["ModelDeploymentThrashing"]["labels"]["team"] == "ml-platform"
