"""Metrics of at-obs. Add a spec here before using a metric in the service."""

from at_core.metrics.catalog import MetricCatalog

CATALOG = MetricCatalog(
    service="obs",
    own=(),
)
