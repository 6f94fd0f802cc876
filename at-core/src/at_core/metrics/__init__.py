"""Metric names, as contracts: every Prometheus metric a service exports is declared here.

One naming scheme: ``at_<service>_<name>``. A service builds its metrics from its catalog
(:meth:`MetricCatalog.build`); at-obs checks dashboards and alert rules against the same
catalogs, so a panel cannot name a metric nobody registers.
"""

from at_core.metrics.catalog import (
    BUS_METRICS,
    LATENCY_BUCKETS_S,
    MetricCatalog,
    Metrics,
    MetricSpec,
    all_catalogs,
)

__all__ = ["BUS_METRICS", "LATENCY_BUCKETS_S", "MetricCatalog", "MetricSpec", "Metrics", "all_catalogs"]
