"""Alertmanager's configuration, rendered from settings. Pure: it returns YAML text.

Grouping by alert and job; critical alerts repeat hourly, the rest every four hours;
``ServiceDown`` inhibits every other alert of the same job (a dead service's lag, errors
and latency are one problem, not ten) and ``NatsDisconnected`` the consumer-side alerts of
its job; ``BrokerTokenFailures`` inhibits the request, check and socket alerts of the same
venue (no token: every call fails); a critical alert inhibits the warning of the same name and job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

#: Alerts that are a consequence of a service losing NATS.
NATS_CONSEQUENCES = ("JetStreamConsumerLag", "EventHandlerFailing", "ExecSimEventsUnpublished", "GatewayOutboxGrowing")
#: Alerts of a venue that follow from exec-sim holding no token for it.
TOKEN_CONSEQUENCES = ("BrokerRequestErrors", "BrokerChecksFailing", "BrokerRealtimeFlapping")


def _webhooks(urls: Sequence[str]) -> dict[str, Any]:
    return {"webhook_configs": [{"url": u, "send_resolved": True} for u in urls]} if urls else {}


def render_alertmanager_config(
    webhook_urls: Sequence[str] = (),
    critical_webhook_urls: Sequence[str] = (),
    *,
    group_wait: str = "30s",
    group_interval: str = "5m",
    repeat_interval: str = "4h",
) -> str:
    """The ``alertmanager.yml`` for these receivers (none: alerts are kept and shown, not sent)."""
    config: dict[str, Any] = {
        "route": {
            "receiver": "ops",
            "group_by": ["alertname", "job"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": [
                {"receiver": "ops-critical", "matchers": ['severity="critical"'], "repeat_interval": "1h"},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="ServiceDown"'],
                "target_matchers": ['alertname!="ServiceDown"'],
                "equal": ["job"],
            },
            {
                "source_matchers": ['alertname="NatsDisconnected"'],
                "target_matchers": [f'alertname=~"{"|".join(NATS_CONSEQUENCES)}"'],
                "equal": ["job"],
            },
            {
                "source_matchers": ['alertname="BrokerTokenFailures"'],
                "target_matchers": [f'alertname=~"{"|".join(TOKEN_CONSEQUENCES)}"'],
                "equal": ["job", "venue"],
            },
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "job"],
            },
        ],
        "receivers": [
            {"name": "ops", **_webhooks(webhook_urls)},
            {"name": "ops-critical", **_webhooks([*webhook_urls, *critical_webhook_urls])},
        ],
    }
    header = "# Rendered by at-alertmanager-config from AT_OBS_ALERTMANAGER_* settings; edit those, not this file.\n"
    return header + yaml.safe_dump(config, sort_keys=False)
