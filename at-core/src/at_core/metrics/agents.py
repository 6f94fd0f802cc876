"""Metrics of at-agents. Add a spec here before using a metric in the service."""

from at_core.metrics.catalog import LATENCY_BUCKETS_S, MetricCatalog, MetricSpec

CATALOG = MetricCatalog(
    service="agents",
    own=(
        MetricSpec(
            "decisions_total",
            "counter",
            "Agent analyses by agent and stance (abstained counts as a stance)",
            ("agent_id", "stance"),
        ),
        MetricSpec(
            "agent_latency_seconds", "histogram", "Time an agent took to answer", ("agent_id",), LATENCY_BUCKETS_S
        ),
        MetricSpec(
            "agent_dropped_total",
            "counter",
            "Agents dropped from a decision (deadline or error)",
            ("agent_id", "reason"),
        ),
        MetricSpec("proposals_total", "counter", "Trade proposals emitted, by committee", ("committee",)),
        MetricSpec("no_proposal_total", "counter", "Signals that produced no proposal, by committee", ("committee",)),
        MetricSpec(
            "signal_to_proposal_seconds",
            "histogram",
            "Signal received to proposal published",
            ("committee",),
            LATENCY_BUCKETS_S,
        ),
    ),
)
