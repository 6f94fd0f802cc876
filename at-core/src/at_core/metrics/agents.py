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
        MetricSpec(
            "bar_signals_total",
            "counter",
            "Signals a bar-driven strategy generated from market data (AT_AGENTS_BAR_SIGNALS), by generator",
            ("generator",),
        ),
        MetricSpec("no_proposal_total", "counter", "Signals that produced no proposal, by committee", ("committee",)),
        MetricSpec(
            "signal_to_proposal_seconds",
            "histogram",
            "Signal received to proposal published",
            ("committee",),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec(
            "llm_latency_seconds",
            "histogram",
            "LLM call latency (including SDK retries), by provider and model",
            ("provider", "model"),
            LATENCY_BUCKETS_S,
        ),
        MetricSpec(
            "llm_tokens_total",
            "counter",
            "LLM tokens by provider, model and direction",
            ("provider", "model", "direction"),
        ),
        MetricSpec(
            "llm_cost_total", "counter", "LLM cost (configured prices) by provider and model", ("provider", "model")
        ),
        MetricSpec(
            "llm_parse_failures_total",
            "counter",
            "LLM answers still invalid after the repair retry",
            ("agent_id", "provider", "model"),
        ),
        MetricSpec("llm_timeouts_total", "counter", "LLM calls that timed out", ("agent_id", "provider", "model")),
        MetricSpec(
            "llm_errors_total",
            "counter",
            "LLM calls that failed (rate_limited, provider_error, usage_limit, replay_miss, error)",
            ("agent_id", "provider", "model", "kind"),
        ),
        MetricSpec(
            "llm_budget_refusals_total",
            "counter",
            "LLM calls refused before they were made because a budget was exhausted",
            ("agent_id", "scope"),
        ),
        MetricSpec("memory_entries", "gauge", "Entries held in agent memory", ()),
        MetricSpec("mcp_proposals_total", "counter", "propose_trade calls over MCP by outcome", ("outcome",)),
    ),
)
