"""Metrics of at-obs (the audit recorder). Add a spec here before using a metric in the service."""

from at_core.metrics.catalog import LATENCY_BUCKETS_S, MetricCatalog, MetricSpec

CATALOG = MetricCatalog(
    service="obs",
    own=(
        MetricSpec(
            "audit_records_total", "counter", "Events appended to the audit log, by event type", ("event_type",)
        ),
        MetricSpec(
            "audit_append_seconds",
            "histogram",
            "Time to append one fetched batch of records (one transaction)",
            (),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec("audit_chain_ok", "gauge", "1 when the last verification found the hash chain intact"),
        MetricSpec(
            "audit_head_seq", "gauge", "Sequence number of the last audit record (a drop means a truncated log)"
        ),
        MetricSpec("audit_append_errors_total", "counter", "Appends that failed (the event is redelivered)"),
        MetricSpec("jetstream_stream_messages", "gauge", "Messages stored per JetStream stream", ("stream",)),
        MetricSpec("jetstream_stream_bytes", "gauge", "Bytes stored per JetStream stream", ("stream",)),
        MetricSpec(
            "jetstream_consumer_pending",
            "gauge",
            "Messages not yet delivered to a durable consumer",
            ("stream", "consumer"),
        ),
        MetricSpec(
            "jetstream_consumer_ack_pending", "gauge", "Messages delivered but not acknowledged", ("stream", "consumer")
        ),
        MetricSpec(
            "jetstream_consumer_redelivered", "gauge", "Messages redelivered to a consumer", ("stream", "consumer")
        ),
    ),
)
