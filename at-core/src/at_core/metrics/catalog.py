"""Metric specs and catalogs; the per-service metric lists live in sibling modules."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from at_core.constants import SERVICE_NAMES

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

SERVICES: tuple[str, ...] = SERVICE_NAMES


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its name without the ``at_<service>_`` prefix, kind, help text and labels."""

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    doc: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None

    def full_name(self, service: str) -> str:
        return f"at_{service}_{self.name}"

    def exposed_names(self, service: str) -> tuple[str, ...]:
        """Names that appear on ``/metrics`` (histograms expose ``_bucket``, ``_sum``, ``_count``)."""
        base = self.full_name(service)
        if self.kind == "histogram":
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        if self.kind == "counter":
            stem = base.removesuffix("_total")
            return (f"{stem}_total", f"{stem}_created")
        return (base,)


#: Published/consumed by the shared bus helpers, in every service.
BUS_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "events_published_total",
        "counter",
        "Events published, by type, subject family and outcome",
        ("event_type", "subject_family", "outcome"),
    ),
    MetricSpec(
        "events_consumed_total",
        "counter",
        "Events consumed, by type, subject family and outcome",
        ("event_type", "subject_family", "outcome"),
    ),
    MetricSpec(
        "event_handle_seconds",
        "histogram",
        "Time a consumer handler took, by event type",
        ("event_type",),
        LATENCY_BUCKETS_S,
    ),
    MetricSpec(
        "events_misrouted_total",
        "counter",
        "Events refused because their type does not belong to the subject family they arrived on "
        "(dead-lettered, never handled), by type, subject family and reason",
        ("event_type", "subject_family", "reason"),
    ),
    MetricSpec("event_redeliveries_total", "counter", "Messages received more than once", ("event_type",)),
    MetricSpec("nats_connected", "gauge", "1 when connected to NATS, else 0"),
    MetricSpec("nats_reconnects_total", "counter", "NATS reconnections"),
    MetricSpec("build_info", "gauge", "Always 1; labels carry versions", ("version", "at_core_version")),
)


class Metrics:
    """The built metrics of one service, by spec name: ``metrics["events_published_total"]``."""

    def __init__(self, service: str, registry: CollectorRegistry, built: dict[str, MetricWrapperBase]) -> None:
        self.service = service
        self.registry = registry
        self._built = built

    def __getitem__(self, name: str) -> MetricWrapperBase:
        return self._built[name]

    def counter(self, name: str) -> Counter:
        metric = self._built[name]
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str) -> Gauge:
        metric = self._built[name]
        assert isinstance(metric, Gauge)
        return metric

    def histogram(self, name: str) -> Histogram:
        metric = self._built[name]
        assert isinstance(metric, Histogram)
        return metric


@dataclass(frozen=True, slots=True)
class MetricCatalog:
    """Every metric one service exports: the bus metrics plus its own."""

    service: str
    own: tuple[MetricSpec, ...] = field(default=())

    @property
    def specs(self) -> tuple[MetricSpec, ...]:
        return BUS_METRICS + self.own

    def names(self) -> set[str]:
        return {name for spec in self.specs for name in spec.exposed_names(self.service)}

    def build(self, registry: CollectorRegistry | None = None) -> Metrics:
        """Register every metric in a (new, by default) registry."""
        registry = registry if registry is not None else CollectorRegistry()
        built: dict[str, MetricWrapperBase] = {}
        for spec in self.specs:
            full = spec.full_name(self.service)
            if spec.kind == "counter":
                built[spec.name] = Counter(full, spec.doc, spec.labels, registry=registry)
            elif spec.kind == "gauge":
                built[spec.name] = Gauge(full, spec.doc, spec.labels, registry=registry)
            else:
                built[spec.name] = Histogram(
                    full, spec.doc, spec.labels, registry=registry, buckets=spec.buckets or LATENCY_BUCKETS_S
                )
        return Metrics(self.service, registry, built)


def all_catalogs() -> dict[str, MetricCatalog]:
    """Catalog of every service, by service name."""
    out = {}
    for service in SERVICES:
        module = importlib.import_module(f"at_core.metrics.{service}")
        out[service] = module.CATALOG
    return out
