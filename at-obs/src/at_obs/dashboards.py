"""Grafana dashboards as code: panel titles and PromQL, rendered to JSON under at-obs/grafana/dashboards.

``python -m at_obs.dashboards`` rewrites them; a test fails when the committed JSON is stale,
when a query does not parse (promtool), or when it names a metric no service registers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: "0 when none": a venue that never had a failure has no series (prometheus_client exposes a
#: labelled counter once it moved), and a paper-only stack has no broker venue at all.
NONE_IS_ZERO = " or on() vector(0)"

#: The broker-health row of the trading overview (exec-sim's external venues: ProjectX, Tradovate).
BROKER_HEALTH: list[tuple[str, str]] = [
    (
        "Broker mismatch (1 = positions or balance differ)",
        "max by (account_id, venue, kind) (at_exec_sim_broker_mismatch)" + NONE_IS_ZERO,
    ),
    (
        "Broker checks that could not be made /min",
        "sum by (venue) (rate(at_exec_sim_broker_checks_failed_total[5m])) * 60" + NONE_IS_ZERO,
    ),
    (
        "Broker rate limits /min (HTTP 429, penalty)",
        "sum by (venue, answer) (rate(at_exec_sim_broker_rate_limited_total[5m])) * 60" + NONE_IS_ZERO,
    ),
    (
        "Requests held by the client-side budget /min",
        "sum by (venue) (rate(at_exec_sim_broker_budget_waits_total[5m])) * 60" + NONE_IS_ZERO,
    ),
    (
        "Broker request errors /min",
        "sum by (venue, kind) (rate(at_exec_sim_broker_request_errors_total[5m])) * 60" + NONE_IS_ZERO,
    ),
    (
        "Broker orphan cancels /min",
        "sum by (venue, outcome) (rate(at_exec_sim_broker_orphan_cancels_total[5m])) * 60" + NONE_IS_ZERO,
    ),
    (
        "Broker bracket child modifies /min",
        "sum by (venue, outcome) (rate(at_exec_sim_broker_child_modifies_total[5m])) * 60" + NONE_IS_ZERO,
    ),
    (
        "Broker real-time connects (10m)",
        "sum by (venue) (increase(at_exec_sim_broker_realtime_connects_total[10m]))" + NONE_IS_ZERO,
    ),
    (
        "Broker token renewals (1h)",
        "sum by (venue) (increase(at_exec_sim_broker_token_renewals_total[1h]))" + NONE_IS_ZERO,
    ),
    (
        "Broker token failures (1h)",
        "sum by (venue) (increase(at_exec_sim_broker_token_failures_total[1h]))" + NONE_IS_ZERO,
    ),
]

DASHBOARDS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "trading-overview": (
        "Trading overview",
        [
            ("Signals accepted /min", "sum by (account_id) (rate(at_gateway_signals_accepted_total[5m])) * 60"),
            ("Proposals /min", "sum by (committee) (rate(at_agents_proposals_total[5m])) * 60"),
            ("Risk decisions /min", "sum by (approved) (rate(at_exec_sim_risk_decisions_total[5m])) * 60"),
            ("Fills /min", "sum by (instrument_id) (rate(at_exec_sim_fills_total[5m])) * 60"),
            ("Equity", "at_exec_sim_equity"),
            ("Open positions", "at_exec_sim_open_positions"),
            (
                "Drawdown headroom (fraction of limit left)",
                "min by (account_id, rule) (at_exec_sim_rule_headroom_ratio)",
            ),
            ("Trading halted", "at_exec_sim_trading_halted"),
            ("Denials by reason /min", "sum by (reason) (rate(at_exec_sim_denials_total[5m])) * 60"),
            *BROKER_HEALTH,
        ],
    ),
    "latency-slippage": (
        "Latency and slippage",
        [
            (
                "Webhook to durable p99 (s)",
                "histogram_quantile(0.99, sum by (le, route) (rate(at_gateway_receive_to_durable_seconds_bucket[5m])))",
            ),
            (
                "Signal to proposal p99 (s)",
                "histogram_quantile(0.99, sum by (le) (rate(at_agents_signal_to_proposal_seconds_bucket[5m])))",
            ),
            (
                "Proposal to fill p99 (s)",
                "histogram_quantile(0.99, sum by (le) (rate(at_exec_sim_proposal_to_fill_seconds_bucket[5m])))",
            ),
            (
                "Signal to fill p99 (s)",
                "histogram_quantile(0.99, sum by (le) (rate(at_exec_sim_signal_to_fill_seconds_bucket[5m])))",
            ),
            (
                "Slippage p90 (ticks)",
                "histogram_quantile(0.9, sum by (le, instrument_id) (rate(at_exec_sim_slippage_ticks_bucket[15m])))",
            ),
            # prometheus_client exposes no _sum for a histogram with negative buckets (price
            # improvement is negative slippage), so the cost is read from the buckets.
            (
                "Slippage cost per fill p90 (account currency)",
                "histogram_quantile(0.9, sum by (le, instrument_id) (rate(at_exec_sim_slippage_amount_bucket[15m])))",
            ),
        ],
    ),
    "gateway": (
        "Gateway",
        [
            ("Requests by status /s", "sum by (status) (rate(at_gateway_http_requests_total[5m]))"),
            ("Auth failures by reason /min", "sum by (reason) (rate(at_gateway_auth_failures_total[5m])) * 60"),
            ("Rejected by reason /min", "sum by (reason) (rate(at_gateway_rejected_total[5m])) * 60"),
            ("Duplicates /min", "sum(rate(at_gateway_duplicates_total[5m])) * 60"),
            ("Stale alerts /min", "rate(at_gateway_stale_alerts_total[5m]) * 60"),
            ("Placeholder rejects /min", "rate(at_gateway_placeholder_rejects_total[5m]) * 60"),
            ("Outbox depth", "at_gateway_outbox_depth"),
            ("Publish errors /min", "rate(at_gateway_publish_errors_total[5m]) * 60"),
            ("Alerts in the last 3 minutes (TradingView stops at 15)", "at_gateway_alerts_last_3m"),
        ],
    ),
    "agents": (
        "Agents",
        [
            (
                "Decisions by agent and stance /min",
                "sum by (agent_id, stance) (rate(at_agents_decisions_total[5m])) * 60",
            ),
            (
                "Agent latency p99 (s)",
                "histogram_quantile(0.99, sum by (le, agent_id) (rate(at_agents_agent_latency_seconds_bucket[5m])))",
            ),
            ("Agents dropped /min", "sum by (agent_id, reason) (rate(at_agents_agent_dropped_total[5m])) * 60"),
            ("Proposals vs none /min", "sum(rate(at_agents_proposals_total[5m])) * 60"),
            ("Signals without a proposal /min", "sum(rate(at_agents_no_proposal_total[5m])) * 60"),
        ],
    ),
    "nats-jetstream": (
        "NATS and JetStream",
        [
            ("Stream messages", "at_obs_jetstream_stream_messages"),
            ("Stream bytes", "at_obs_jetstream_stream_bytes"),
            ("Consumer pending (lag)", "at_obs_jetstream_consumer_pending"),
            ("Consumer ack pending", "at_obs_jetstream_consumer_ack_pending"),
            ("Redeliveries", "at_obs_jetstream_consumer_redelivered"),
            ("Events published /s (gateway)", "sum by (event_type) (rate(at_gateway_events_published_total[5m]))"),
            ("Events consumed /s (exec-sim)", "sum by (event_type) (rate(at_exec_sim_events_consumed_total[5m]))"),
            (
                "NATS connected",
                "at_gateway_nats_connected or at_agents_nats_connected or at_exec_sim_nats_connected or at_obs_nats_connected",
            ),
            ("Audit records /s", "sum(rate(at_obs_audit_records_total[5m]))"),
        ],
    ),
}


def render(uid: str) -> dict:
    title, panels = DASHBOARDS[uid]
    return {
        "uid": f"at-{uid}",
        "title": title,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "tags": ["agentic-trading"],
        "time": {"from": "now-1h", "to": "now"},
        "panels": [
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": {"type": "prometheus", "uid": "prometheus"},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
                "targets": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus", "uid": "prometheus"}}],
            }
            for i, (panel_title, expr) in enumerate(panels)
        ],
    }


def write(directory: Path) -> list[Path]:
    paths = []
    for uid in DASHBOARDS:
        path = directory / f"{uid}.json"
        path.write_text(json.dumps(render(uid), indent=2) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
    for p in write(target):
        print(f"wrote {p}")
