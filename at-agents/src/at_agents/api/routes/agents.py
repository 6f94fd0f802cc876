"""Agents, committees and recent decisions (health and metrics: ``health.py`` and the kit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from at_agents.api.deps import ServiceDep

router = APIRouter(tags=["agents"])


@router.get("/agents")
async def agents(svc: ServiceDep) -> dict[str, Any]:
    """Configured agents with their health, and committees with their members and rule."""
    return {
        "agents": [
            {"agent_id": a, "kind": agent.kind, "health": svc.health.get(a, "unknown")}
            for a, agent in svc.agents.items()
        ]
        + [
            {
                "agent_id": a,
                "kind": "llm",
                "health": svc.health.get(a, "unknown"),
                "provider": spec.provider,
                "fallback": spec.fallback,
                "prompt_version": spec.prompt.version,
            }
            for a, spec in svc.llm_agents.items()
        ],
        "committees": [
            {
                "name": c.name,
                "strategies": s,
                "rule": c.rule,
                "threshold": str(c.threshold),
                "deadline_s": c.deadline_s,
                "members": [{"agent_id": m.agent_id, "weight": str(m.weight), "veto": m.veto} for m in c.members],
                "max_quantity": {k: str(v) for k, v in c.max_quantity.items()},
            }
            for s, c in svc.committees
        ],
    }


@router.get("/decisions")
async def decisions(svc: ServiceDep, symbol: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Recent decisions (newest first), optionally for one instrument id, with every agent's view."""
    rows = [d for d in reversed(svc.decisions) if symbol is None or d["instrument_id"] == symbol]
    return [d.as_json() for d in rows[:limit]]
