"""Metrics of at-gateway. Add a spec here before using a metric in the service."""

from at_core.metrics.catalog import LATENCY_BUCKETS_S, MetricCatalog, MetricSpec

CATALOG = MetricCatalog(
    service="gateway",
    own=(
        MetricSpec("http_requests_total", "counter", "HTTP requests by route and status", ("route", "status")),
        MetricSpec(
            "receive_to_durable_seconds",
            "histogram",
            "From request received to event durable (JetStream ack or outbox)",
            ("route", "sink"),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec("auth_failures_total", "counter", "Refused credentials or source addresses, by reason", ("reason",)),
        MetricSpec("rejected_total", "counter", "Inputs refused, by route and reason", ("route", "reason")),
        MetricSpec("duplicates_total", "counter", "Alerts answered as duplicates", ("route",)),
        MetricSpec("stale_alerts_total", "counter", "Alerts refused as older than the staleness bound"),
        MetricSpec("placeholder_rejects_total", "counter", "Alerts refused for unfilled {{...}} placeholders"),
        MetricSpec(
            "dead_letters_suppressed_total",
            "counter",
            "Refusals only counted, not kept as dead letters: a source's or the gateway's budget was used up",
            ("reason",),
        ),
        MetricSpec(
            "dedup_local_claims_total",
            "counter",
            "Dedup claims recorded on local disk because the KV bucket did not answer in time",
        ),
        MetricSpec(
            "dedup_claims_unshared",
            "gauge",
            "Local dedup claims not yet copied into the KV bucket (other replicas cannot see them)",
        ),
        MetricSpec(
            "dedup_conflicts_total",
            "counter",
            "Alerts accepted here while another replica had accepted the same alert (KV out of reach)",
        ),
        MetricSpec("outbox_depth", "gauge", "Events waiting in the local outbox for NATS"),
        MetricSpec("publish_errors_total", "counter", "JetStream publishes that failed (the event went to the outbox)"),
        MetricSpec(
            "alerts_last_3m",
            "gauge",
            "Alerts per route in the last 3 minutes (TradingView stops an alert at 15)",
            ("route",),
        ),
        MetricSpec(
            "signals_accepted_total",
            "counter",
            "Signals made durable, by account and strategy",
            ("account_id", "strategy_id"),
        ),
    ),
)
