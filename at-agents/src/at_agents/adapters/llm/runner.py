"""Runs LLM agents: budget check, concurrency cap, timeout, one repair retry, fallback, abstention.

Abstain, never default: a parse failure, timeout, rate limit, provider error, exhausted budget
or a replay-mode cache miss makes the agent abstain with the reason; nothing here invents a view.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic_ai import Agent as PaiAgent
from pydantic_ai import BinaryContent, UsageLimits
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    ModelRateLimitError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from at_agents.adapters.llm.providers import ProviderConfig, output_spec
from at_agents.adapters.llm.recorder import LlmCache, RecordingModel
from at_agents.domain.analysis import Analysis
from at_agents.domain.budget import Budget, BudgetLedger
from at_agents.domain.llm_analyst import LlmAgentSpec, LlmInputs, LlmView, to_analysis
from at_agents.errors import ReplayCacheMiss
from at_core.events import SignalEvent
from at_core.metrics import Metrics
from at_core.runtime.logging import get_logger

log = get_logger("at_agents.llm")

GLOBAL = "global"


@dataclass
class ProviderRuntime:
    """A provider's config, its (recording) model and its concurrency cap."""

    config: ProviderConfig
    model: RecordingModel
    semaphore: asyncio.Semaphore


@dataclass
class LlmRunner:
    providers: dict[str, ProviderRuntime]
    metrics: Metrics
    global_budget: Budget = field(default_factory=Budget)
    ledger: BudgetLedger = field(default_factory=BudgetLedger)
    _agents: dict[tuple[str, str], PaiAgent[None, LlmView]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        configs: list[ProviderConfig],
        models: dict[str, Model],
        cache: LlmCache,
        metrics: Metrics,
        *,
        replay: bool,
        global_budget: Budget,
    ) -> LlmRunner:
        """Wrap each provider's model in the recorder and give it its semaphore."""
        schema = LlmView.model_json_schema()
        providers = {
            c.name: ProviderRuntime(
                c,
                RecordingModel(
                    models[c.name],
                    cache,
                    provider=c.kind,
                    model=c.model,
                    settings=c.settings(),
                    schema=schema,
                    mode=c.mode,
                    replay=replay,
                ),
                asyncio.Semaphore(c.max_concurrency),
            )
            for c in configs
        }
        return cls(providers, metrics, global_budget)

    def _agent(self, spec: LlmAgentSpec, provider: ProviderRuntime) -> PaiAgent[None, LlmView]:
        key = (spec.agent_id, provider.config.name)
        if key not in self._agents:
            self._agents[key] = PaiAgent(
                provider.model,
                output_type=output_spec(provider.config.mode, LlmView),
                instructions=spec.prompt.text,
                retries={"output": 1, "tools": 1},  # one repair retry that shows the validation error
                model_settings=provider.config.model_settings(provider.model.schema),  # type: ignore[arg-type]
            )
        return self._agents[key]

    async def analyze(self, spec: LlmAgentSpec, signal: SignalEvent, inputs: LlmInputs, now_ns: int) -> Analysis:
        """One agent's view: the primary provider, then the fallback; else an abstention with every reason."""
        reasons = []
        spent = _Spent()
        tried: ProviderRuntime | None = None
        for name in [spec.provider] + ([spec.fallback] if spec.fallback else []):
            provider = self.providers.get(name)
            if provider is None:
                reasons.append(f"{name}: provider not configured")
                continue
            refusal = self.ledger.refusal(spec.agent_id, spec.budget, now_ns) or self.ledger.refusal(
                GLOBAL, self.global_budget, now_ns
            )
            if refusal is not None:
                scope = GLOBAL if refusal.startswith(GLOBAL) else "agent"
                self.metrics.counter("llm_budget_refusals_total").labels(spec.agent_id, scope).inc()
                log.warning("llm_budget_refused", agent_id=spec.agent_id, reason=refusal)
                return spent.stamp(self._abstain(spec, provider, inputs, f"budget: {refusal}"))
            tried = provider
            outcome = await self._call(spec, provider, signal, inputs, now_ns, spent)
            if isinstance(outcome, Analysis):
                return spent.stamp(outcome)
            reasons.append(f"{provider.config.label}: {outcome}")
        return spent.stamp(self._abstain(spec, tried, inputs, "; ".join(reasons)[:1000]))

    async def _call(
        self,
        spec: LlmAgentSpec,
        provider: ProviderRuntime,
        signal: SignalEvent,
        inputs: LlmInputs,
        now_ns: int,
        spent: _Spent,
    ) -> Analysis | str:
        """One provider's answer, or why not; every token the server counted is spent, answer or not."""
        usage = RunUsage()
        try:
            return await self._attempt(spec, provider, signal, inputs, usage)
        finally:
            self._spend(spec, provider.config, usage, now_ns, spent)

    async def _attempt(
        self, spec: LlmAgentSpec, provider: ProviderRuntime, signal: SignalEvent, inputs: LlmInputs, usage: RunUsage
    ) -> Analysis | str:
        cfg = provider.config
        labels = (cfg.kind, cfg.model)
        # Text alone goes as a plain string: some chat templates (llama.cpp's Jinja ones) cannot
        # render OpenAI's list-of-parts content; a list only when images go with it.
        content: str | list[Any] = inputs.text
        if cfg.images and inputs.images:
            content = [inputs.text] + [BinaryContent(data=data, media_type=media) for data, media in inputs.images]
        started = time.perf_counter()
        try:
            async with provider.semaphore:
                result = await asyncio.wait_for(
                    self._agent(spec, provider).run(
                        content,
                        usage_limits=UsageLimits(request_limit=3, total_tokens_limit=spec.max_tokens_per_call),
                        usage=usage,  # filled in place, so a failed attempt's tokens are counted too
                    ),
                    cfg.timeout_s,
                )
        except TimeoutError:
            self.metrics.counter("llm_timeouts_total").labels(spec.agent_id, cfg.kind, cfg.model).inc()
            return f"timeout after {cfg.timeout_s}s"
        except ReplayCacheMiss as exc:
            self.metrics.counter("llm_errors_total").labels(spec.agent_id, cfg.kind, cfg.model, "replay_miss").inc()
            log.error("llm_replay_cache_miss", agent_id=spec.agent_id, key=exc.key)
            return f"replay mode: {exc}"
        except UsageLimitExceeded as exc:
            self.metrics.counter("llm_errors_total").labels(spec.agent_id, cfg.kind, cfg.model, "usage_limit").inc()
            return f"usage limit: {exc}"
        except UnexpectedModelBehavior as exc:
            self.metrics.counter("llm_parse_failures_total").labels(spec.agent_id, cfg.kind, cfg.model).inc()
            return f"invalid output after one repair: {str(exc)[:300]}"
        except (ModelRateLimitError, ModelHTTPError, ModelAPIError) as exc:
            kind = "rate_limited" if _is_rate_limit(exc) else "provider_error"
            self.metrics.counter("llm_errors_total").labels(spec.agent_id, cfg.kind, cfg.model, kind).inc()
            return f"{kind.replace('_', ' ')}: {str(exc)[:300]}"
        except Exception as exc:  # a provider SDK can raise its own types: still an abstention
            self.metrics.counter("llm_errors_total").labels(spec.agent_id, cfg.kind, cfg.model, "error").inc()
            log.exception("llm_call_failed", agent_id=spec.agent_id)
            return f"error: {exc!r}"[:300]
        self.metrics.histogram("llm_latency_seconds").labels(*labels).observe(time.perf_counter() - started)
        view = to_analysis(result.output, signal)
        return view.model_copy(
            update={"model": cfg.label, "prompt_version": spec.prompt.version, "inputs_hash": inputs.inputs_hash}
        )

    def _spend(self, spec: LlmAgentSpec, cfg: ProviderConfig, usage: RunUsage, now_ns: int, spent: _Spent) -> None:
        tokens_in, tokens_out = usage.input_tokens or 0, usage.output_tokens or 0
        if tokens_in == 0 and tokens_out == 0:
            return
        cost = cfg.cost(tokens_in, tokens_out)
        spent.add(tokens_in, tokens_out, cost)
        self.ledger.record(spec.agent_id, now_ns, tokens_in + tokens_out, cost)
        self.ledger.record(GLOBAL, now_ns, tokens_in + tokens_out, cost)
        labels = (cfg.kind, cfg.model)
        self.metrics.counter("llm_tokens_total").labels(*labels, "input").inc(tokens_in)
        self.metrics.counter("llm_tokens_total").labels(*labels, "output").inc(tokens_out)
        self.metrics.counter("llm_cost_total").labels(*labels).inc(float(cost))

    def _abstain(
        self, spec: LlmAgentSpec, provider: ProviderRuntime | None, inputs: LlmInputs, reason: str
    ) -> Analysis:
        return Analysis.abstain(reason).model_copy(
            update={
                "model": provider.config.label if provider else None,
                "prompt_version": spec.prompt.version,
                "inputs_hash": inputs.inputs_hash,
            }
        )


@dataclass
class _Spent:
    """Tokens and cost of one agent's answer over every attempt (repairs, fallback), as the servers counted."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)

    def add(self, tokens_in: int, tokens_out: int, cost: Decimal) -> None:
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        self.cost += cost

    def stamp(self, view: Analysis) -> Analysis:
        if not (self.input_tokens or self.output_tokens):
            return view
        return view.model_copy(
            update={"input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "cost": self.cost}
        )


def _is_rate_limit(exc: Exception) -> bool:
    return isinstance(exc, ModelRateLimitError) or getattr(exc, "status_code", None) == 429
