"""Metrics of at-exec-sim. Add a spec here before using a metric in the service."""

from at_core.metrics.catalog import LATENCY_BUCKETS_S, MetricCatalog, MetricSpec

SLIPPAGE_TICK_BUCKETS = (-5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)

CATALOG = MetricCatalog(
    service="exec_sim",
    own=(
        MetricSpec("risk_decisions_total", "counter", "Risk decisions by outcome", ("account_id", "approved")),
        MetricSpec("denials_total", "counter", "Denied orders by reason code", ("reason",)),
        MetricSpec("fills_total", "counter", "Fills by venue and instrument", ("venue", "instrument_id")),
        MetricSpec(
            "contract_expiry_warnings_total",
            "counter",
            "Warnings that a held futures contract nears its last trade date",
            ("account_id", "instrument_id"),
        ),
        MetricSpec(
            "slippage_ticks",
            "histogram",
            "Fill price against arrival price, in ticks (> 0 is worse)",
            ("venue", "instrument_id"),
            SLIPPAGE_TICK_BUCKETS,
        ),
        MetricSpec(
            "slippage_amount",
            "histogram",
            "Slippage in account currency per fill",
            ("venue", "instrument_id"),
            (-50.0, -10.0, 0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 500.0),
        ),
        MetricSpec(
            "signal_to_fill_seconds",
            "histogram",
            "Signal ts_event to fill, by venue",
            ("venue", "instrument_id"),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec(
            "proposal_to_fill_seconds",
            "histogram",
            "Proposal received to fill published",
            ("venue", "instrument_id"),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec("open_positions", "gauge", "Open positions per account", ("account_id",)),
        MetricSpec("equity", "gauge", "Account equity in account currency", ("account_id",)),
        MetricSpec(
            "rule_headroom", "gauge", "Distance from each rule's floor, account currency", ("account_id", "rule")
        ),
        MetricSpec(
            "rule_headroom_ratio",
            "gauge",
            "Headroom as a fraction of the rule's limit (1 = untouched)",
            ("account_id", "rule"),
        ),
        MetricSpec(
            "trading_halted",
            "gauge",
            "1 when the account is halted (breach, kill switch); a session lock is 0",
            ("account_id",),
        ),
        MetricSpec(
            "unpublished_events",
            "gauge",
            "Outputs applied but not yet taken by JetStream; published before any later input",
            (),
        ),
        MetricSpec(
            "broker_mismatch",
            "gauge",
            "1 while exec-sim's positions or balance differ from the broker's (seen on two checks in a row)",
            ("account_id", "venue", "kind"),
        ),
        MetricSpec(
            "broker_checks_failed_total",
            "counter",
            "Position or balance checks against a broker that could not be made (the broker did not answer)",
            ("venue",),
        ),
        MetricSpec(
            "broker_rate_limited_total",
            "counter",
            "Broker answers that said slow down: an HTTP 429 or a Tradovate penalty ticket",
            ("venue", "answer"),
        ),
        MetricSpec(
            "broker_budget_waits_total",
            "counter",
            "Requests held by the client-side request budget before they were sent",
            ("venue",),
        ),
        MetricSpec("broker_token_renewals_total", "counter", "Broker session tokens renewed", ("venue",)),
        MetricSpec(
            "broker_token_failures_total",
            "counter",
            "Broker logins or token renewals refused or failed (credentials revoked, broker down)",
            ("venue",),
        ),
        MetricSpec(
            "broker_realtime_connects_total",
            "counter",
            "Connections (first and every reconnect) of a broker's real-time socket",
            ("venue",),
        ),
        MetricSpec(
            "broker_request_errors_total",
            "counter",
            "Broker requests that failed: transport error, 5xx, or an answer that could not be read",
            ("venue", "kind"),
        ),
        MetricSpec(
            "broker_orphan_cancels_total",
            "counter",
            "Cancels sent to a broker for orders exec-sim ended (an OCO sibling, an orphaned bracket child, "
            "an entry's unfilled rest), by outcome: canceled, refused (ended there already), failed (may still rest)",
            ("venue", "outcome"),
        ),
        MetricSpec(
            "broker_child_modifies_total",
            "counter",
            "Resizes and trailing moves of bracket children carried to a broker, by outcome: modified, "
            "refused, failed, unsupported (the child keeps its old size or price there)",
            ("venue", "outcome"),
        ),
        MetricSpec(
            "broker_orders_unknown_total",
            "counter",
            "Orders whose state at an external broker is unknown until reconciled",
            ("venue", "account_id"),
        ),
    ),
)
