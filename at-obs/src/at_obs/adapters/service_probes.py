"""What the health page shows, read over HTTP and JetStream: readiness, lag, alerts firing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from nats.aio.client import Client

from at_core import subjects


@dataclass
class HealthSnapshot:
    """One poll of everything the health page shows."""

    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    consumers: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alerts_source: str = ""
    errors: list[str] = field(default_factory=list)
    polled_ns: int = 0


async def probe_ready(client: httpx.AsyncClient, name: str, url: str) -> dict[str, Any]:
    """``{ready, status, body}`` of one /readyz; a service that does not answer is not ready."""
    try:
        resp = await client.get(url)
    except httpx.HTTPError as exc:
        return {"name": name, "url": url, "ready": False, "status": 0, "body": {}, "error": type(exc).__name__}
    try:
        body = resp.json()
    except ValueError:
        body = {}
    return {"name": name, "url": url, "ready": resp.status_code == 200, "status": resp.status_code, "body": body}


async def consumer_lag(nc: Client) -> list[dict[str, Any]]:
    """Pending and unacknowledged messages of every durable on every at-core stream."""
    js = nc.jetstream()
    out = []
    for spec in subjects.STREAMS:
        for info in await js.consumers_info(spec.name):
            out.append(
                {
                    "stream": spec.name,
                    "durable": info.name,
                    "pending": info.num_pending or 0,
                    "ack_pending": info.num_ack_pending or 0,
                    "redelivered": info.num_redelivered or 0,
                }
            )
    return out


async def firing_alerts(
    client: httpx.AsyncClient, prometheus_url: str | None, alertmanager_url: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """Alerts firing, from Alertmanager when configured (it knows silences), else Prometheus."""
    if alertmanager_url:
        resp = await client.get(alertmanager_url.rstrip("/") + "/api/v2/alerts")
        resp.raise_for_status()
        return "alertmanager", [
            {
                "name": a.get("labels", {}).get("alertname", ""),
                "severity": a.get("labels", {}).get("severity", ""),
                "state": a.get("status", {}).get("state", ""),
                "summary": a.get("annotations", {}).get("summary", ""),
            }
            for a in resp.json()
        ]
    if prometheus_url:
        resp = await client.get(prometheus_url.rstrip("/") + "/api/v1/alerts")
        resp.raise_for_status()
        return "prometheus", [
            {
                "name": a.get("labels", {}).get("alertname", ""),
                "severity": a.get("labels", {}).get("severity", ""),
                "state": a.get("state", ""),
                "summary": a.get("annotations", {}).get("summary", ""),
            }
            for a in resp.json().get("data", {}).get("alerts", [])
        ]
    return "", []


async def poll_health(
    client: httpx.AsyncClient,
    urls: dict[str, str],
    nc: Client | None,
    prometheus_url: str | None,
    alertmanager_url: str | None,
) -> HealthSnapshot:
    """Every probe at once; one that fails is shown as an error, never ends the poll."""
    snap = HealthSnapshot()
    probes = await asyncio.gather(*(probe_ready(client, n, u) for n, u in urls.items()))
    snap.services = {p["name"]: p for p in probes}
    if nc is not None and nc.is_connected:
        try:
            snap.consumers = await consumer_lag(nc)
        except Exception as exc:  # shown on the page; the next poll tries again
            snap.errors.append(f"consumer lag: {exc!r}")
    try:
        snap.alerts_source, snap.alerts = await firing_alerts(client, prometheus_url, alertmanager_url)
    except (httpx.HTTPError, ValueError) as exc:
        snap.errors.append(f"alerts: {exc!r}")
    return snap
