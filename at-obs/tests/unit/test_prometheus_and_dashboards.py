"""Prometheus config, alert rules (with a unit test per alert), runbooks, and dashboards that name real metrics."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from tests.conftest import OBS, PROMETHEUS

from at_core.metrics import all_catalogs
from at_obs.dashboards import DASHBOARDS, render

RUNBOOK = OBS / "docs" / "RUNBOOK.md"
PROMQL_FUNCS = {
    "sum",
    "rate",
    "increase",
    "delta",
    "histogram_quantile",
    "max",
    "min",
    "clamp_min",
    "hour",
    "day_of_week",
    "by",
    "on",
    "and",
    "or",
    "unless",
    "le",
    "up",
    "avg",
    "count",
    "deriv",
    "abs",
    "vector",
}


def registered() -> set[str]:
    names = {"up"}
    for catalog in all_catalogs().values():
        names |= catalog.names()
    rules = yaml.safe_load((PROMETHEUS / "rules" / "recording.yml").read_text())
    names |= {r["record"] for g in rules["groups"] for r in g["rules"]}
    return names


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_by = re.sub(r"\b(by|on|without)\s*\([^)]*\)", "", without_ranges)
    tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_by))
    return {t for t in tokens if t not in PROMQL_FUNCS and not t.isdigit()}


def _run(promtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_prometheus_configs_are_valid(promtool: str) -> None:
    for name in ("prometheus.yml", "prometheus-compose.yml"):
        result = _run(promtool, "check", "config", name, cwd=PROMETHEUS)
        assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid_and_every_alert_passes_its_unit_test(promtool: str) -> None:
    rules = PROMETHEUS / "rules"
    result = _run(promtool, "check", "rules", "recording.yml", "alerts.yml", cwd=rules)
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(promtool, "test", "rules", "tests.yml", cwd=rules)
    assert result.returncode == 0, result.stdout + result.stderr


def _alerts() -> list[dict]:
    data = yaml.safe_load((PROMETHEUS / "rules" / "alerts.yml").read_text())
    return [r for g in data["groups"] for r in g["rules"]]


def test_every_alert_has_a_unit_test_and_a_runbook_section() -> None:
    tests = (PROMETHEUS / "rules" / "tests.yml").read_text()
    runbook = RUNBOOK.read_text().lower()
    for alert in _alerts():
        name = alert["alert"]
        assert f"alertname: {name}" in tests, name
        anchor = alert["annotations"]["runbook_url"].split("#")[1]
        assert anchor == name.lower()
        assert f"## {name.lower()}" in runbook, f"RUNBOOK.md has no section for {name}"


def test_alerts_name_only_metrics_some_service_registers() -> None:
    known = registered()
    for alert in _alerts():
        assert metric_names(alert["expr"]) <= known, (alert["alert"], metric_names(alert["expr"]) - known)


def test_committed_dashboards_match_their_source() -> None:
    for uid in DASHBOARDS:
        committed = json.loads((OBS / "grafana" / "dashboards" / f"{uid}.json").read_text())
        assert committed == render(uid), f"run: python -m at_obs.dashboards ({uid})"


def test_every_panel_query_parses_and_names_only_registered_metrics(promtool: str, tmp_path: Path) -> None:
    known = registered()
    rules = []
    for uid, (_, panels) in DASHBOARDS.items():
        for i, (title, expr) in enumerate(panels):
            assert metric_names(expr) <= known, (uid, title, metric_names(expr) - known)
            rules.append({"record": f"panel:{uid.replace('-', '_')}:{i}", "expr": expr})
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = _run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_the_five_dashboards_operators_need() -> None:
    assert set(DASHBOARDS) == {"trading-overview", "latency-slippage", "gateway", "agents", "nats-jetstream"}


def test_no_query_reads_a_sum_prometheus_client_does_not_expose() -> None:
    # prometheus_client drops `_sum` from a histogram whose lowest bucket is negative: a panel
    # built on it would stay empty forever (the whole-stack dashboard test caught one).
    hidden = {
        f"{spec.full_name(catalog.service)}_sum"
        for catalog in all_catalogs().values()
        for spec in catalog.specs
        if spec.kind == "histogram" and spec.buckets and spec.buckets[0] < 0
    }
    assert "at_exec_sim_slippage_amount_sum" in hidden
    for uid, (_, panels) in DASHBOARDS.items():
        for title, expr in panels:
            assert not metric_names(expr) & hidden, (uid, title)
    for rule in yaml.safe_load((PROMETHEUS / "rules" / "recording.yml").read_text())["groups"][0]["rules"]:
        assert not metric_names(rule["expr"]) & hidden, rule["record"]


def test_the_trading_overview_has_a_broker_health_row_on_every_broker_metric_of_exec_sim() -> None:
    broker = {
        spec.full_name(catalog.service)
        for catalog in all_catalogs().values()
        for spec in catalog.specs
        if catalog.service == "exec_sim"
        and spec.name.startswith("broker_")
        and spec.name != "broker_orders_unknown_total"
    }
    _, panels = DASHBOARDS["trading-overview"]
    shown = set().union(*(metric_names(expr) for _, expr in panels))
    assert broker <= shown, broker - shown
    # a venue that never failed, or a paper-only stack, shows 0 rather than an empty panel
    assert all(expr.endswith("or on() vector(0)") for title, expr in panels if title.startswith("Broker"))
