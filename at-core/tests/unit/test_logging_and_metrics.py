"""Logs are JSON lines with service and ids, secrets redacted; metrics follow at_<service>_..."""

from __future__ import annotations

import io
import json

from prometheus_client import generate_latest

from at_core.metrics import all_catalogs
from at_core.metrics.catalog import MetricCatalog, MetricSpec
from at_core.runtime.logging import bind_event_context, configure_logging, get_logger


def test_log_lines_are_json_with_service_ids_and_redacted_secrets() -> None:
    out = io.StringIO()
    configure_logging("gateway", stream=out)
    with bind_event_context(event_id="E1", correlation_id="C1"):
        get_logger().info("alert_received", passphrase="hunter2", body={"api_key": "k", "ticker": "ES1!"})
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["service"] == "gateway" and line["event"] == "alert_received"
    assert line["event_id"] == "E1" and line["correlation_id"] == "C1"
    assert line["level"] == "info" and line["ts"].endswith("Z")
    assert line["passphrase"] == "***" and line["body"] == {"api_key": "***", "ticker": "ES1!"}


def test_catalog_builds_prefixed_metrics_including_the_bus_ones() -> None:
    catalog = MetricCatalog("demo", (MetricSpec("widgets_total", "counter", "Widgets", ("kind",)),))
    metrics = catalog.build()
    metrics.counter("widgets_total").labels("a").inc()
    metrics.counter("events_published_total").labels("signal", "at.signal", "ok").inc()
    text = generate_latest(metrics.registry).decode()
    assert 'at_demo_widgets_total{kind="a"} 1.0' in text
    assert "at_demo_events_published_total" in text
    assert "at_demo_widgets_total" in catalog.names()


def test_every_service_has_a_catalog_with_unique_names() -> None:
    catalogs = all_catalogs()
    assert set(catalogs) == {"gateway", "agents", "exec_sim", "obs"}
    for service, catalog in catalogs.items():
        names = [spec.name for spec in catalog.specs]
        assert len(names) == len(set(names)), service
        catalog.build()  # registering twice in one registry would raise
