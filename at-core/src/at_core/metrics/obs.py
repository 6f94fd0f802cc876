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
            "Time to append one transaction of records (the batches the writer gathered from every consumer)",
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
        # the notifier (apprise): a channel that is down shows here long before anyone misses a message
        MetricSpec(
            "notifications_sent_total",
            "counter",
            "Notifications a route's channels took, by route (its index in the settings) and event kind",
            ("route", "kind"),
        ),
        MetricSpec(
            "notification_failures_total",
            "counter",
            "Sends a route's channels did not take (the event is redelivered; a digest is held again)",
            ("route",),
        ),
        MetricSpec(
            "notifications_held_total",
            "counter",
            "Notifications held for a digest by a route's rate limit",
            ("route",),
        ),
        MetricSpec("notification_digests_total", "counter", "Digests a route's channels took", ("route",)),
        MetricSpec("notifier_running", "gauge", "1 when the notifier consumes its durable (0: not started yet)"),
        # the console
        MetricSpec(
            "console_logins_total", "counter", "Console sign-ins, by outcome (ok, refused, throttled)", ("outcome",)
        ),
        MetricSpec(
            "console_controls_total",
            "counter",
            "Kill switch and resume presses, by action and outcome (ok, refused by exec-sim, csrf)",
            ("action", "outcome"),
        ),
        MetricSpec(
            "console_page_seconds",
            "histogram",
            "Time to render a console page, by page",
            ("page",),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec("console_stream_listeners", "gauge", "Browsers connected to the live tail's event stream"),
        MetricSpec(
            "console_stream_dropped_total",
            "counter",
            "Tail lines a slow browser missed (its queue was full; the feed never waits for it)",
        ),
        MetricSpec(
            "console_loaded", "gauge", "1 when the console has folded the audit store (pages say loading before)"
        ),
    ),
)
