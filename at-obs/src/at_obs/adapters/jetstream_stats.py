"""JetStream stream sizes and consumer lag, read from the JetStream API and exported as gauges.

nats-server's monitoring port serves JSON, not Prometheus text; this makes lag alerts work
without the prometheus-nats-exporter (which compose runs as well).
"""

from __future__ import annotations

from nats.js import JetStreamContext

from at_core import subjects
from at_core.metrics import Metrics


async def export_jetstream_stats(js: JetStreamContext, metrics: Metrics) -> None:
    """One poll: every at-core stream and every consumer on it."""
    for spec in subjects.STREAMS:
        info = await js.stream_info(spec.name)
        metrics.gauge("jetstream_stream_messages").labels(spec.name).set(info.state.messages)
        metrics.gauge("jetstream_stream_bytes").labels(spec.name).set(info.state.bytes)
        for consumer in await js.consumers_info(spec.name):
            labels = (spec.name, consumer.name)
            metrics.gauge("jetstream_consumer_pending").labels(*labels).set(consumer.num_pending or 0)
            metrics.gauge("jetstream_consumer_ack_pending").labels(*labels).set(consumer.num_ack_pending or 0)
            metrics.gauge("jetstream_consumer_redelivered").labels(*labels).set(consumer.num_redelivered or 0)
